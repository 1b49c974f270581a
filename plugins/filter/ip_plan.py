# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smbvdc.datacenter developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: ip_plan
short_description: The branch's address plan, or the reverse zones of a subnet
version_added: 0.1.0
description:
  - Given a branch model, returns every network (subnet, gateway, reverse zones) and every
    host's static addresses with their PTR names.
  - Given a subnet string, returns the reverse zones that serve it, including RFC 2317
    classless zones for IPv4 prefixes longer than /24 and nibble-aligned IPv6 zones.
requirements:
  - netaddr
options:
  _input:
    description: A branch model, or a subnet in CIDR form.
    type: raw
    required: true
"""

EXAMPLES = r"""
- name: Address of the mail VM
  ansible.builtin.debug:
    msg: "{{ (smbvdc_model | smbvdc.datacenter.ip_plan).hosts.mail.ipv4 }}"

- name: Reverse zones of an ISP's /25
  ansible.builtin.debug:
    msg: "{{ '198.51.100.128/25' | smbvdc.datacenter.ip_plan }}"
"""

RETURN = r"""
_value:
  description:
    - For a model, C(networks) (name to subnet, gateway, reverse zones) and C(hosts)
      (name to C(network), C(ipv4), C(ipv6), C(ptr4), C(ptr6), C(fqdn), C(kind)).
    - For a subnet, a list of C({zone, network, classless, parent}).
  type: raw
"""

from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import ipplan
from ansible_collections.smbvdc.datacenter.plugins.plugin_utils.filters import filter_module, smbvdc_filter


@smbvdc_filter
def ip_plan(data):
    if isinstance(data, str):
        return ipplan.reverse_zones(data)
    if isinstance(data, dict) and "networks" in data and "vms" in data:
        hosts = {}
        for name, v in data["vms"].items():
            hosts[name] = {"kind": "vm", "network": v["network"], "ipv4": v["ipv4"], "ipv6": v["ipv6"],
                           "ptr4": v["ptr4"], "ptr6": v["ptr6"], "fqdn": v["fqdn"]}
        for name, k in data["kvm_hosts"].items():
            for net, a in sorted(k.get("addresses", {}).items()):
                hosts.setdefault(name, {"kind": "kvm_host", "network": net, "ipv4": a["ipv4"], "ipv6": a["ipv6"],
                                        "ptr4": ipplan.reverse_pointer(a["ipv4"]) if a["ipv4"] else None,
                                        "ptr6": ipplan.reverse_pointer(a["ipv6"]) if a["ipv6"] else None,
                                        "fqdn": k["fqdn"]})
        return {"networks": data["networks"], "hosts": dict(sorted(hosts.items()))}
    raise ValueError("input must be a branch model or a subnet string, got %r" % (data,))


FilterModule = filter_module(ip_plan)
