# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smbvdc.datacenter developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: backup_plan
short_description: The Amanda clients and disk lists the branch implies
version_added: 0.3.0
description:
  - Derives from the branch model's service groups what the backup server backs up on every VM (disk list entries, the MariaDB dump hook); see docs/backups.md.
options:
  _input:
    description: The branch model (C(smbvdc_model), from C(smbvdc.datacenter.branch_model)).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: What the branch derives
  ansible.builtin.debug:
    msg: "{{ (smbvdc_model | smbvdc.datacenter.backup_plan).clients | map(attribute='dles') }}"
"""

RETURN = r"""
_value:
  description: A mapping with the keys server, server_fqdn, server_address, config, settings, clients (docs/architecture.md).
  type: dict
"""

from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import checks
from ansible_collections.smbvdc.datacenter.plugins.plugin_utils.filters import filter_module, smbvdc_filter


@smbvdc_filter
def backup_plan(model):
    return checks.backup_plan(model)


FilterModule = filter_module(backup_plan)
