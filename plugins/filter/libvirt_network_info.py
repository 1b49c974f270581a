# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smbvdc.datacenter developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: libvirt_network_info
short_description: Read a libvirt network definition (the same parser as the domain definitions)
version_added: 0.3.0
description:
  - Parses the XML of a libvirt network (C(virsh net-dumpxml), or C(community.libvirt.virt_net command=get_xml))
    into C(name), C(forward), C(bridge), C(domain), C(dns_enabled), C(ips) and C(signature).
  - C(libvirt_network_drift(have, want)), in the same file, takes two mappings of network name to XML and
    returns the names whose signature differs.
  - C(signature) holds what decides whether the network must be defined again (forward mode, bridge,
    addresses with prefixes, DHCP, DNS). libvirt adds a uuid, a MAC and defaults; they do not count.
options:
  _input:
    description: The network XML.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Does the network still match
  ansible.builtin.debug:
    msg: "{{ (have_xml | smbvdc.datacenter.libvirt_network_info).signature == (want_xml | smbvdc.datacenter.libvirt_network_info).signature }}"
"""

RETURN = r"""
_value:
  description: C(name), C(uuid), C(forward), C(bridge), C(domain), C(dns_enabled), C(ips) and C(signature).
  type: dict
"""

from ansible_collections.smbvdc.datacenter.plugins.module_utils import domain_xml
from ansible_collections.smbvdc.datacenter.plugins.plugin_utils.filters import filter_module, smbvdc_filter


@smbvdc_filter
def libvirt_network_info(xml):
    return domain_xml.parse_network(str(xml))


@smbvdc_filter
def libvirt_network_drift(have, want):
    """The names in ``have`` (name -> defined XML) whose signature differs from ``want`` (name -> wanted XML)."""
    if not isinstance(have, dict) or not isinstance(want, dict):
        raise TypeError("input and argument must map network names to XML")
    return sorted(name for name, xml in have.items() if name in want
                  and domain_xml.parse_network(str(xml))["signature"]
                  != domain_xml.parse_network(str(want[name]))["signature"])


FilterModule = filter_module(libvirt_network_info, libvirt_network_drift)
