# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smbvdc.datacenter developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Placement of VMs on KVM hosts.

Objective: every VM placed, RAM (strict seed rule), vCPU and disk within each
host's capacity, anti-affinity respected, and as few hosts used as possible,
so whole hosts stay free to take over a failed one's VMs or for maintenance.

Reality first: a VM that is defined on a host now comes with ``current`` and
that host as its pin, so it stays where it is; only new VMs are placed (a
move is an explicit migration, never a side effect of adding a VM).

Method: pinned VMs first, then first-fit-decreasing by host RAM demand (FFD,
within 11/9 OPT + 6/9 hosts for bin packing). For small sets (up to
``EXACT_MAX_VMS`` unpinned VMs) an exact branch-and-bound search then tries to
use fewer hosts than FFD, bounded by ``EXACT_NODE_LIMIT`` nodes so it never
stalls a playbook; if it runs out of nodes the FFD answer (or the best found)
stands. No library does vector bin packing with anti-affinity and pins in
pure Python without a solver dependency, hence this hand-written search.

Anti-affinity: the members of one group (a DNS primary and its secondaries, a
VRRP pair, ...) are spread so no host gets more than ceil(members / hosts) of
them: with two hosts, a pair is never on one host; with one host (the lab)
the rule cannot hold and a warning says so.
"""

from __future__ import annotations

import math

from .budget import ram_fits
from .errors import PlacementError, Problem

EXACT_MAX_VMS = 14
EXACT_NODE_LIMIT = 200000


class _Host(object):
    __slots__ = ("name", "ram", "vcpu", "disk", "max_vcpus", "ram_used", "vcpu_used", "disk_used", "vms", "groups")

    def __init__(self, h):
        self.name = h["name"]
        self.ram = int(h["capacity_mb"])
        self.vcpu = h.get("vcpu_capacity")
        self.disk = h.get("disk_capacity_gb")
        self.max_vcpus = h.get("vcpus")
        self.ram_used = 0
        self.vcpu_used = 0
        self.disk_used = 0
        self.vms = []
        self.groups = {}

    def fits(self, vm, group_limits):
        if not ram_fits(self.ram_used, vm["demand_mb"], self.ram):
            return False
        if self.vcpu is not None and self.vcpu_used + vm["vcpus"] > self.vcpu:
            return False
        if self.max_vcpus is not None and vm["vcpus"] > self.max_vcpus:
            return False
        if self.disk is not None and self.disk_used + vm["disk_gb"] > self.disk:
            return False
        for g in vm["anti_affinity"]:
            if self.groups.get(g, 0) + 1 > group_limits[g]:
                return False
        return True

    def add(self, vm):
        self.ram_used += vm["demand_mb"]
        self.vcpu_used += vm["vcpus"]
        self.disk_used += vm["disk_gb"]
        self.vms.append(vm["name"])
        for g in vm["anti_affinity"]:
            self.groups[g] = self.groups.get(g, 0) + 1

    def remove(self, vm):
        self.ram_used -= vm["demand_mb"]
        self.vcpu_used -= vm["vcpus"]
        self.disk_used -= vm["disk_gb"]
        self.vms.remove(vm["name"])
        for g in vm["anti_affinity"]:
            self.groups[g] -= 1


def _normalise_vm(vm):
    return {
        "name": vm["name"],
        "demand_mb": int(vm["demand_mb"]),
        "vcpus": int(vm.get("vcpus", 1)),
        "disk_gb": int(vm.get("disk_gb", 0)),
        "pin": vm.get("pin"),
        # the pin is where the VM is defined now (reality first), not vm_host
        "current": bool(vm.get("current")),
        "anti_affinity": sorted(set(vm.get("anti_affinity") or [])),
    }


def group_limits(vms, n_hosts):
    members = {}
    for vm in vms:
        for g in vm["anti_affinity"]:
            members[g] = members.get(g, 0) + 1
    return {g: int(math.ceil(n / float(max(1, n_hosts)))) for g, n in members.items()}


def _sort_key(vm):
    # decreasing RAM, then vCPU, then disk; name for a stable order
    return (-vm["demand_mb"], -vm["vcpus"], -vm["disk_gb"], vm["name"])


def _host_order(hosts):
    return sorted(hosts, key=lambda h: (-h.ram, h.name))


def _shortfall(host, vm, limits):
    """Why ``vm`` does not fit on ``host``, as a short text."""
    parts = []
    if not ram_fits(host.ram_used, vm["demand_mb"], host.ram):
        parts.append("%d MiB missing (free %d MiB, needs %d MiB incl. overhead)"
                     % (host.ram_used + vm["demand_mb"] - host.ram + 1, host.ram - host.ram_used, vm["demand_mb"]))
    if host.max_vcpus is not None and vm["vcpus"] > host.max_vcpus:
        parts.append("%d vCPUs but the host has %d threads" % (vm["vcpus"], host.max_vcpus))
    elif host.vcpu is not None and host.vcpu_used + vm["vcpus"] > host.vcpu:
        parts.append("%d vCPUs missing" % (host.vcpu_used + vm["vcpus"] - host.vcpu))
    if host.disk is not None and host.disk_used + vm["disk_gb"] > host.disk:
        parts.append("%d GiB disk missing" % (host.disk_used + vm["disk_gb"] - host.disk))
    for g in vm["anti_affinity"]:
        if host.groups.get(g, 0) + 1 > limits[g]:
            parts.append("anti-affinity group '%s' already has %d VM(s) here" % (g, host.groups.get(g, 0)))
    return "; ".join(parts) or "fits"


def _binding_limit(hosts, vm):
    """The VM variable to name when ``vm`` fits nowhere, and the fix: the resource no host has enough of."""
    if all(h.max_vcpus is not None and vm["vcpus"] > h.max_vcpus for h in hosts):
        most = max(h.max_vcpus for h in hosts)
        return "vm_vcpus", ("lower vm_vcpus to at most %d (the most threads of any KVM host), or add a host with "
                            "more threads (kvm_vcpus)." % most)
    if any(ram_fits(0, vm["demand_mb"], h.ram) for h in hosts):
        if all(h.disk is not None and vm["disk_gb"] > h.disk for h in hosts):
            return "vm_disk_gb", "lower vm_disk_gb or give a KVM host a larger pool (kvm_disk_gb)."
    return "vm_memory_mb", "add RAM or hosts, lower kvm_os_reserve_mb if it is set too high, or shrink VMs."


def ffd(hosts, vms, limits):
    """First-fit-decreasing. Returns (assignment, unplaced list)."""
    order = _host_order(hosts)
    assignment = {}
    unplaced = []
    for vm in sorted(vms, key=_sort_key):
        for h in order:
            if h.fits(vm, limits):
                h.add(vm)
                assignment[vm["name"]] = h.name
                break
        else:
            unplaced.append(vm)
    return assignment, unplaced


def _exact(hosts, vms, limits, upper_bound, node_limit):
    """Branch and bound: the assignment using the fewest hosts, if fewer than upper_bound.

    ``hosts`` already carry the pinned VMs. Returns (assignment or None, nodes, complete).
    """
    order = sorted(vms, key=_sort_key)
    hosts = _host_order(hosts)
    best = {"n": upper_bound, "assignment": None}
    state = {"nodes": 0, "aborted": False}
    assignment = {}
    suffix_ram = [0] * (len(order) + 1)
    for i in range(len(order) - 1, -1, -1):
        suffix_ram[i] = suffix_ram[i + 1] + order[i]["demand_mb"]

    def used_count():
        return sum(1 for h in hosts if h.vms)

    def lower_bound(i, used):
        remaining = suffix_ram[i]
        free_used = sum(max(0, h.ram - h.ram_used - 1) for h in hosts if h.vms)
        if remaining <= free_used:
            return used
        need = remaining - free_used
        extra = 0
        for cap in sorted((h.ram - 1 for h in hosts if not h.vms), reverse=True):
            if need <= 0:
                break
            need -= cap
            extra += 1
        return used + extra

    def dfs(i):
        state["nodes"] += 1
        if state["nodes"] > node_limit:
            state["aborted"] = True
            return
        used = used_count()
        if i == len(order):
            if used < best["n"]:
                best["n"] = used
                best["assignment"] = dict(assignment)
            return
        if lower_bound(i, used) >= best["n"]:
            return
        vm = order[i]
        tried_empty = set()
        for h in hosts:
            if not h.vms:
                # empty hosts with the same capacities are interchangeable
                sig = (h.ram, h.vcpu, h.disk, h.max_vcpus)
                if sig in tried_empty:
                    continue
                tried_empty.add(sig)
                if used + 1 >= best["n"]:
                    continue
            if h.fits(vm, limits):
                h.add(vm)
                assignment[vm["name"]] = h.name
                dfs(i + 1)
                del assignment[vm["name"]]
                h.remove(vm)
                if state["aborted"]:
                    return

    dfs(0)
    return best["assignment"], state["nodes"], not state["aborted"]


def place(hosts, vms, exact_max_vms=EXACT_MAX_VMS, node_limit=EXACT_NODE_LIMIT):
    """Assign VMs to hosts.

    :param hosts: list of ``{name, capacity_mb, vcpu_capacity?, vcpus?, disk_capacity_gb?}``
        (``capacity_mb`` is y_a x RAM ratio; ``vcpus`` the host's threads).
    :param vms: list of ``{name, demand_mb, vcpus?, disk_gb?, pin?, anti_affinity?}``
        (``demand_mb`` is VM RAM plus overhead).
    :returns: dict with ``placement`` (vm -> host), ``hosts`` (per-host usage),
        ``method`` (``ffd`` / ``exact``), ``hosts_used``, ``optimal`` (proved),
        ``warnings``.
    :raises PlacementError: naming each VM that fits nowhere and, per host,
        what is missing.
    """
    if not hosts:
        raise PlacementError([Problem("groups['kvm_hosts']", "no KVM host to place VMs on.",
                                      "add at least one host to the kvm_hosts group with kvm_memory_mb set.")])
    norm = [_normalise_vm(v) for v in vms]
    names = [h["name"] for h in hosts]
    warnings = []
    limits = group_limits(norm, len(hosts))
    if len(hosts) == 1:
        for g, n in sorted(group_limits(norm, 1).items()):
            if n > 1:
                warnings.append("anti-affinity group '%s' has %d VMs but there is only one KVM host (%s): "
                                "they share it, so one host failure takes them all" % (g, n, names[0]))
    else:
        n_hosts = len(hosts)
        counts = {}
        for v in norm:
            for g in v["anti_affinity"]:
                counts[g] = counts.get(g, 0) + 1
        for g, n in sorted(counts.items()):
            if n > n_hosts:
                warnings.append("anti-affinity group '%s' has %d VMs on %d hosts: up to %d share a host"
                                % (g, n, n_hosts, limits[g]))

    def fresh():
        return {h["name"]: _Host(h) for h in hosts}

    problems = []
    hs = fresh()
    pinned = [v for v in norm if v["pin"]]
    free_vms = [v for v in norm if not v["pin"]]
    for vm in sorted(pinned, key=_sort_key):
        h = hs.get(vm["pin"])
        if h is None:
            problems.append(Problem("hostvars['%s'].vm_host" % vm["name"],
                                    "pinned to '%s', which is not in the kvm_hosts group." % vm["pin"],
                                    "use one of %s or remove vm_host." % ", ".join(sorted(names))))
            continue
        if not h.fits(vm, limits):
            if vm["current"]:
                problems.append(Problem("hostvars['%s'].vm_memory_mb" % vm["name"],
                                        "is defined on %s (it stays there: a converge never moves a VM), where it "
                                        "no longer fits: %s." % (h.name, _shortfall(h, vm, limits)),
                                        "lower vm_memory_mb/vm_vcpus/vm_disk_gb, give %s more capacity, or move a VM "
                                        "off it explicitly (docs/multi-host.md)." % h.name))
                continue
            problems.append(Problem("hostvars['%s'].vm_host" % vm["name"],
                                    "pinned to %s, where it does not fit: %s." % (h.name, _shortfall(h, vm, limits)),
                                    "pin it elsewhere, lower vm_memory_mb/vm_vcpus/vm_disk_gb, or give %s more capacity."
                                    % h.name))
            continue
        h.add(vm)
    if problems:
        raise PlacementError(problems)

    byname = {v["name"]: v for v in free_vms}

    def realise(assign):
        """Fresh hosts carrying the pinned VMs plus ``assign``."""
        out = fresh()
        for vm in pinned:
            out[vm["pin"]].add(vm)
        for vname, hname in assign.items():
            out[hname].add(byname[vname])
        return out

    assignment, unplaced = ffd(list(hs.values()), free_vms, limits)
    if unplaced and len(free_vms) <= exact_max_vms:
        # FFD can miss a packing that exists; ask the exact search before giving up.
        ex, _nodes, _complete = _exact(list(realise({}).values()), free_vms, limits, len(hosts) + 1, node_limit)
        if ex is not None:
            assignment, unplaced = ex, []
            hs = realise(ex)
    if unplaced:
        for vm in unplaced:
            detail = "; ".join("%s: %s" % (h.name, _shortfall(h, vm, limits)) for h in _host_order(hs.values()))
            variable, fix = _binding_limit(list(hs.values()), vm)
            problems.append(Problem("hostvars['%s'].%s" % (vm["name"], variable),
                                    "does not fit on any KVM host (%s)." % detail, fix))
        raise PlacementError(problems)

    method = "ffd"
    optimal = len(hosts) == 1
    used = sum(1 for h in hs.values() if h.vms)
    if free_vms and len(free_vms) <= exact_max_vms and len(hosts) > 1:
        ex, _nodes, complete = _exact(list(realise({}).values()), free_vms, limits, used, node_limit)
        if ex is not None:
            method = "exact"
            assignment = ex
            hs = realise(ex)
            used = sum(1 for h in hs.values() if h.vms)
        optimal = complete

    result_hosts = {}
    for name, h in hs.items():
        result_hosts[name] = {
            "vms": sorted(h.vms),
            "ram_used_mb": h.ram_used,
            "ram_capacity_mb": h.ram,
            "ram_free_mb": h.ram - h.ram_used,
            "vcpus_used": h.vcpu_used,
            "vcpu_capacity": h.vcpu,
            "disk_used_gb": h.disk_used,
            "disk_capacity_gb": h.disk,
        }
    placement = {v["name"]: v["pin"] for v in pinned}
    placement.update(assignment)
    return {
        "placement": dict(sorted(placement.items())),
        "hosts": result_hosts,
        "method": method,
        "hosts_used": used,
        "optimal": optimal,
        "warnings": warnings,
    }
