# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smbvdc.datacenter developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: inventory_lint
short_description: YAML syntax errors and duplicate keys in an inventory's files, with file and line
version_added: 0.2.0
description:
  - Reads the inventory sources (files, or directories with their C(group_vars) and C(host_vars)) with a
    strict YAML loader.
  - Ansible only warns about a key given twice in one mapping and keeps the last value, and turns a YAML
    syntax error in C(hosts.yml) into an empty inventory plus a warning; this filter names the file and line.
  - Vault-encrypted files are skipped; C(!vault) and C(!unsafe) values are accepted.
options:
  _input:
    description: The inventory sources, usually C(ansible_inventory_sources).
    type: list
    elements: str
    required: true
"""

EXAMPLES = r"""
- name: Check the inventory's own files
  ansible.builtin.assert:
    that: ansible_inventory_sources | smbvdc.datacenter.inventory_lint | length == 0
"""

RETURN = r"""
_value:
  description: "One message per problem (C(<file>:<line>: ... Fix: ...)); empty when the files are clean."
  type: list
  elements: str
"""

from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import preflight
from ansible_collections.smbvdc.datacenter.plugins.plugin_utils.filters import filter_module, smbvdc_filter


@smbvdc_filter
def inventory_lint(sources):
    if isinstance(sources, str):
        sources = [sources]
    if not isinstance(sources, (list, tuple)):
        raise TypeError("input must be a list of inventory paths")
    return preflight.lint_inventory([str(s) for s in sources])


FilterModule = filter_module(inventory_lint)
