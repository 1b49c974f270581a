"""Migration, evacuation and rebalance plans (placement.py), checked against independent brute force.

What is asserted, precisely:
- random add/remove sequences through the model (``build_model(current=...)``)
  never move a VM that is defined on a host;
- every plan, replayed move by move by a checker written here, keeps every
  host within RAM (strictly below capacity, the seed rule), vCPU and disk and
  never makes a host exceed an anti-affinity limit it respected before the move;
- rebalance, small branches (exact search): the number of distinct VMs moved
  equals the true minimum found by exhaustive search over every final state
  (for free_hosts: the most empty hosts, then the fewest moves), and the moves
  listed are that number plus the temporary hops; the lower bound never
  exceeds the true minimum, and a plan without hops that reaches the bound is
  marked optimal; a refusal happens only when no valid final state exists or
  the moves cannot be ordered;
- rebalance, greedy path (large branches): valid steps, never fewer moves than
  the lower bound, and exactly the bound where room is plentiful;
- evacuation empties the host, moves only its VMs, once each, and refuses only
  when exhaustive search finds no room for them;
- each refusal names its variable (kvm_host, vm, target, goal, smbvdc_current_domains).
"""

import copy
import itertools
import math

from hypothesis import HealthCheck, given, settings, strategies as st
import pytest

from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import model
from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import placement
from ansible_collections.smbvdc.datacenter.plugins.plugin_utils.errors import PlacementError

from branch_fixtures import lab

# --- an independent checker -----------------------------------------------------


def limits_of(vms, where, n_hosts):
    members = {}
    for v in vms:
        if v["name"] in where:
            for g in v.get("anti_affinity") or []:
                members[g] = members.get(g, 0) + 1
    return {g: int(math.ceil(c / float(n_hosts))) for g, c in members.items()}


def usage(hosts, vms, where):
    byname = {v["name"]: v for v in vms}
    use = {h["name"]: {"ram": 0, "cpu": 0, "disk": 0, "groups": {}} for h in hosts}
    for name, h in where.items():
        v = byname[name]
        u = use[h]
        u["ram"] += v["demand_mb"]
        u["cpu"] += v.get("vcpus", 1)
        u["disk"] += v.get("disk_gb", 0)
        for g in v.get("anti_affinity") or []:
            u["groups"][g] = u["groups"].get(g, 0) + 1
    return use


def within_budget(hosts, vms, where):
    use = usage(hosts, vms, where)
    byname = {v["name"]: v for v in vms}
    for h in hosts:
        u = use[h["name"]]
        if u["ram"] and not u["ram"] < h["capacity_mb"]:
            return False
        if u["cpu"] > h["vcpu_capacity"] or u["disk"] > h["disk_capacity_gb"]:
            return False
    for name, h in where.items():
        if byname[name].get("vcpus", 1) > next(x for x in hosts if x["name"] == h)["vcpus"]:
            return False
    return True


def replay(hosts, vms, plan, limits):
    """Apply the moves one by one; assert each intermediate state; return the final one."""
    where = dict(plan["before"])
    byname = {v["name"]: v for v in vms}
    for step in plan["moves"]:
        assert where[step["vm"]] == step["from"], step
        assert step["to"] != step["from"], step
        before = usage(hosts, vms, where)[step["to"]]["groups"]
        where[step["vm"]] = step["to"]
        assert within_budget(hosts, vms, where), ("over budget after", step)
        after = usage(hosts, vms, where)[step["to"]]["groups"]
        for g in byname[step["vm"]].get("anti_affinity") or []:
            assert after[g] <= limits[g] or after[g] <= before.get(g, 0), ("anti-affinity broken by", step)
    assert where == plan["after"]
    return where


def aa_ok(hosts, vms, where, limits):
    return all(c <= limits[g] for u in usage(hosts, vms, where).values() for g, c in u["groups"].items())


