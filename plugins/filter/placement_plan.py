# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smbvdc.datacenter developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: placement_plan
short_description: Plan explicit VM moves (migrate one VM, evacuate a KVM host, rebalance) over the branch model
version_added: 0.2.0
description:
  - Reality first keeps every defined VM on its KVM host; moves happen only when asked for. This filter
    plans them from the branch model (and where each VM is defined now) and returns the ordered list of
    live migrations that C(playbooks/migrate.yml), C(evacuate.yml) and C(rebalance.yml) run.
  - Every move fits the target's budget (RAM, vCPU, disk) and anti-affinity in the state the previous moves
    left, so no host is over budget at any time; a VM that must make way takes a temporary hop to a third
    host (C(temporary=true)), or the plan is refused naming the hosts.
  - C(migrate) checks one move (unknown VM or host, same host, budget, anti-affinity on the target).
    C(evacuate) moves every VM off O(host) and nothing else (fails on the branch's only KVM host, or when
    the other hosts lack room, per VM and host how many MiB are missing).
    C(rebalance) finds the fewest moves that restore anti-affinity (O(goal=anti_affinity)) and/or empty as
    many hosts as possible (O(goal=free_hosts)); VMs pinned with C(vm_host) are not moved.
  - Fails with the variable to change (C(vm), C(target), C(kvm_host), C(goal)) and the fix.
options:
  _input:
    description: The branch model (C(smbvdc_model), from P(smbvdc.datacenter.branch_model#filter)).
    type: dict
    required: true
  action:
    description: What to plan.
    type: str
    choices: [migrate, evacuate, rebalance]
    required: true
  host:
    description: With C(evacuate), the KVM host to empty.
    type: str
  goal:
    description: With C(rebalance), C(anti_affinity), C(free_hosts), or both (a list, or comma-separated).
    type: raw
    default: anti_affinity
  vm:
    description: With C(migrate), the VM to move.
    type: str
  target:
    description: With C(migrate), the KVM host to move it to.
    type: str
  current:
    description:
      - Where the VMs are defined now, KVM host to list of VM names (C(smbvdc_current_domains), set by
        C(playbooks/placement.yml)). Only those VMs are moved or take room; the others are not built
        yet and are listed in C(not_defined).
      - Left out, every VM of the model counts as defined on its C(kvm_host) (a plan on paper).
    type: dict
"""

EXAMPLES = r"""
- name: Plan the evacuation of kvm1
  ansible.builtin.set_fact:
    plan: >-
      {{ smbvdc_model | smbvdc.datacenter.placement_plan('evacuate', host='kvm1',
                                                         current=smbvdc_current_domains) }}

- name: Plan a rebalance that restores anti-affinity and frees hosts
  ansible.builtin.debug:
    msg: "{{ (smbvdc_model | smbvdc.datacenter.placement_plan('rebalance', goal='anti_affinity,free_hosts')).moves }}"

- name: Check a migration of web1 to kvm2
  ansible.builtin.debug:
    msg: "{{ smbvdc_model | smbvdc.datacenter.placement_plan('migrate', vm='web1', target='kvm2') }}"
"""

RETURN = r"""
_value:
  description:
    - C(action); C(moves), ordered C({vm, from, to, temporary}); C(moves_count); C(vms_moved);
      C(temporary_hops); C(before) and C(after) (VM to host); C(anti_affinity_before) and
      C(anti_affinity_after) (C({group, host, vms, limit}) where a host holds too many members);
      C(not_defined) (VMs not built yet, never moved); C(warnings) (including VMs whose C(vm_host) must be
      changed after the move).
    - With C(rebalance) also C(goal), C(lower_bound) (no plan can do with fewer moves), C(optimal),
      C(method), C(hosts_freed), C(hosts_empty_after). With C(evacuate) C(host); with C(migrate) C(vm)
      and C(target).
  type: dict
"""

from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import model as model_mod
from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import placement as placement_mod
from ansible_collections.smbvdc.datacenter.plugins.plugin_utils.filters import filter_module, smbvdc_filter

ACTIONS = ("migrate", "evacuate", "rebalance")


def _where(model, current):
    """VM -> host for the VMs defined now (``current``), or every VM at its model host."""
    vms = model["vms"]
    if current is None:
        return {name: vm["kvm_host"] for name, vm in vms.items()}
    if not isinstance(current, dict):
        raise ValueError("current must map KVM hosts to lists of VM names, got %r" % (current,))
    where = {}
    for host, names in sorted(current.items()):
        if host not in model["kvm_hosts"] or not isinstance(names, (list, tuple)):
            continue
        for name in names:
            if name in vms:
                where[name] = host
    return where


def _pin_warnings(model, plan):
    out = []
    for name in plan["vms_moved"]:
        vm = model["vms"].get(name) or {}
        if vm.get("pinned"):
            out.append("%s is pinned with vm_host to %s: set hostvars['%s'].vm_host to %s (or remove it) once it "
                       "has moved, else the next run stops" % (name, plan["before"][name], name, plan["after"][name]))
    return out


@smbvdc_filter(needs=("kvm_hosts", "vms"))
def placement_plan(model, action, host=None, goal="anti_affinity", vm=None, target=None, current=None):
    if action not in ACTIONS:
        raise ValueError("action must be one of %s, got %r" % (", ".join(ACTIONS), action))
    hosts, vms = model_mod.placement_inputs(model["kvm_hosts"], model["vms"].values(),
                                            model.get("budget_settings") or {})
    where = _where(model, current)
    not_defined = sorted(n for n in model["vms"] if n not in where)
    warnings = []
    if action == "evacuate":
        plan = placement_mod.evacuation_plan(hosts, vms, where, host)
        later = [n for n in not_defined if model["vms"][n]["kvm_host"] == host]
        if later:
            warnings.append("not built yet and planned on %s: %s. Pin them elsewhere with vm_host, or the next "
                            "converge builds them there" % (host, ", ".join(later)))
    elif action == "migrate":
        plan = placement_mod.migration_plan(hosts, vms, where, vm, target)
    else:
        keep = [n for n, v in model["vms"].items() if v.get("pinned")]
        plan = placement_mod.rebalance_plan(hosts, vms, where, goal, keep=keep)
    plan["action"] = action
    plan["not_defined"] = not_defined
    plan["warnings"] = list(plan.get("warnings", [])) + warnings + _pin_warnings(model, plan)
    return plan


FilterModule = filter_module(placement_plan)
