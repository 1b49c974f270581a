# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smbvdc.datacenter developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: capacity_report
short_description: A plain-text capacity table of a branch model
version_added: 0.1.0
description:
  - One row per KVM host (RAM y, reserve y_os, y_a, allocated, free, vCPU and disk use,
    how many more VMs of O(vm_size_mb) fit) and one row per VM (host, size, address, services).
options:
  _input:
    description: A branch model from P(smbvdc.datacenter.branch_model#filter).
    type: dict
    required: true
  vm_size_mb:
    description: VM size for the "how many more fit" column.
    type: int
    default: 1024
"""

EXAMPLES = r"""
- name: Print the capacity plan
  ansible.builtin.debug:
    msg: "{{ smbvdc_model | smbvdc.datacenter.capacity_report }}"
"""

RETURN = r"""
_value:
  description: Lines of text.
  type: list
  elements: str
"""

from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import report
from ansible_collections.smbvdc.datacenter.plugins.plugin_utils.filters import filter_module, smbvdc_filter


@smbvdc_filter(needs=("kvm_hosts",))
def capacity_report(model, vm_size_mb=1024):
    try:
        size = int(vm_size_mb)
    except (TypeError, ValueError):
        size = 0
    if size <= 0:
        raise ValueError("vm_size_mb must be a positive integer, got %r" % (vm_size_mb,))
    return report.capacity_lines(model, size)


FilterModule = filter_module(capacity_report)