def brute_rebalance(hosts, vms, where, goal):
    """(most empty hosts or 0, fewest VMs moved) over every final state; None if there is none."""
    names = [h["name"] for h in hosts]
    defined = sorted(where)
    limits = limits_of(vms, where, len(hosts))
    byname = {v["name"]: v for v in vms}
    best = None
    for combo in itertools.product(names, repeat=len(defined)):
        final = dict(zip(defined, combo))
        if not within_budget(hosts, vms, final):
            continue
        use = usage(hosts, vms, final)
        ok = True
        for name, h in final.items():
            for g in byname[name].get("anti_affinity") or []:
                over = use[h]["groups"][g] > limits[g]
                # arriving members always count; staying ones only when restoring anti-affinity
                if over and ("anti_affinity" in goal or h != where[name]):
                    ok = False
        if not ok:
            continue
        moved = sum(1 for n in defined if final[n] != where[n])
        empty = sum(1 for h in names if h not in final.values()) if "free_hosts" in goal else 0
        key = (-empty, moved)
        if best is None or key < best:
            best = key
    return best


# --- random branches ------------------------------------------------------------

HOST = st.sampled_from([(3000, 4), (5000, 4), (8000, 8)])
VM = st.tuples(st.sampled_from([400, 700, 1000, 1500, 2500]), st.integers(1, 2), st.sampled_from([10, 20, 40]),
               st.sampled_from([(), ("g0",), ("g1",), ("g0", "g1")]))


@st.composite
def branches(draw, max_hosts=3, max_vms=7):
    hosts = [{"name": "h%d" % i, "capacity_mb": ram, "vcpus": cpus, "vcpu_capacity": cpus * 2, "disk_capacity_gb": 100}
             for i, (ram, cpus) in enumerate(draw(st.lists(HOST, min_size=2, max_size=max_hosts)))]
    specs = draw(st.lists(VM, min_size=1, max_size=max_vms))
    vms = [{"name": "v%d" % i, "demand_mb": m, "vcpus": c, "disk_gb": d, "anti_affinity": list(g), "pin": None}
           for i, (m, c, d, g) in enumerate(specs)]
    wanted = draw(st.lists(st.integers(0, len(hosts) - 1), min_size=len(vms), max_size=len(vms)))
    where = {}
    for v, i in zip(vms, wanted):
        trial = dict(where, **{v["name"]: hosts[i]["name"]})
        if within_budget(hosts, vms, trial):
            where = trial          # else: not defined anywhere (takes no room, never moves)
    return hosts, vms, where


