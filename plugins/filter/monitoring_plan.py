# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smbvdc.datacenter developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: monitoring_plan
short_description: The Nagios hosts, services, commands and NRPE commands the branch implies
version_added: 0.3.0
description:
  - Derives from the branch model's service groups what the monitoring server checks (active checks and the fixed NRPE commands of every monitored host); see docs/monitoring.md.
options:
  _input:
    description: The branch model (C(smbvdc_model), from C(smbvdc.datacenter.branch_model)).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: What the branch derives
  ansible.builtin.debug:
    msg: "{{ (smbvdc_model | smbvdc.datacenter.monitoring_plan).services | map(attribute='description') }}"
"""

RETURN = r"""
_value:
  description: A mapping with the keys server, server_address, settings, hosts, commands, services, nrpe, plugins, warnings (docs/architecture.md).
  type: dict
"""

from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import checks
from ansible_collections.smbvdc.datacenter.plugins.plugin_utils.filters import filter_module, smbvdc_filter


@smbvdc_filter
def monitoring_plan(model):
    return checks.monitoring_plan(model)


FilterModule = filter_module(monitoring_plan)
