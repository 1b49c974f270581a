# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smbvdc.datacenter developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: inventory_lint
short_description: Stop with the file and line when group_vars or host_vars hold a YAML error or a key given twice
version_added: 0.2.0
description:
  - Ansible (2.19) stops on a YAML syntax error in C(group_vars) with "YAML parsing failed" and no file name, and only
    warns about a key given twice in one mapping, keeping the last value.
  - This vars plugin reads the C(group_vars) and C(host_vars) next to each inventory source with a strict YAML loader
    before Ansible loads them, and stops with every problem's file, line and fix. It adds no variables.
  - It must be enabled, and listed before C(host_group_vars) so that it runs first, for example in C(ansible.cfg)
    C(vars_plugins_enabled = smbvdc.datacenter.inventory_lint, host_group_vars) (this repository's C(ansible.cfg)
    does). C(playbooks/preflight.yml) checks C(hosts.yml) and the same files without it.
extends_documentation_fragment:
  - vars_plugin_staging
"""

from ansible.errors import AnsibleError
from ansible.plugins.vars import BaseVarsPlugin

from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import preflight


class VarsModule(BaseVarsPlugin):
    _checked = {}

    def get_vars(self, loader, path, entities, cache=True):
        super(VarsModule, self).get_vars(loader, path, entities)
        if path not in self._checked:
            self._checked[path] = preflight.lint_inventory([path], vars_only=True)
        problems = self._checked[path]
        if problems:
            raise AnsibleError("the inventory's variable files are not valid YAML:\n  - " + "\n  - ".join(problems))
        return {}
