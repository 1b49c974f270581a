#!/usr/bin/env python3
"""Placement benchmark: smbvdc.datacenter.vm_placement against the exact optimum.

Seeded random instances (<= 12 VMs, 1-4 hosts, some anti-affinity pairs) are
solved by the collection's placement and by an independent exhaustive search
written here (it shares no code with plugins/plugin_utils/placement.py). For
comparison the same instances are also solved by plain first-fit-decreasing
(the baseline). Objective: all VMs placed on as few hosts as possible.

Stability (reality first): 1000 random sequences on 10 hosts start from 100
placed VMs, remove a few at random and add one; the VMs already placed keep
their host as the placement's pins (``current``), as playbooks/placement.yml
does. The baseline in the same run places every VM afresh from the inventory,
as the model did before: ``moved_on_add`` counts VMs that would change host.

Rebalance: seeded random branches (3-6 hosts, 6-30 VMs defined where they
were first put, anti-affinity pairs that may share a host, as in a branch
that grew from one host) are rebalanced for anti_affinity, free_hosts or
both. ``rebalance_moves_ratio`` is the live migrations of all plans over the
sum of their lower bounds (``placement.rebalance_lower_bound``: no plan can
use fewer; 1.000 means every plan met its bound). Every plan is replayed
here move by move against the budgets. The baseline in the same run places
the same VMs afresh (``place()``) and counts the VMs that change host.

Prints, last, one line:
  placement: optimal=<pct>% worst_ratio=<x> time_1000vms_100hosts=<s>s moved_on_add=<n> rebalance_moves_ratio=<r>

Exit status is non-zero only when a placement is invalid or breaks the FFD
bound (11/9 OPT + 6/9); the figures themselves are reported, not asserted.
"""

import argparse
import os
import random
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
import conftest  # noqa: E402,F401  (puts ansible_collections.smbvdc.datacenter on sys.path)

from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import placement  # noqa: E402
from ansible_collections.smbvdc.datacenter.plugins.plugin_utils.errors import PlacementError  # noqa: E402

SIZES = [256, 384, 512, 768, 1024, 1536, 2048, 3072, 4096, 6144, 8192]
HOST_RAM = [4096, 8192, 12288, 16384, 24576, 32768]


