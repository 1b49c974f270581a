# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smbvdc.datacenter developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: dns_servers
short_description: The branch's primary and secondary DNS servers with their addresses
version_added: 0.1.0
description:
  - From the branch model, the hosts in C(dns_primary) and C(dns_secondary) with their
    fully qualified names and addresses (VMs from the address plan, existing machines
    from C(ansible_host)).
options:
  _input:
    description: The branch model.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Where to send NOTIFY
  ansible.builtin.debug:
    msg: "{{ (smbvdc_model | smbvdc.datacenter.dns_servers).secondaries | map(attribute='ipv4') | flatten }}"
"""

RETURN = r"""
_value:
  description: "C({primary: [...], secondaries: [...]}), each item C({name, fqdn, ipv4, ipv6}) with address lists."
  type: dict
"""

from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import dns
from ansible_collections.smbvdc.datacenter.plugins.plugin_utils.filters import filter_module, smbvdc_filter


@smbvdc_filter(needs=("services",))
def dns_servers(model):
    return dns.server_addresses(model)


FilterModule = filter_module(dns_servers)
