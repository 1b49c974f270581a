# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smbvdc.datacenter developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: dns_zones
short_description: The branch's forward and reverse zones computed from the branch model
version_added: 0.1.0
description:
  - Forward zones for the branch domain and every mail domain (NS with glue, A/AAAA for every
    host, service names, MX, SPF, DMARC, DKIM when keys are given, verification TXT, CAA, user
    records) and reverse zones for every network (IPv4 incl. RFC 2317 classless, IPv6).
  - Conflicting records (CNAME beside other data, CNAME at the apex, duplicate PTR) fail naming the variable.
requirements:
  - dnspython
  - netaddr
options:
  _input:
    description: The branch model.
    type: dict
    required: true
  dkim_keys:
    description: "C({domain: {selector, public_key}}) published as C(<selector>._domainkey)."
    type: dict
"""

EXAMPLES = r"""
- name: Zones of the branch
  ansible.builtin.set_fact:
    nsd_zones: "{{ smbvdc_model | smbvdc.datacenter.dns_zones(dkim_keys=mail_dkim_keys | default({})) }}"
"""

RETURN = r"""
_value:
  description: "Zone name to C({kind, origin, records}); records are C([owner, type, ttl, value, variable])."
  type: dict
"""

from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import dns
from ansible_collections.smbvdc.datacenter.plugins.plugin_utils.filters import filter_module, smbvdc_filter


@smbvdc_filter(needs=("services",))
def dns_zones(model, dkim_keys=None):
    zones = dns.build_zones(model, dkim_keys or {})
    return {name: dict(z, records=[list(r) for r in z["records"]]) for name, z in zones.items()}


FilterModule = filter_module(dns_zones)
