# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smbvdc.datacenter developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: branch_preflight
short_description: Run every layer's derivation that can fail and check every role's variables before any host changes
version_added: 0.2.0
description:
  - Builds every DNS zone, checks the DNS servers' TSIG settings and validates each mail host's
    mailboxes and aliases (C(mail_mailboxes) + C(mail_group_mailboxes) + C(mail_host_mailboxes), and the same
    for aliases) on the controller.
  - Checks every role variable the inventory sets for a host the role will run on (C(services.ROLE_TARGETS)) against
    the role's C(meta/argument_specs.yml) with Ansible's own argument spec validator (type, choices, the keys of
    list entries; a string is not a list), and the rules between values that argument_specs cannot express
    (ranges, paths, patterns, values the model must know). A value that needs facts is left to the role.
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
  description:
    - C(zones) (the zone names that will be served), C(checked) (what was checked) and C(warnings) (what would
      stop a layer later but is not wrong in itself, e.g. a Moodle VM without a release archive).
  type: dict
"""

from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import preflight
from ansible_collections.smbvdc.datacenter.plugins.plugin_utils.filters import filter_module, smbvdc_filter


@smbvdc_filter(needs=("services",))
def branch_preflight(model, hostvars):
    return preflight.check_layers(model, hostvars)


FilterModule = filter_module(branch_preflight)
