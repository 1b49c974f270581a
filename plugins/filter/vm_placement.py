# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smbvdc.datacenter developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: vm_placement
short_description: Place VMs on KVM hosts (first-fit-decreasing, anti-affinity, pins, exact search)
version_added: 0.1.0
description:
  - Given a branch model, returns its placement (VM to KVM host) with per-host usage.
  - Given a list of hosts and O(vms), places those VMs. Pinned VMs stay where they are pinned;
    members of one anti-affinity group are spread over the hosts; small sets are solved exactly
    (fewest hosts used).
  - Fails listing every VM that fits nowhere and, per host, how many MiB are missing.
options:
  _input:
    description:
      - A branch model, or a list of hosts C({name, capacity_mb, vcpu_capacity, vcpus, disk_capacity_gb}).
    type: raw
    required: true
  vms:
    description: With a host list, the VMs C({name, demand_mb, vcpus, disk_gb, pin, anti_affinity}).
    type: list
    elements: dict
"""

EXAMPLES = r"""
- name: Where does each VM run
  ansible.builtin.debug:
    msg: "{{ (smbvdc_model | smbvdc.datacenter.vm_placement).placement }}"
"""

RETURN = r"""
_value:
  description: C(placement) (VM to host), C(hosts) (usage per host), C(method), C(hosts_used), C(optimal), C(warnings).
  type: dict
"""

from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import model as model_mod
from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import placement as placement_mod
from ansible_collections.smbvdc.datacenter.plugins.plugin_utils.filters import filter_module, smbvdc_filter


@smbvdc_filter
def vm_placement(data, vms=None):
    if isinstance(data, dict) and "kvm_hosts" in data:
        hosts, vm_list = model_mod.placement_inputs(data["kvm_hosts"], data["vms"].values(),
                                                    data.get("budget_settings") or {})
        return placement_mod.place(hosts, vm_list)
    if not isinstance(data, list):
        raise ValueError("input must be a branch model or a list of hosts, got %s" % type(data).__name__)
    for i, h in enumerate(data):
        if not isinstance(h, dict) or "name" not in h or "capacity_mb" not in h:
            raise ValueError("hosts[%d] needs name and capacity_mb, got %r" % (i, h))
    for i, v in enumerate(vms or []):
        if not isinstance(v, dict) or "name" not in v or "demand_mb" not in v:
            raise ValueError("vms[%d] needs name and demand_mb, got %r" % (i, v))
    return placement_mod.place(data, vms or [])


FilterModule = filter_module(vm_placement)
