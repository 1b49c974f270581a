# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smbvdc.datacenter developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: memory_budget
short_description: The memory budget of KVM hosts (y_a = y - y_os)
version_added: 0.1.0
description:
  - For one host, C(y_a = y - y_os) is the RAM VMs may use; the host holds VMs while
    C(y_a > sum(y_si)), counting a per-VM hypervisor overhead and a RAM allocation ratio.
  - Given a branch model (from M(smbvdc.datacenter.branch_model)), returns the budget of
    every KVM host with the VMs placed on it.
  - Given a single host mapping, returns that host's budget for the VMs passed in O(vms).
  - The default host reserve and its rationale are in C(docs/capacity.md).
options:
  _input:
    description:
      - A branch model, or a host mapping with C(memory_mb) and optional
        C(os_reserve_mb), C(vcpus), C(disk_gb).
    type: dict
    required: true
  vms:
    description: With a host mapping, the VMs on it (C(memory_mb), C(vcpus), C(disk_gb)).
    type: list
    elements: dict
  vm_size:
    description:
      - A VM size (C(memory_mb), optional C(vcpus), C(disk_gb)); the result then says
        how many more such VMs fit (C(more_vms)) and the seed estimate C(y_a / y_s).
    type: dict
  settings:
    description: Budget settings overriding the defaults (C(vm_overhead_mb), C(ram_allocation_ratio), ...).
    type: dict
"""

EXAMPLES = r"""
- name: Budget of a 64 GiB host running two VMs, and room for 2 GiB VMs
  ansible.builtin.debug:
    msg: "{{ {'memory_mb': 65536, 'vcpus': 16, 'disk_gb': 1000}
             | smbvdc.datacenter.memory_budget(vms=[{'memory_mb': 4096}, {'memory_mb': 2048}],
                                                 vm_size={'memory_mb': 2048}) }}"

- name: Budget of every KVM host of the branch
  ansible.builtin.debug:
    msg: "{{ smbvdc_model | smbvdc.datacenter.memory_budget(vm_size={'memory_mb': 1024}) }}"
"""

RETURN = r"""
_value:
  description:
    - For a host mapping, a dict with C(total_mb), C(reserved_mb), C(available_mb) (y_a),
      C(capacity_mb) (y_a x ratio), C(allocated_mb) (VM RAM + overhead), C(free_mb),
      C(vcpu_capacity), C(vcpus_allocated), C(disk_capacity_gb), C(disk_allocated_gb),
      C(ok), and with O(vm_size) C(more_vms) and C(seed_estimate).
    - For a branch model, a dict of those keyed by KVM host name.
  type: dict
"""

from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import budget as budget_mod
from ansible_collections.smbvdc.datacenter.plugins.plugin_utils.filters import filter_module, smbvdc_filter


@smbvdc_filter
def memory_budget(data, vms=None, vm_size=None, settings=None):
    if not isinstance(data, dict):
        raise TypeError("input must be a branch model or a host mapping with memory_mb, got %r" % (type(data).__name__,))
    if "kvm_hosts" in data and "vms" in data:
        s = dict(data.get("budget_settings") or {})
        s.update(settings or {})
        out = {}
        for name, host in data["kvm_hosts"].items():
            on_host = [data["vms"][v] for v in host.get("vms", [])]
            out[name] = budget_mod.host_budget(host, on_host, s, vm_size)
        return out
    if "memory_mb" not in data:
        raise ValueError("the host mapping needs memory_mb (physical RAM in MiB)")
    for i, vm in enumerate(vms or []):
        if not isinstance(vm, dict) or "memory_mb" not in vm:
            raise ValueError("vms[%d] needs memory_mb, got %r" % (i, vm))
    if vm_size is not None and (not isinstance(vm_size, dict) or int(vm_size.get("memory_mb", 0)) <= 0):
        raise ValueError("vm_size needs a positive memory_mb, got %r" % (vm_size,))
    return budget_mod.host_budget(data, vms or [], settings, vm_size)


FilterModule = filter_module(memory_budget)
