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
the rule cannot hold and a warning says so. Two members already defined on
one host stay there with a warning (reality first); ``rebalance_plan``
separates them on request.

Moves (migrate.yml, evacuate.yml, rebalance.yml): ``migration_check``,
``evacuation_plan``, ``rebalance_plan`` and ``rebalance_lower_bound`` plan
ordered live migrations in which every step fits its target's budget and
anti-affinity (see the section at the end of this file).
"""

from __future__ import annotations

import itertools
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
            return "vm_disk_gb", ("lower vm_disk_gb (or the size_gb of vm_data_disks, counted with it) or give a "
                                  "KVM host a larger pool (kvm_disk_gb).")
    # RAM left somewhere, but every pool is full (the VMs placed before this one took it)
    if (any(ram_fits(h.ram_used, vm["demand_mb"], h.ram) for h in hosts)
            and all(h.disk is not None and h.disk_used + vm["disk_gb"] > h.disk for h in hosts)):
        return "vm_disk_gb", ("the storage pools are full: lower vm_disk_gb or vm_data_disks of this or other VMs, "
                              "or give a KVM host a larger pool (kvm_disk_gb).")
    return "vm_memory_mb", "add RAM or hosts, lower kvm_os_reserve_mb if it is set too high, or shrink VMs."


def ffd(hosts, vms, limits):
    """First-fit-decreasing. Returns (assignment, unplaced list)."""
    return _first_fit(_host_order(hosts), sorted(vms, key=_sort_key), limits)


def _first_fit(order, vms, limits):
    """Each VM, in the order given, onto the first host of ``order`` it fits. Returns (assignment, unplaced)."""
    assignment = {}
    unplaced = []
    for vm in vms:
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
    byname_all = {v["name"]: v for v in norm}
    free_vms = [v for v in norm if not v["pin"]]
    for vm in sorted(pinned, key=_sort_key):
        h = hs.get(vm["pin"])
        if h is None:
            problems.append(Problem("hostvars['%s'].vm_host" % vm["name"],
                                    "pinned to '%s', which is not in the kvm_hosts group." % vm["pin"],
                                    "use one of %s or remove vm_host." % ", ".join(sorted(names))))
            continue
        if vm["current"] and not h.fits(vm, limits) and _fits_now(h, vm, limits, relax_groups=True):
            # Defined there already: a shared host breaks anti-affinity but the
            # VM stays (reality first). Say so; rebalance.yml fixes it on request.
            mates = sorted(n for n in h.vms if set(byname_all[n]["anti_affinity"]) & set(vm["anti_affinity"]))
            warnings.append("%s is defined on %s together with %s (anti-affinity %s): one host failure takes them "
                            "all. Move one with playbooks/rebalance.yml -e goal=anti_affinity (docs/multi-host.md)"
                            % (vm["name"], h.name, ", ".join(mates), ", ".join(vm["anti_affinity"])))
            h.add(vm)
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


# --- moves: migration, evacuation, rebalance ---------------------------------
#
# Reality first means a VM changes host only when the user asks for it. These
# pure functions plan such moves (playbooks/migrate.yml, evacuate.yml,
# rebalance.yml apply them, one live migration at a time). Inputs are the
# shapes ``place()`` takes (``model.placement_inputs``) plus ``current``: a
# mapping VM name -> the KVM host it is on now. A VM missing from ``current``
# is not defined anywhere: it takes no room and is never moved.
#
# Every plan is a list of moves ``{vm, from, to}`` in the order they must run:
# each move fits the target's budget (RAM, vCPU, disk) and anti-affinity in
# the state the previous moves left, so no host is ever over budget, even for
# a moment. When moves block each other (web1 must go to kvm2, which is full
# until db1 leaves for kvm1, which is full until web1 leaves) a VM takes a
# temporary hop to a third host with room (``temporary: true``); when no host
# has that room the plan is refused, naming the hosts.

REBALANCE_GOALS = ("anti_affinity", "free_hosts")
REBALANCE_EXACT_MAX_VMS = 12
REBALANCE_NODE_LIMIT = 200000
HITTING_EXACT_MAX = 16


def _move_inputs(hosts, vms, current):
    """Normalised VMs (by name), hosts (by name) and where each defined VM is now."""
    if not hosts:
        raise PlacementError([Problem("groups['kvm_hosts']", "no KVM host in the branch.",
                                      "add the KVM hosts to the kvm_hosts group.")], title="no plan")
    names = [h["name"] for h in hosts]
    norm = {}
    for v in vms:
        n = _normalise_vm(v)
        norm[n["name"]] = n
    where = {}
    problems = []
    for vm, host in sorted((current or {}).items()):
        if vm not in norm:
            continue                      # a domain that is not one of the branch's VMs
        if host not in names:
            problems.append(Problem("smbvdc_current_domains", "places %s on '%s', which is not in the kvm_hosts "
                                    "group." % (vm, host), "add %s to kvm_hosts, or let playbooks/placement.yml "
                                    "read where the VMs are." % host))
            continue
        where[vm] = host
    if problems:
        raise PlacementError(problems, title="where the VMs are now is not known")
    return {h["name"]: h for h in hosts}, norm, where


def _load(host_specs, norm, where, skip=()):
    """Fresh ``_Host`` objects carrying every defined VM (except ``skip``) where it is."""
    hs = {name: _Host(spec) for name, spec in host_specs.items()}
    for vm, host in sorted(where.items()):
        if vm not in skip:
            hs[host].add(norm[vm])
    return hs


def _vm_text(vm):
    return "%s (%d MiB incl. overhead, %d vCPU%s, %d GiB)" % (vm["name"], vm["demand_mb"], vm["vcpus"],
                                                              "" if vm["vcpus"] == 1 else "s", vm["disk_gb"])


def _fits_now(host, vm, limits, relax_groups=False):
    """``host.fits`` with an option to ignore anti-affinity (a VM staying where it already is)."""
    if relax_groups:
        return host.fits(dict(vm, anti_affinity=[]), limits)
    return host.fits(vm, limits)


def _schedule(host_specs, norm, start, final, limits):
    """Order the moves start -> final so every intermediate state fits; add temporary hops where needed.

    Returns a list of ``{vm, from, to, temporary}``. Raises PlacementError
    when moves block each other and no third host can take a VM for a while.
    """
    hs = _load(host_specs, norm, start)
    at = dict(start)
    pending = sorted((vm for vm in final if start.get(vm) != final[vm]),
                     key=lambda n: _sort_key(norm[n]))
    steps = []
    hopped = set()

    def departures(host):
        return sum(1 for p in pending if at[p] == host)

    def run(vm, to, temporary=False):
        src = at[vm]
        hs[src].remove(norm[vm])
        hs[to].add(norm[vm])
        at[vm] = to
        steps.append({"vm": vm, "from": src, "to": to, "temporary": temporary})

    while pending:
        runnable = [p for p in pending if hs[final[p]].fits(norm[p], limits)]
        if runnable:
            # a target with nothing left to send away first: its room only shrinks
            vm = min(runnable, key=lambda p: (departures(final[p]) > 0, pending.index(p)))
            run(vm, final[vm])
            pending.remove(vm)
            continue
        hop = None
        for blocked in pending:
            target = final[blocked]
            for other in pending:
                if other in hopped or at[other] != target:
                    continue
                for via in sorted(host_specs, key=lambda h: (-(hs[h].ram - hs[h].ram_used), h)):
                    if via in (target, final[other]) or not hs[via].fits(norm[other], limits):
                        continue
                    hs[target].remove(norm[other])
                    helps = hs[target].fits(norm[blocked], limits)
                    hs[target].add(norm[other])
                    if helps:
                        hop = (other, via)
                        break
                if hop:
                    break
            if hop:
                break
        if hop is None:
            detail = "; ".join("%s -> %s: %s" % (p, final[p], _shortfall(hs[final[p]], norm[p], limits))
                               for p in pending)
            raise PlacementError([Problem("kvm_hosts", "the remaining moves block each other and no other host has "
                                          "room to hold one of these VMs for a while (%s)." % detail,
                                          "free room on one of these hosts first (shut a VM down, or migrate one to "
                                          "a host with room), or add a host to kvm_hosts.")],
                                 title="the moves cannot be ordered within the hosts' budgets")
        hopped.add(hop[0])
        run(hop[0], hop[1], temporary=True)
    return steps


def _plan_result(steps, start, final, host_specs, norm, limits, extra):
    out = {
        "moves": [dict(s) for s in steps],
        "moves_count": len(steps),
        "vms_moved": sorted({s["vm"] for s in steps}),
        "temporary_hops": sum(1 for s in steps if s["temporary"]),
        "before": dict(sorted(start.items())),
        "after": dict(sorted(final.items())),
        "anti_affinity_before": anti_affinity_violations(host_specs, norm, start, limits),
        "anti_affinity_after": anti_affinity_violations(host_specs, norm, final, limits),
    }
    out.update(extra)
    return out


def anti_affinity_violations(host_specs, norm, where, limits):
    """``[{group, host, vms, limit}]`` for each host holding more members of a group than its limit."""
    on = {}
    for vm, host in where.items():
        for g in norm[vm]["anti_affinity"]:
            on.setdefault((g, host), []).append(vm)
    return [{"group": g, "host": h, "vms": sorted(members), "limit": limits[g]}
            for (g, h), members in sorted(on.items()) if len(members) > limits[g]]


def evacuation_plan(hosts, vms, current, host, exact_max_vms=EXACT_MAX_VMS, node_limit=EXACT_NODE_LIMIT):
    """Move every VM off ``host`` onto the other hosts, within their budgets and anti-affinity; move nothing else.

    Anti-affinity limits are those of a branch without ``host`` (a group of
    two members on two hosts may share the one that stays, with a warning,
    as ``place()`` does on one host). Filled hosts are used before empty ones.

    :returns: dict with ``host``, ``moves`` (``{vm, from, to, temporary}``, every
        move leaves ``host``), ``after`` (vm -> host), ``warnings``.
    :raises PlacementError: ``host`` unknown, the branch's only KVM host, or
        VMs that fit on no other host (per VM and host, what is missing).
    """
    host_specs, norm, where = _move_inputs(hosts, vms, current)
    if host not in host_specs:
        raise PlacementError([Problem("kvm_host", "'%s' is not in the kvm_hosts group." % host,
                                      "use one of: %s." % ", ".join(sorted(host_specs)))], title="cannot evacuate")
    others = [h for h in sorted(host_specs) if h != host]
    leaving = sorted((norm[v] for v, h in where.items() if h == host), key=_sort_key)
    if not others:
        raise PlacementError([Problem("kvm_host", "%s is the branch's only KVM host: its %d VM(s) have nowhere to "
                                      "go." % (host, len(leaving)),
                                      "add a second host to kvm_hosts (with kvm_memory_mb, kvm_vcpus, kvm_disk_gb) "
                                      "and converge it (playbooks/kvm_hosts.yml), then evacuate; or shut the VMs "
                                      "down for the maintenance.")], title="cannot evacuate")
    defined = [norm[v] for v in where]
    limits = group_limits(defined, len(others))
    warnings = []
    for g, n in sorted(group_limits(defined, 1).items()):
        if n > len(others):
            warnings.append("anti-affinity group '%s' has %d VMs and only %d host(s) stay up without %s: up to %d "
                            "share a host until %s is back" % (g, n, len(others), host, limits[g], host))
    base = _load(host_specs, norm, where, skip={v["name"] for v in leaving})
    # filled hosts first, so hosts that are empty now stay empty where possible
    order = sorted((base[h] for h in others), key=lambda h: (not h.vms, -h.ram, h.name))
    assignment, unplaced = _first_fit(order, leaving, limits)
    if unplaced and len(leaving) <= exact_max_vms:
        fresh = _load(host_specs, norm, where, skip={v["name"] for v in leaving})
        ex, _nodes, _complete = _exact([fresh[h] for h in others], leaving, limits, len(host_specs) + 1, node_limit)
        if ex is not None:
            assignment, unplaced = ex, []
    if unplaced:
        state = _load(host_specs, norm, where, skip={v["name"] for v in leaving})
        for vm in leaving:
            if vm["name"] in assignment:
                state[assignment[vm["name"]]].add(vm)
        free = sum(max(0, state[h].ram - state[h].ram_used - 1) for h in others)
        need = sum(v["demand_mb"] for v in unplaced)
        problems = []
        for vm in unplaced:
            detail = "; ".join("%s: %s" % (h, _shortfall(state[h], vm, limits)) for h in others)
            problems.append(Problem("kvm_host", "%s cannot leave %s: it fits on no other host (%s)."
                                    % (_vm_text(vm), host, detail),
                                    "make room on another host first (playbooks/rebalance.yml, or shut a VM down), "
                                    "add RAM or a host to kvm_hosts, or lower hostvars['%s'].vm_memory_mb."
                                    % vm["name"]))
        problems.append(Problem("kvm_host", "evacuating %s: %d VM(s) that fit nowhere need %d MiB, the other hosts "
                                "have %d MiB free in all after the rest moved." % (host, len(unplaced), need, free),
                                "the same: more room on the other hosts, or fewer VMs to move."))
        raise PlacementError(problems, title="%s cannot be evacuated within the other hosts' budgets" % host)
    final = dict(where)
    final.update(assignment)
    steps = _schedule(host_specs, norm, where, final, limits)
    return _plan_result(steps, where, final, host_specs, norm, limits,
                        {"host": host, "warnings": warnings, "limits": limits})


def migration_check(hosts, vms, current, vm, target, vm_var="vm", target_var="target"):
    """Problems that stop moving ``vm`` to ``target`` (empty list: the move is possible).

    Checks: the VM and the target exist, the VM is defined somewhere, the
    target is another host, and the target has the VM's RAM, vCPUs, disk and
    anti-affinity room as it is now (the branch's limits). ``vm_var`` and
    ``target_var`` are the names of the variables the user gave (the
    playbooks' ``-e vm=... -e target=...``).
    """
    host_specs, norm, where = _move_inputs(hosts, vms, current)
    problems = []
    if vm not in norm:
        problems.append(Problem(vm_var, "'%s' is not a VM of this branch." % vm,
                                "use one of: %s." % ", ".join(sorted(norm))))
    elif vm not in where:
        problems.append(Problem(vm_var, "%s is not defined on any KVM host yet: there is nothing to migrate."
                                % vm, "converge it first (playbooks/vms.yml puts it where the placement says), or "
                                "pin it with hostvars['%s'].vm_host before it is built." % vm))
    if target not in host_specs:
        problems.append(Problem(target_var, "'%s' is not in the kvm_hosts group." % target,
                                "use one of: %s." % ", ".join(sorted(host_specs))))
    if problems:
        return problems
    src = where[vm]
    if src == target:
        return [Problem(target_var, "%s is already on %s." % (vm, target),
                        "choose another host: %s." % (", ".join(h for h in sorted(host_specs) if h != target)
                                                      or "the branch has no other KVM host"))]
    limits = group_limits([norm[v] for v in where], len(host_specs))
    hs = _load(host_specs, norm, where, skip={vm})
    t = hs[target]
    v = norm[vm]
    if not _fits_now(t, v, limits, relax_groups=True):
        room = [h for h in sorted(host_specs) if h not in (src, target) and hs[h].fits(v, limits)]
        problems.append(Problem(target_var, "%s has no room for %s: %s."
                                % (target, _vm_text(v), _shortfall(t, dict(v, anti_affinity=[]), limits)),
                                "choose a host with room (%s), free room on %s first, or add RAM/vCPUs/disk to it "
                                "(kvm_memory_mb, kvm_vcpus, kvm_disk_gb)."
                                % (", ".join(room) or "none has: add a host to kvm_hosts", target)))
    for g in v["anti_affinity"]:
        if t.groups.get(g, 0) + 1 > limits[g]:
            members = sorted(n for n, h in where.items() if h == target and g in norm[n]["anti_affinity"])
            problems.append(Problem(target_var, "%s already runs %s of anti-affinity group '%s' (at most %d per host "
                                    "with %d hosts): moving %s there puts them on one host."
                                    % (target, ", ".join(members), g, limits[g], len(host_specs), vm),
                                    "choose a host without a member of '%s', or remove '%s' from "
                                    "hostvars['%s'].vm_anti_affinity if they need not be apart." % (g, g, vm)))
    return problems


def migration_plan(hosts, vms, current, vm, target, vm_var="vm", target_var="target"):
    """The one move of ``migration_check``, or PlacementError listing its problems."""
    problems = migration_check(hosts, vms, current, vm, target, vm_var=vm_var, target_var=target_var)
    if problems:
        raise PlacementError(problems, title="%s cannot be migrated to %s" % (vm, target))
    host_specs, norm, where = _move_inputs(hosts, vms, current)
    limits = group_limits([norm[v] for v in where], len(host_specs))
    final = dict(where)
    final[vm] = target
    steps = _schedule(host_specs, norm, where, final, limits)
    return _plan_result(steps, where, final, host_specs, norm, limits, {"vm": vm, "target": target, "warnings": []})


def _goals(goal):
    goals = [goal] if isinstance(goal, str) else list(goal or [])
    goals = [g.strip() for gs in goals for g in str(gs).split(",") if g.strip()]
    bad = [g for g in goals if g not in REBALANCE_GOALS]
    if bad or not goals:
        raise PlacementError([Problem("goal", "%r is not a rebalance goal." % (bad[0] if bad else goal),
                                      "use anti_affinity, free_hosts, or both (anti_affinity,free_hosts).")],
                             title="unknown rebalance goal")
    return sorted(set(goals), key=REBALANCE_GOALS.index)


def _min_hitting(members, excess):
    """Fewest VMs of one host to take away so that each group's excess is removed.

    ``members``: vm -> groups (only VMs of groups with excess). ``excess``:
    group -> how many members too many. Returns (VM names, exact), or
    (None, True) when no choice among ``members`` covers the excess.
    """
    names = sorted(members)
    need_any = max(excess.values()) if excess else 0
    if not excess:
        return [], True

    def covers(chosen):
        return all(sum(1 for n in chosen if g in members[n]) >= e for g, e in excess.items())

    if not covers(names):
        return None, True
    if len(names) <= HITTING_EXACT_MAX:
        for k in range(need_any, len(names) + 1):
            for combo in itertools.combinations(names, k):
                if covers(combo):
                    return list(combo), True
    # greedy: the VM that removes most of what is left
    left = dict(excess)
    chosen = []
    while any(e > 0 for e in left.values()):
        best = max((n for n in names if n not in chosen),
                   key=lambda n: (sum(1 for g in members[n] if left.get(g, 0) > 0), -names.index(n)))
        chosen.append(best)
        for g in members[best]:
            if g in left:
                left[g] -= 1
    return chosen, False


def _aa_leavers(norm, where, limits, keep=()):
    """Per host, the fewest VMs that must leave to restore anti-affinity: ({host: [vms]}, exact)."""
    out = {}
    exact = True
    by_host = {}
    for vm, host in where.items():
        by_host.setdefault(host, []).append(vm)
    for host, names in sorted(by_host.items()):
        counts = {}
        for n in names:
            for g in norm[n]["anti_affinity"]:
                counts[g] = counts.get(g, 0) + 1
        excess = {g: c - limits[g] for g, c in counts.items() if c > limits[g]}
        if not excess:
            continue
        members = {n: set(norm[n]["anti_affinity"]) & set(excess) for n in names
                   if set(norm[n]["anti_affinity"]) & set(excess) and n not in keep}
        chosen, ok = _min_hitting(members, excess)
        if chosen is None:
            stuck = sorted(n for n in names if n in keep and set(norm[n]["anti_affinity"]) & set(excess))
            raise PlacementError([Problem("vm_host", "%s share %s (anti-affinity %s) and are pinned there with "
                                          "vm_host, so they cannot be moved apart."
                                          % (", ".join(stuck), host, ", ".join(sorted(excess))),
                                          "remove vm_host from all but one of them (hostvars['%s'].vm_host), or pin "
                                          "them to different hosts." % stuck[-1])],
                                 title="anti-affinity cannot be restored")
        exact = exact and ok
        out[host] = chosen
    return out, exact


def _freeable_at_most(host_specs, norm, where, keep=()):
    """How many of the hosts holding VMs could be emptied at best (RAM alone; a bound, not a plan)."""
    used = sorted({h for h in where.values()})
    stuck = {where[v] for v in keep if v in where}
    total = sum(norm[v]["demand_mb"] for v in where)
    caps = sorted((host_specs[h]["capacity_mb"] - 1 for h in host_specs), reverse=True)
    need, acc = 0, 0
    for c in caps:
        if acc >= total:
            break
        acc += c
        need += 1
    need = max(need, len(stuck))
    return max(0, len(used) - need)


def rebalance_lower_bound(hosts, vms, current, goal, freed=None, keep=()):
    """A lower bound on the moves any plan needs for ``goal``.

    - ``anti_affinity``: sum over hosts of the fewest of its VMs whose leaving
      brings every group down to its limit (exact set cover per host up to
      ``HITTING_EXACT_MAX`` candidates, else the largest excess of one group,
      still a bound). With one group per VM and limit 1 this is the sum over
      groups and hosts of (members sharing the host - 1).
    - ``free_hosts``: to empty ``freed`` hosts (default: the most that RAM
      allows) every VM on them moves at least once: the sum of the ``freed``
      smallest VM counts among the hosts holding VMs (hosts with a ``keep`` VM
      cannot be emptied).
    - both: every host that stays in use needs its anti-affinity leavers and
      every freed host all its VMs moved: the sum of the leavers over all
      hosts plus the ``freed`` smallest (VM count - leavers) among the hosts
      that can be emptied (at least the larger of the two bounds above).
    """
    goals = _goals(goal)
    host_specs, norm, where = _move_inputs(hosts, vms, current)
    limits = group_limits([norm[v] for v in where], len(host_specs))
    per_host = {}                     # host -> VMs that must leave it to restore anti-affinity
    if "anti_affinity" in goals:
        leavers, exact = _aa_leavers(norm, where, limits, keep)
        for h in leavers:
            per_host[h] = len(leavers[h]) if exact else max(len(m) - limits[g]
                                                            for g, m in _groups_on(norm, where, h).items())
    if "free_hosts" not in goals:
        return sum(per_host.values())
    if freed is None:
        freed = _freeable_at_most(host_specs, norm, where, keep)
    stuck = {where[v] for v in keep if v in where}
    counts = {}
    for v, h in where.items():
        counts[h] = counts.get(h, 0) + 1
    extra = sorted(c - per_host.get(h, 0) for h, c in counts.items() if h not in stuck)
    return sum(per_host.values()) + sum(extra[:freed])


def _groups_on(norm, where, host):
    out = {}
    for v, h in where.items():
        if h == host:
            for g in norm[v]["anti_affinity"]:
                out.setdefault(g, []).append(v)
    return out


def _final_ok(hs, norm, vm, host, start, limits, strict_groups):
    """Can ``vm`` end on ``host`` (already loaded with the VMs decided so far)?

    A VM staying on its host need not meet anti-affinity unless the goal is
    to restore it; a VM arriving always must.
    """
    relax = not strict_groups and start.get(vm) == host
    return _fits_now(hs[host], norm[vm], limits, relax_groups=relax)


def _exact_rebalance(host_specs, norm, where, limits, goals, keep, node_limit):
    """Fewest moves (and, for free_hosts, most empty hosts first) over every final state; small sets only.

    Returns (final or None, complete).
    """
    strict = "anti_affinity" in goals
    free = "free_hosts" in goals
    order = sorted(where, key=lambda n: _sort_key(norm[n]))
    hs = _load(host_specs, norm, {}, ())
    names = sorted(host_specs)
    best = {"key": None, "final": None}
    state = {"nodes": 0, "aborted": False}
    final = {}

    def score(moves):
        empty = sum(1 for h in names if not hs[h].vms)
        return (-empty if free else 0, moves)

    def dfs(i, moves):
        state["nodes"] += 1
        if state["nodes"] > node_limit:
            state["aborted"] = True
            return
        if best["key"] is not None:
            possible_empty = sum(1 for h in names if not hs[h].vms)
            if (-possible_empty if free else 0, moves) >= best["key"]:
                return
        if i == len(order):
            key = score(moves)
            if best["key"] is None or key < best["key"]:
                best["key"] = key
                best["final"] = dict(final)
            return
        vm = order[i]
        choices = [where[vm]] + ([] if vm in keep else [h for h in names if h != where[vm]])
        for h in choices:
            if not _final_ok(hs, norm, vm, h, where, limits, strict):
                continue
            hs[h].add(norm[vm])
            final[vm] = h
            dfs(i + 1, moves + (h != where[vm]))
            del final[vm]
            hs[h].remove(norm[vm])
            if state["aborted"]:
                return

    dfs(0, 0)
    return best["final"], not state["aborted"]


def _greedy_rebalance(host_specs, norm, where, limits, goals, keep):
    """Large sets: anti-affinity leavers (fewest per host) first-fit elsewhere, then empty hosts, fewest VMs first."""
    final = dict(where)
    problems = []
    if "anti_affinity" in goals:
        leavers, _exact_sets = _aa_leavers(norm, where, limits, keep)
        leaving = {v for vs in leavers.values() for v in vs}
        hs = _load(host_specs, norm, final, skip=leaving)
        for vm in sorted(leaving, key=lambda n: _sort_key(norm[n])):
            targets = sorted((h for h in host_specs if h != where[vm]),
                             key=lambda h: (-(hs[h].ram - hs[h].ram_used), h))
            for h in targets:
                if hs[h].fits(norm[vm], limits):
                    hs[h].add(norm[vm])
                    final[vm] = h
                    break
            else:
                problems.append(Problem("kvm_hosts", "%s must leave %s (anti-affinity) but fits on no other host (%s)."
                                        % (_vm_text(norm[vm]), where[vm],
                                           "; ".join("%s: %s" % (h, _shortfall(hs[h], norm[vm], limits))
                                                     for h in targets)),
                                        "add a host to kvm_hosts or RAM to one, or remove the group from "
                                        "hostvars['%s'].vm_anti_affinity." % vm))
        if problems:
            raise PlacementError(problems, title="anti-affinity cannot be restored within the hosts' budgets")
    if "free_hosts" in goals:
        stuck = {final[v] for v in keep if v in final}
        emptied = set()
        while True:
            hs = _load(host_specs, norm, final)
            candidates = sorted((h for h in host_specs if hs[h].vms and h not in stuck and h not in emptied),
                                key=lambda h: (len(hs[h].vms), hs[h].ram_used, h))
            done = False
            for cand in candidates:
                trial = _load(host_specs, norm, final, skip=set(hs[cand].vms))
                moved = {}
                for vm in sorted(hs[cand].vms, key=lambda n: _sort_key(norm[n])):
                    # best fit among hosts that hold VMs and stay: the fullest host that takes it
                    targets = sorted((h for h in host_specs if h != cand and trial[h].vms and h not in emptied),
                                     key=lambda h: (trial[h].ram - trial[h].ram_used, h))
                    for h in targets:
                        if trial[h].fits(norm[vm], limits):
                            trial[h].add(norm[vm])
                            moved[vm] = h
                            break
                    else:
                        moved = None
                        break
                if moved:
                    final.update(moved)
                    emptied.add(cand)
                    done = True
                    break
            if not done:
                break
    return final


def rebalance_plan(hosts, vms, current, goal, keep=(), exact_max_vms=REBALANCE_EXACT_MAX_VMS,
                   node_limit=REBALANCE_NODE_LIMIT):
    """A plan that restores anti-affinity and/or frees hosts with as few moves as it can find.

    :param goal: ``"anti_affinity"``, ``"free_hosts"``, a list of both, or
        ``"anti_affinity,free_hosts"``. ``anti_affinity``: no host holds more
        members of a group than ``ceil(members / hosts)``. ``free_hosts``: as
        many hosts as possible hold no VM (kept free for maintenance or a
        failed host's VMs), then as few moves as possible.
    :param keep: VMs that must not move (pinned with ``vm_host``).
    :returns: dict with ``moves`` (ordered ``{vm, from, to, temporary}``),
        ``moves_count``, ``lower_bound`` (``rebalance_lower_bound``; for
        free_hosts, to free as many hosts as this plan frees), ``optimal``
        (proved fewest: exact search complete, or as many moves as the lower
        bound), ``method``, ``hosts_freed``, ``anti_affinity_before/after``,
        ``before``/``after`` (vm -> host), ``warnings``.
    :raises PlacementError: the goal cannot be reached within the budgets,
        or the moves cannot be ordered without overfilling a host.
    """
    goals = _goals(goal)
    host_specs, norm, where = _move_inputs(hosts, vms, current)
    keep = {k for k in keep if k in where}
    limits = group_limits([norm[v] for v in where], len(host_specs))
    warnings = []
    if len(host_specs) == 1:
        warnings.append("the branch has one KVM host: there is nothing to rebalance")
    method = "greedy"
    complete = False
    final = None
    if len(where) <= exact_max_vms:
        final, complete = _exact_rebalance(host_specs, norm, where, limits, goals, keep, node_limit)
        method = "exact"
        if final is None and complete:
            leavers, _ = _aa_leavers(norm, where, limits, keep)
            problems = []
            for h in sorted(leavers):
                groups = sorted({g for v in leavers[h] for g in norm[v]["anti_affinity"]})
                problems.append(Problem("kvm_hosts", "%s holds too many members of %s, and no placement of the VMs "
                                        "separates them within the hosts' budgets." % (h, ", ".join(groups)),
                                        "add a host to kvm_hosts or RAM to one, or drop the group from "
                                        "vm_anti_affinity."))
            if keep:
                problems.append(Problem("vm_host", "VMs pinned with vm_host do not move: %s." % ", ".join(sorted(keep)),
                                        "unpin them (remove vm_host) if they may move."))
            raise PlacementError(problems or [Problem("kvm_hosts", "no valid final state.", "add room.")],
                                 title="anti-affinity cannot be restored within the hosts' budgets")
    if final is None:
        method = "greedy"
        final = _greedy_rebalance(host_specs, norm, where, limits, goals, keep)
    steps = _schedule(host_specs, norm, where, final, limits)
    used_before = {h for h in where.values()}
    used_after = {h for h in final.values()}
    freed = sorted(used_before - used_after)
    bound = rebalance_lower_bound(hosts, vms, current, goals, freed=len(freed), keep=keep)
    moved = sum(1 for v in final if final[v] != where[v])
    if keep:
        warnings.append("not moved (vm_host): %s" % ", ".join(sorted(keep)))
    return _plan_result(steps, where, final, host_specs, norm, limits, {
        "goal": goals,
        "lower_bound": bound,
        "optimal": (complete and not any(s["temporary"] for s in steps)) or len(steps) == bound,
        "method": method,
        "vms_to_move": moved,
        "hosts_freed": freed,
        "hosts_empty_after": sorted(set(host_specs) - used_after),
        "warnings": warnings,
        "limits": limits,
    })
