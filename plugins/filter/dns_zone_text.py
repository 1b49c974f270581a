# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smbvdc.datacenter developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: dns_zone_text
short_description: Zone-file text of one zone, with a serial that changes only when the content changes
version_added: 0.1.0
description:
  - Renders one zone from P(smbvdc.datacenter.dns_zones#filter) as an NSD zone file.
  - The SOA serial is C(YYYYMMDDnn); it is kept when the content (hashed into a comment line)
    equals that of O(previous), else it becomes today's first serial or one more than the previous.
options:
  _input:
    description: One zone from P(smbvdc.datacenter.dns_zones#filter).
    type: dict
    required: true
  model:
    description: The branch model (SOA settings, primary name server).
    type: dict
    required: true
  previous:
    description: The text of the zone file currently installed, or an empty string.
    type: str
    default: ""
  header:
    description: Comment lines to put first (for example C(ansible_managed | comment)).
    type: str
    default: ""
"""

EXAMPLES = r"""
- name: Zone file text
  ansible.builtin.set_fact:
    text: "{{ nsd_zones['lab.smbvdc.test'] | smbvdc.datacenter.dns_zone_text(smbvdc_model, previous=old_text) }}"
"""

RETURN = r"""
_value:
  description: The zone file.
  type: str
"""

from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import dns
from ansible_collections.smbvdc.datacenter.plugins.plugin_utils.filters import filter_module, smbvdc_filter


@smbvdc_filter
def dns_zone_text(zone, model, previous="", header=""):
    if not isinstance(zone, dict) or "records" not in zone or "origin" not in zone:
        raise ValueError("input must be one zone of dns_zones")
    return dns.render_zone(zone, model, previous_text=previous or "", header=header or "")


FilterModule = filter_module(dns_zone_text)