GOALS = st.sampled_from([["anti_affinity"], ["free_hosts"], ["anti_affinity", "free_hosts"]])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(branches(), GOALS)
def test_rebalance_is_valid_at_every_step_and_moves_the_fewest_vms(branch, goal):
    hosts, vms, where = branch
    best = brute_rebalance(hosts, vms, where, goal)
    limits = limits_of(vms, where, len(hosts))
    try:
        plan = placement.rebalance_plan(hosts, vms, where, goal)
    except PlacementError as exc:
        # refused only when no final state exists, or the moves cannot be ordered
        assert best is None or "cannot be ordered" in str(exc), (best, str(exc))
        return
    assert best is not None
    final = replay(hosts, vms, plan, limits)
    assert set(final) == set(where)                   # VMs not defined are never moved
    if "anti_affinity" in goal:
        assert aa_ok(hosts, vms, final, limits) and plan["anti_affinity_after"] == []
    assert plan["method"] == "exact"
    empty = sum(1 for h in hosts if h["name"] not in final.values()) if "free_hosts" in goal else 0
    assert (-empty, plan["vms_to_move"]) == best
    assert len(plan["vms_moved"]) == plan["vms_to_move"]
    assert plan["moves_count"] == plan["vms_to_move"] + plan["temporary_hops"]
    assert plan["lower_bound"] <= best[1]
    if plan["moves_count"] == plan["lower_bound"]:
        assert plan["optimal"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(branches(max_hosts=4, max_vms=7), GOALS)
def test_the_greedy_path_is_valid_and_never_beats_the_bound(branch, goal):
    hosts, vms, where = branch
    limits = limits_of(vms, where, len(hosts))
    try:
        plan = placement.rebalance_plan(hosts, vms, where, goal, exact_max_vms=0)
    except PlacementError:
        return
    assert plan["method"] == "greedy"
    final = replay(hosts, vms, plan, limits)
    if "anti_affinity" in goal:
        assert aa_ok(hosts, vms, final, limits)
    assert plan["moves_count"] >= plan["lower_bound"]


def pairs_sharing(n_pairs, n_hosts, room=64000):
    """n_pairs anti-affinity pairs, each pair on one host, plus empty roomy hosts: the bound is reachable."""
    hosts = [{"name": "k%02d" % i, "capacity_mb": room, "vcpus": 16, "vcpu_capacity": 64, "disk_capacity_gb": 4000}
             for i in range(n_hosts)]
    vms, where = [], {}
    for p in range(n_pairs):
        for j in range(2):
            name = "p%02d-%d" % (p, j)
            vms.append({"name": name, "demand_mb": 1000, "vcpus": 1, "disk_gb": 10, "anti_affinity": ["pair%d" % p]})
            where[name] = "k%02d" % (p % 2)
    return hosts, vms, where


@pytest.mark.parametrize("exact_max_vms", [0, placement.REBALANCE_EXACT_MAX_VMS])
def test_pairs_sharing_hosts_take_one_move_each(exact_max_vms):
    hosts, vms, where = pairs_sharing(5, 6)
    plan = placement.rebalance_plan(hosts, vms, where, "anti_affinity", exact_max_vms=exact_max_vms)
    assert plan["lower_bound"] == 5 == plan["moves_count"] and plan["optimal"]
    assert plan["anti_affinity_after"] == []
    replay(hosts, vms, plan, limits_of(vms, where, len(hosts)))


def test_a_swap_between_two_full_hosts_takes_a_temporary_hop():
    # a and b must trade hosts (pins elsewhere fill them); only a third host lets them pass
    hosts = [{"name": n, "capacity_mb": c, "vcpus": 8, "vcpu_capacity": 32, "disk_capacity_gb": 500}
             for n, c in (("k1", 4001), ("k2", 4001), ("k3", 3000))]
    vms = [{"name": "a", "demand_mb": 2000, "anti_affinity": ["x"]}, {"name": "a2", "demand_mb": 2000,
                                                                     "anti_affinity": ["x"]},
           {"name": "b", "demand_mb": 2000, "anti_affinity": ["y"]}, {"name": "b2", "demand_mb": 2000,
                                                                     "anti_affinity": ["y"]}]
    where = {"a": "k1", "a2": "k1", "b": "k2", "b2": "k2"}
    plan = placement.rebalance_plan(hosts, vms, where, "anti_affinity")
    assert plan["vms_to_move"] == 2 and plan["temporary_hops"] == 1 and plan["moves_count"] == 3
    assert any(m["temporary"] and m["to"] == "k3" for m in plan["moves"])
    assert not plan["optimal"] or plan["moves_count"] == plan["lower_bound"]
    replay(hosts, vms, plan, limits_of(vms, where, len(hosts)))
    # without the third host the same swap cannot be ordered: refused, naming the hosts
    with pytest.raises(PlacementError) as err:
        placement.rebalance_plan(hosts[:2], vms, where, "anti_affinity")
    assert "cannot be ordered" in str(err.value) and "k1" in str(err.value)


# --- evacuation -------------------------------------------------------------------

def brute_evacuation_possible(hosts, vms, where, host):
    others = [h for h in hosts if h["name"] != host]
    leaving = sorted(n for n, h in where.items() if h == host)
    limits = limits_of(vms, where, len(others))
    byname = {v["name"]: v for v in vms}
    for combo in itertools.product([h["name"] for h in others], repeat=len(leaving)):
        final = dict(where, **dict(zip(leaving, combo)))
        if not within_budget(hosts, vms, final):
            continue
        use = usage(hosts, vms, final)
        if all(use[final[n]]["groups"][g] <= limits[g] for n in leaving for g in byname[n].get("anti_affinity") or []):
            return True
    return False


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(branches(max_hosts=4, max_vms=7), st.integers(0, 3))
def test_evacuation_empties_the_host_within_budgets(branch, pick):
    hosts, vms, where = branch
    host = hosts[pick % len(hosts)]["name"]
    try:
        plan = placement.evacuation_plan(hosts, vms, where, host)
    except PlacementError as exc:
        assert set(exc.variables) == {"kvm_host"}
        assert not brute_evacuation_possible(hosts, vms, where, host)
        return
    limits = limits_of(vms, where, len(hosts) - 1)
    final = replay(hosts, vms, plan, limits)
    assert host not in final.values()
    leaving = sorted(n for n, h in where.items() if h == host)
    assert sorted(m["vm"] for m in plan["moves"]) == leaving          # its VMs, once each, nothing else
    assert all(m["from"] == host for m in plan["moves"])


def test_evacuating_the_only_host_names_kvm_host_and_the_fix():
    hosts = [{"name": "lab-kvm", "capacity_mb": 15000, "vcpus": 2, "vcpu_capacity": 8, "disk_capacity_gb": 40}]
    with pytest.raises(PlacementError) as err:
        placement.evacuation_plan(hosts, [{"name": "ns1", "demand_mb": 700}], {"ns1": "lab-kvm"}, "lab-kvm")
    assert err.value.variables == ["kvm_host"]
    assert "lab-kvm is the branch's only KVM host" in str(err.value)
    assert "Fix: add a second host to kvm_hosts" in str(err.value)


def test_evacuation_without_room_says_how_many_mib_are_missing_where():
    hosts = [{"name": "k%d" % i, "capacity_mb": 8000, "vcpus": 8, "vcpu_capacity": 32, "disk_capacity_gb": 500}
             for i in range(3)]
    vms = [{"name": "b%d" % i, "demand_mb": 3000} for i in range(6)]
    where = {"b%d" % i: "k%d" % (i // 2) for i in range(6)}
    with pytest.raises(PlacementError) as err:
        placement.evacuation_plan(hosts, vms, where, "k0")
    text = str(err.value)
    assert set(err.value.variables) == {"kvm_host"}
    assert "cannot leave k0" in text and "k1: 1001 MiB missing" in text and "k2: 1001 MiB missing" in text


# --- migration checks and input errors -------------------------------------------

HOSTS3 = [{"name": "k%d" % i, "capacity_mb": 8000, "vcpus": 8, "vcpu_capacity": 32, "disk_capacity_gb": 500}
          for i in range(3)]
VMS = [{"name": "ns1", "demand_mb": 800, "anti_affinity": ["dns"]}, {"name": "ns2", "demand_mb": 800,
                                                                    "anti_affinity": ["dns"]},
       {"name": "big", "demand_mb": 7000}, {"name": "web1", "demand_mb": 1800}, {"name": "new1", "demand_mb": 500}]
WHERE = {"ns1": "k0", "ns2": "k1", "big": "k2", "web1": "k0"}


@pytest.mark.parametrize("vm,target,variable,text", [
    ("nope", "k1", "vm", "'nope' is not a VM of this branch"),
    ("new1", "k1", "vm", "not defined on any KVM host yet"),
    ("web1", "k9", "target", "'k9' is not in the kvm_hosts group"),
    ("web1", "k0", "target", "web1 is already on k0"),
    ("web1", "k2", "target", "k2 has no room for web1"),
    ("ns1", "k1", "target", "k1 already runs ns2 of anti-affinity group 'dns'"),
])
def test_migration_check_names_the_variable(vm, target, variable, text):
    problems = placement.migration_check(HOSTS3, VMS, WHERE, vm, target)
    assert problems and {p.variable for p in problems} == {variable}
    assert any(text in str(p) for p in problems), problems
    assert all(p.fix for p in problems)
    with pytest.raises(PlacementError):
        placement.migration_plan(HOSTS3, VMS, WHERE, vm, target)


def test_a_possible_migration_has_no_problem_and_one_move():
    assert placement.migration_check(HOSTS3, VMS, WHERE, "web1", "k1") == []
    plan = placement.migration_plan(HOSTS3, VMS, WHERE, "web1", "k1")
    assert plan["moves"] == [{"vm": "web1", "from": "k0", "to": "k1", "temporary": False}]


def test_unknown_goal_and_unknown_current_host_name_their_variable():
    with pytest.raises(PlacementError) as err:
        placement.rebalance_plan(HOSTS3, VMS, WHERE, "pack")
    assert err.value.variables == ["goal"]
    with pytest.raises(PlacementError) as err:
        placement.rebalance_plan(HOSTS3, VMS, dict(WHERE, web1="k7"), "anti_affinity")
    assert err.value.variables == ["smbvdc_current_domains"]


def test_rebalance_keeps_vms_pinned_with_vm_host():
    where = {"ns1": "k0", "ns2": "k0"}
    plan = placement.rebalance_plan(HOSTS3, VMS[:2], where, "anti_affinity", keep=["ns1"])
    assert [m["vm"] for m in plan["moves"]] == ["ns2"]
    with pytest.raises(PlacementError):
        placement.rebalance_plan(HOSTS3, VMS[:2], where, "anti_affinity", keep=["ns1", "ns2"])


def test_lower_bound_for_anti_affinity_is_one_per_extra_member():
    vms = [{"name": "a%d" % i, "demand_mb": 500, "anti_affinity": ["a"]} for i in range(3)]
    vms += [{"name": "b%d" % i, "demand_mb": 500, "anti_affinity": ["b"]} for i in range(2)]
    where = {"a0": "k0", "a1": "k0", "a2": "k0", "b0": "k1", "b1": "k1"}
    # limits: a 3 members / 3 hosts -> 1, b -> 1: (3 - 1) + (2 - 1)
    assert placement.rebalance_lower_bound(HOSTS3, vms, where, "anti_affinity") == 3
    assert placement.rebalance_plan(HOSTS3, vms, where, "anti_affinity")["moves_count"] == 3


# --- reality first through the model ----------------------------------------------

def model_branch():
    b, inv = lab()
    b = copy.deepcopy(b)
    b["networks"][0]["mode"] = "bridge"
    inv = {"groups": {"kvm_hosts": ["kvm1", "kvm2", "kvm3"], "dns_primary": ["ns1"], "dns_secondary": ["ns2"],
                      "web": []},
           "hostvars": {k: {"kvm_memory_mb": 16000, "kvm_vcpus": 8, "kvm_disk_gb": 1000, "kvm_os_reserve_mb": 500}
                        for k in ("kvm1", "kvm2", "kvm3")}}
    inv["hostvars"]["ns1"] = {"vm_memory_mb": 512}
    inv["hostvars"]["ns2"] = {"vm_memory_mb": 512}
    return b, inv


OPS = st.lists(st.tuples(st.booleans(), st.sampled_from([256, 512, 1024, 2048, 4096, 6000]),
                         st.integers(0, 2)), min_size=1, max_size=12)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(OPS, st.booleans())
def test_model_add_remove_sequences_never_move_a_defined_vm(ops, dns_share):
    b, inv = model_branch()
    # where the VMs are defined now; the DNS pair may share a host (a branch that grew from one host)
    where = {"ns1": "kvm1", "ns2": "kvm1" if dns_share else "kvm2"}
    for i, (add, mem, pick) in enumerate(ops):
        web = inv["groups"]["web"]
        if not add and web:
            gone = web[pick % len(web)]
            web.remove(gone)
            del inv["hostvars"][gone]
            where.pop(gone, None)
            continue
        name = "web%d" % i
        web.append(name)
        inv["hostvars"][name] = {"vm_memory_mb": mem}
        current = {}
        for vm, host in where.items():
            current.setdefault(host, []).append(vm)
        try:
            m = model.build_model(b, inv, current=current)
        except PlacementError:
            web.remove(name)           # does not fit: the inventory line is taken back, nothing moved
            del inv["hostvars"][name]
            continue
        for vm, host in where.items():
            assert m["vms"][vm]["kvm_host"] == host and m["vms"][vm]["placed_by"] == "current"
        assert m["vms"][name]["placed_by"] == "placement"
        if dns_share:
            assert any("ns2 is defined on kvm1 together with ns1" in w for w in m["warnings"])
        where[name] = m["vms"][name]["kvm_host"]       # converged: now defined there
