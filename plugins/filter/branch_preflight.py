# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smbvdc.datacenter developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: branch_preflight
short_description: Run every layer's derivation that can fail (zones, TSIG, mail tables) before any host changes
version_added: 0.2.0
description:
  - Builds every DNS zone, checks the DNS servers' TSIG settings and validates each mail host's
    mailboxes and aliases (C(mail_mailboxes) + C(mail_group_mailboxes) + C(mail_host_mailboxes), and the same
    for aliases) on the controller.
  - Fails listing every problem at once, each naming the variable and the fix.
  - Used by C(playbooks/preflight.yml), so that a bad inventory stops before the VM layer runs.
options:
  _input:
    description: The branch model from P(smbvdc.datacenter.branch_model#filter).
    type: dict
    required: true
  hostvars:
    description: Ansible's C(hostvars).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Check every layer's input
  ansible.builtin.set_fact:
    smbvdc_preflight: "{{ smbvdc_model | smbvdc.datacenter.branch_preflight(hostvars) }}"
"""

RETURN = r"""
_value:
  description: C(zones) (the zone names that will be served) and C(checked) (what was checked).
  type: dict
"""

from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import preflight
from ansible_collections.smbvdc.datacenter.plugins.plugin_utils.filters import filter_module, smbvdc_filter


@smbvdc_filter(needs=("services",))
def branch_preflight(model, hostvars):
    return preflight.check_layers(model, hostvars)


FilterModule = filter_module(branch_preflight)