def instance(rng):
    n_hosts = rng.randint(1, 4)
    hosts = []
    for i in range(n_hosts):
        ram = rng.choice(HOST_RAM)
        threads = rng.choice([2, 4, 8])
        hosts.append({"name": "h%d" % i, "capacity_mb": ram - 1024, "vcpus": threads,
                      "vcpu_capacity": threads * 4, "disk_capacity_gb": rng.choice([100, 200, 500])})
    total = sum(h["capacity_mb"] for h in hosts)
    n_vms = rng.randint(2, 12)
    vms = []
    pairs = rng.randint(0, 2)
    for i in range(n_vms):
        anti = ["pair%d" % (i // 2)] if i < 2 * pairs else []
        vms.append({"name": "v%02d" % i, "demand_mb": rng.choice(SIZES) + 200, "vcpus": rng.choice([1, 1, 2, 4]),
                    "disk_gb": rng.choice([10, 20, 40]), "anti_affinity": anti, "pin": None})
    # keep most instances near full so packing matters
    scale = rng.uniform(0.4, 0.95) * total / max(1, sum(v["demand_mb"] for v in vms))
    for v in vms:
        v["demand_mb"] = max(300, int(v["demand_mb"] * min(scale, 3)))
    return hosts, vms


def exhaustive_optimum(hosts, vms):
    """Fewest hosts used by any valid assignment (None if none): an independent DFS."""
    n = len(hosts)
    members = {}
    for v in vms:
        for g in v["anti_affinity"]:
            members[g] = members.get(g, 0) + 1
    limit = {g: -(-c // n) for g, c in members.items()}
    order = sorted(vms, key=lambda v: -v["demand_mb"])
    ram = [0] * n
    cpu = [0] * n
    disk = [0] * n
    cnt = [dict() for _ in range(n)]
    used = [0] * n
    best = [None]

    def ok(h, v):
        H = hosts[h]
        return (ram[h] + v["demand_mb"] < H["capacity_mb"] and cpu[h] + v["vcpus"] <= H["vcpu_capacity"]
                and v["vcpus"] <= H["vcpus"] and disk[h] + v["disk_gb"] <= H["disk_capacity_gb"]
                and all(cnt[h].get(g, 0) < limit[g] for g in v["anti_affinity"]))

    def dfs(i):
        k = sum(1 for u in used if u)
        if best[0] is not None and k >= best[0]:
            return
        if i == len(order):
            best[0] = k
            return
        v = order[i]
        seen_empty = set()
        for h in range(n):
            if not used[h]:
                sig = (hosts[h]["capacity_mb"], hosts[h]["vcpu_capacity"], hosts[h]["vcpus"], hosts[h]["disk_capacity_gb"])
                if sig in seen_empty:
                    continue
                seen_empty.add(sig)
            if ok(h, v):
                ram[h] += v["demand_mb"]; cpu[h] += v["vcpus"]; disk[h] += v["disk_gb"]; used[h] += 1
                for g in v["anti_affinity"]:
                    cnt[h][g] = cnt[h].get(g, 0) + 1
                dfs(i + 1)
                ram[h] -= v["demand_mb"]; cpu[h] -= v["vcpus"]; disk[h] -= v["disk_gb"]; used[h] -= 1
                for g in v["anti_affinity"]:
                    cnt[h][g] -= 1

    dfs(0)
    return best[0]


def ffd_only(hosts, vms):
    """Baseline: plain FFD with the collection's fit rules, no exact search."""
    hs = [placement._Host(h) for h in hosts]
    norm = [placement._normalise_vm(v) for v in vms]
    limits = placement.group_limits(norm, len(hosts))
    _, unplaced = placement.ffd(hs, norm, limits)
    return None if unplaced else sum(1 for h in hs if h.vms)


def valid(hosts, vms, assignment):
    byname = {h["name"]: h for h in hosts}
    usage = {}
    for v in vms:
        usage.setdefault(assignment[v["name"]], []).append(v)
    for h, placed in usage.items():
        H = byname[h]
        if sum(v["demand_mb"] for v in placed) >= H["capacity_mb"]:
            return False
        if sum(v["vcpus"] for v in placed) > H["vcpu_capacity"]:
            return False
        if sum(v["disk_gb"] for v in placed) > H["disk_capacity_gb"]:
            return False
    return True


def big_instance(seed=1):
    rng = random.Random(seed)
    hosts = [{"name": "h%03d" % i, "capacity_mb": rng.choice(HOST_RAM) * 2 - 2048, "vcpus": 32, "vcpu_capacity": 128,
              "disk_capacity_gb": 4000} for i in range(100)]
    vms = [{"name": "v%04d" % i, "demand_mb": rng.choice(SIZES) + 200, "vcpus": rng.choice([1, 2, 4]),
            "disk_gb": rng.choice([10, 20, 40]), "anti_affinity": ["pair%d" % (i // 2)] if i < 100 else [], "pin": None}
           for i in range(1000)]
    return hosts, vms


def stability(rng, sequences, n_hosts=10, n_vms=100):
    """(moved with reality first, moved when placed afresh, adds done) over random add/remove sequences."""
    moved = moved_fresh = adds = 0
    for seq in range(sequences):
        hosts = [{"name": "h%02d" % i, "capacity_mb": rng.choice(HOST_RAM) * 2, "vcpus": 32, "vcpu_capacity": 128,
                  "disk_capacity_gb": 4000} for i in range(n_hosts)]
        vms = [{"name": "s%d-v%03d" % (seq, i), "demand_mb": rng.choice(SIZES[:8]) + 200, "vcpus": rng.choice([1, 2]),
                "disk_gb": 20, "anti_affinity": ["pair%d" % (i // 2)] if i < 20 else [], "pin": None}
               for i in range(n_vms)]
        try:
            where = placement.place(hosts, vms)["placement"]
        except PlacementError:
            continue
        for _ in range(rng.randint(0, 3)):          # some VMs go away
            gone = rng.choice(vms)
            vms.remove(gone)
            where.pop(gone["name"])
        new = {"name": "s%d-new" % seq, "demand_mb": rng.choice(SIZES) + 200, "vcpus": rng.choice([1, 2, 4]),
               "disk_gb": 20, "anti_affinity": [], "pin": None}
        current = [dict(v, pin=where[v["name"]], current=True) for v in vms]
        try:
            kept = placement.place(hosts, current + [new])["placement"]
            fresh = placement.place(hosts, vms + [new])["placement"]
        except PlacementError:
            continue
        adds += 1
        moved += sum(1 for v in vms if kept[v["name"]] != where[v["name"]])
        moved_fresh += sum(1 for v in vms if fresh[v["name"]] != where[v["name"]])
    return moved, moved_fresh, adds


def rebalance_branch(rng):
    n_hosts = rng.randint(3, 6)
    hosts = [{"name": "k%d" % i, "capacity_mb": rng.choice(HOST_RAM), "vcpus": 8, "vcpu_capacity": 32,
              "disk_capacity_gb": 1000} for i in range(n_hosts)]
    n_vms = rng.randint(6, 30)
    pairs = rng.randint(1, 4)
    vms = [{"name": "v%02d" % i, "demand_mb": rng.choice(SIZES[:7]) + 200, "vcpus": rng.choice([1, 1, 2]),
            "disk_gb": rng.choice([10, 20]), "anti_affinity": ["pair%d" % (i // 2)] if i < 2 * pairs else [],
            "pin": None} for i in range(n_vms)]
    used = {h["name"]: [0, 0] for h in hosts}
    where = {}
    # defined where they were first put: the first hosts fill first (a branch that grew)
    for v in vms:
        for h in hosts[:rng.randint(1, n_hosts)]:
            u = used[h["name"]]
            if u[0] + v["demand_mb"] < h["capacity_mb"] and u[1] + v["vcpus"] <= h["vcpu_capacity"]:
                u[0] += v["demand_mb"]
                u[1] += v["vcpus"]
                where[v["name"]] = h["name"]
                break
    return hosts, vms, where


def replay_ok(hosts, vms, plan):
    """Every intermediate state of the plan within RAM, vCPU and disk (checked here, not by placement.py)."""
    where = dict(plan["before"])
    byname = {v["name"]: v for v in vms}
    for step in plan["moves"]:
        where[step["vm"]] = step["to"]
        if not valid(hosts, [byname[n] for n in where], where):
            return False
    return where == plan["after"]


def rebalance_figures(rng, branches):
    """(moves, lower bounds, baseline moves, bounds for the baseline, plans, refused, invalid, seconds)."""
    goals = (["anti_affinity"], ["free_hosts"], ["anti_affinity", "free_hosts"])
    moves = bound = base_moves = base_bound = plans = refused = invalid = 0
    t0 = time.perf_counter()
    for i in range(branches):
        hosts, vms, where = rebalance_branch(rng)
        goal = goals[i % 3]
        try:
            plan = placement.rebalance_plan(hosts, vms, where, goal)
        except PlacementError:
            refused += 1
            continue
        plans += 1
        if not replay_ok(hosts, vms, plan):
            invalid += 1
        if plan["lower_bound"] == 0:
            continue
        moves += plan["moves_count"]
        bound += plan["lower_bound"]
        try:
            fresh = placement.place(hosts, [v for v in vms if v["name"] in where])["placement"]
        except PlacementError:
            continue
        base_moves += sum(1 for n in where if fresh[n] != where[n])
        base_bound += plan["lower_bound"]
    return moves, bound, base_moves, base_bound, plans, refused, invalid, time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--instances", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--quick", action="store_true", help="200 instances (used by make test)")
    args = ap.parse_args()
    n = 200 if args.quick else args.instances
    rng = random.Random(args.seed)

    optimal = ffd_optimal = feasible = infeasible = ffd_failed = 0
    worst = ffd_worst = 1.0
    bad = []
    t_ours = t_opt = 0.0
    for i in range(n):
        hosts, vms = instance(rng)
        t0 = time.perf_counter()
        opt = exhaustive_optimum(hosts, vms)
        t1 = time.perf_counter()
        try:
            r = placement.place(hosts, vms)
            ours = r["hosts_used"]
            if not valid(hosts, vms, r["placement"]):
                bad.append("instance %d: invalid placement" % i)
        except PlacementError:
            ours = None
        t2 = time.perf_counter()
        t_opt += t1 - t0
        t_ours += t2 - t1
        base = ffd_only(hosts, vms)
        if opt is None:
            infeasible += 1
            if ours is not None:
                bad.append("instance %d: placed although the exhaustive search finds no valid placement" % i)
            continue
        feasible += 1
        if ours is None:
            bad.append("instance %d: no placement found although %d host(s) suffice" % (i, opt))
            worst = float("inf")
            continue
        optimal += ours == opt
        worst = max(worst, ours / float(opt))
        if ours > 11.0 / 9 * opt + 6.0 / 9:
            bad.append("instance %d: %d hosts breaks the FFD bound for OPT=%d" % (i, ours, opt))
        if base is None:
            ffd_failed += 1
        else:
            ffd_optimal += base == opt
            ffd_worst = max(ffd_worst, base / float(opt))

    hosts, vms = big_instance()
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        big = placement.place(hosts, vms)
        times.append(time.perf_counter() - t0)
    if not valid(hosts, vms, big["placement"]):
        bad.append("1000-VM instance: invalid placement")
    t_big = statistics.median(times)

    t0 = time.perf_counter()
    moved, moved_fresh, adds = stability(random.Random(args.seed), 50 if args.quick else 1000)
    t_stab = time.perf_counter() - t0

    r_moves, r_bound, r_base, r_base_bound, r_plans, r_refused, r_invalid, t_reb = rebalance_figures(
        random.Random(args.seed), 100 if args.quick else 600)
    r_ratio = r_moves / float(r_bound) if r_bound else float("nan")

    pct = 100.0 * optimal / max(1, feasible)
    ffd_pct = 100.0 * ffd_optimal / max(1, feasible)
    print("instances: %d (feasible %d, infeasible %d), seed %d" % (n, feasible, infeasible, args.seed))
    print("optimal = share of feasible instances solved with the fewest hosts possible")
    print("baseline plain FFD: optimal=%.1f%% worst_ratio=%.3f (found no placement on %d feasible instances)"
          % (ffd_pct, ffd_worst, ffd_failed))
    print("vm_placement:       optimal=%.1f%% worst_ratio=%.3f (%.2fx the baseline's optimal share)"
          % (pct, worst, pct / ffd_pct if ffd_pct else float("inf")))
    print("time: vm_placement %.3f s total, exhaustive search %.3f s total (ratio %.2f)"
          % (t_ours, t_opt, t_ours / t_opt if t_opt else float("nan")))
    print("1000 VMs over 100 hosts: runs %s s, hosts used %d, method %s"
          % (", ".join("%.3f" % t for t in times), big["hosts_used"], big["method"]))
    print("stability: %d adds to 10 hosts x ~100 placed VMs (%.1f s): VMs moved with reality first %d, "
          "placed afresh from the inventory (baseline) %d (%.2f per add)"
          % (adds, t_stab, moved, moved_fresh, moved_fresh / float(max(1, adds))))
    print("rebalance: %d random branches (%.1f s), %d plans, %d refused (no valid final state or order); "
          "live migrations %d against a lower bound of %d (ratio %.3f); placed afresh (baseline) %d VMs would "
          "change host against the same bounds %d (ratio %.3f)"
          % (r_plans + r_refused, t_reb, r_plans, r_refused, r_moves, r_bound, r_ratio, r_base, r_base_bound,
             r_base / float(r_base_bound) if r_base_bound else float("nan")))
    if moved:
        bad.append("reality first moved %d placed VMs" % moved)
    if r_invalid:
        bad.append("%d rebalance plans overfill a host at some step" % r_invalid)
    for line in bad[:20]:
        print("PROBLEM: %s" % line)
    print("placement: optimal=%.1f%% worst_ratio=%.3f time_1000vms_100hosts=%.3fs moved_on_add=%d "
          "rebalance_moves_ratio=%.3f" % (pct, worst, t_big, moved, r_ratio))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
