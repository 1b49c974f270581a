# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smbvdc.datacenter developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: service_ports
short_description: Ports a host must open, derived from its service groups
version_added: 0.1.0
description:
  - Maps the inventory groups of a host (C(dns_primary), C(mail), C(web), ...) to
    the listening ports of the services the branch model puts there, plus SSH.
  - Used by the C(smbvdc.datacenter.common) firewall baseline so that exactly
    those ports are opened.
options:
  _input:
    description: The host's groups, usually C(group_names).
    type: list
    elements: str
    required: true
  extra:
    description: Additional ports as a list of C({port, proto, service}) mappings.
    type: list
    elements: dict
  backup_client:
    description: Open the Amanda client port (bsdtcp) as well.
    type: bool
    default: false
  monitored:
    description: Open the NRPE port (5666/tcp) for the branch's monitoring server.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Ports for this host
  ansible.builtin.debug:
    msg: "{{ group_names | smbvdc.datacenter.service_ports }}"
"""

RETURN = r"""
_value:
  description: Sorted list of C({service, port, proto}) mappings, de-duplicated by port and protocol.
  type: list
  elements: dict
"""

from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import services
from ansible_collections.smbvdc.datacenter.plugins.plugin_utils.filters import filter_module, smbvdc_filter


@smbvdc_filter
def service_ports(group_names, extra=None, backup_client=False, monitored=False):
    return services.service_ports(list(group_names or []), extra=extra, backup_client=backup_client,
                                  monitored=monitored)


FilterModule = filter_module(service_ports)
