# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smbvdc.datacenter developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: kvm_capacity_check
short_description: The model's plan for one KVM host against its live capacity
version_added: 0.3.0
description:
  - Compares what the branch model places on a KVM host with what M(smbvdc.datacenter.kvm_host_info) reads there.
    It checks RAM and CPUs against the inventory's C(kvm_memory_mb)/C(kvm_vcpus), the storage pool against the disks
    still to create (system and data disks of new VMs, and data disks a defined VM does not have yet), and the
    available memory against the VMs still to create (with C(vm_overhead_mb) each).
  - Returns the problems (each naming the variable and the fix) and warnings about domains the model does not know.
options:
  _input:
    description: The branch model.
    type: dict
    required: true
  host:
    description: The KVM host (inventory name).
    type: str
    required: true
  live:
    description: The C(kvm_host) result of M(smbvdc.datacenter.kvm_host_info).
    type: dict
    required: true
  pool:
    description: Name of the storage pool the VM disks go to.
    type: str
    required: true
  margin_mb:
    description: MiB of available memory to keep free.
    type: int
    default: 512
  tolerance_pct:
    description: How far the declared kvm_memory_mb may exceed MemTotal, in percent.
    type: int
    default: 5
"""

EXAMPLES = r"""
- name: Check the plan against the live capacity
  ansible.builtin.assert:
    that: __check.problems | length == 0
    fail_msg: "{{ __check.problems | join(' ') }}"
  vars:
    __check: "{{ smbvdc_model | smbvdc.datacenter.kvm_capacity_check(inventory_hostname, info.kvm_host, 'smbvdc') }}"
"""

RETURN = r"""
_value:
  description:
    - C(problems), C(warnings), C(new_vms), C(new_vms_mb), C(new_vms_gb), C(new_data_disks), C(foreign).
    - C(new_vms_gb) is the GiB of every disk still to create; C(new_data_disks) names the data disks of defined
      VMs among them (C(<vm>:<disk>)).
  type: dict
"""

from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import budget
from ansible_collections.smbvdc.datacenter.plugins.plugin_utils.filters import filter_module, smbvdc_filter


@smbvdc_filter(needs=("kvm_hosts", "vms"))
def kvm_capacity_check(model, host, live, pool, margin_mb=512, tolerance_pct=5):
    return budget.live_check(model, str(host), live, str(pool), int(margin_mb), int(tolerance_pct))


FilterModule = filter_module(kvm_capacity_check)
