"""migrate.yml, evacuate.yml and rebalance.yml: the plan and every refusal, on the controller only.

The branch of ``tests/inventories/multi-host`` has three KVM hosts that do
not exist (TEST-NET addresses). Where the VMs are defined is given with
``-e smbvdc_current_domains=...``, which makes ``placement.yml`` skip reading
the hosts, so no host is contacted: the recap must list localhost only.
These tests cover planning, check mode and the failures before any move;
the live migrations themselves need two real libvirt hosts and are not run
here.
"""

import json
import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]
MULTI = ROOT / "tests" / "inventories" / "multi-host"
# ns1 and ns2 share kvm1 (anti-affinity broken, as after a branch grew from one host)
SHARED = {"kvm1": ["ns1", "ns2", "mail1"], "kvm2": ["web1", "big1"], "kvm3": ["web2"]}
SPREAD = {"kvm1": ["ns1", "mail1"], "kvm2": ["web1", "big1"], "kvm3": ["ns2", "web2"]}


def _ansible_playbook():
    local = pathlib.Path(sys.executable).parent / "ansible-playbook"
    return str(local) if local.exists() else "ansible-playbook"


def run(playbook, *args, inventory=MULTI, current=SHARED, check=False):
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    cmd = [_ansible_playbook(), "-i", str(inventory), str(ROOT / "playbooks" / playbook)]
    if current is not None:
        cmd += ["-e", json.dumps({"smbvdc_current_domains": current})]
    for a in args:
        cmd += ["-e", a]
    if check:
        cmd.append("--check")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=str(ROOT), timeout=120)
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out, out
    recap = out.split("PLAY RECAP", 1)[-1]
    # no KVM host contacted: only the controller in the recap
    assert re.findall(r"^(\S+)\s+:\s+ok=", recap, re.M) == ["localhost"], recap
    return proc.returncode, out


def plan_lines(out):
    return re.findall(r"^\s+- '(\d+\. [^: ]+: [^ ]+ -> [^ ']+)", out, re.M)


@pytest.mark.parametrize("playbook", ["migrate.yml", "evacuate.yml", "rebalance.yml"])
def test_syntax_check(playbook):
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"))
    proc = subprocess.run([_ansible_playbook(), "-i", str(MULTI), "--syntax-check", str(ROOT / "playbooks" / playbook)],
                          capture_output=True, text=True, env=env, cwd=str(ROOT), timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_rebalance_prints_the_fewest_moves_and_applies_nothing_without_apply():
    rc, out = run("rebalance.yml")
    assert rc == 0, out
    assert plan_lines(out) == ["1. ns2: kvm1 -> kvm3"], out
    assert "lower bound): 1; this plan: 1, proved fewest" in out
    assert "run again with -e apply=true" in out
    assert "changed=0" in out and "skipping: [localhost] => (item=ns2: kvm1 -> kvm3)" in out


def test_rebalance_in_check_mode_with_apply_still_moves_nothing():
    rc, out = run("rebalance.yml", "apply=true", check=True)
    assert rc == 0, out
    assert "shown only, nothing is moved" in out
    assert "skipping: [localhost] => (item=ns2: kvm1 -> kvm3)" in out


def test_rebalance_with_nothing_to_fix_plans_no_move():
    rc, out = run("rebalance.yml", current=SPREAD)
    assert rc == 0, out
    assert plan_lines(out) == [] and "0 move(s)" in out


def test_rebalance_unknown_goal_names_the_variable():
    rc, out = run("rebalance.yml", "goal=pack")
    assert rc != 0
    assert "goal: 'pack' is not a rebalance goal" in out and "Fix: use anti_affinity, free_hosts" in out


def test_evacuate_in_check_mode_shows_the_plan():
    rc, out = run("evacuate.yml", "kvm_host=kvm2", check=True)
    assert rc == 0, out
    lines = plan_lines(out)
    assert sorted(l.split(" ", 1)[1].split(":")[0] for l in lines) == ["big1", "web1"], out
    assert all("kvm2 ->" in l for l in lines)
    assert "shown only, nothing is moved" in out


def test_evacuate_without_room_fails_before_any_move_per_vm_and_host():
    # the dns pair may not share a host, and kvm2 lacks the RAM for the second one
    rc, out = run("evacuate.yml", "kvm_host=kvm1")
    assert rc != 0
    assert "kvm_host: ns2 (812 MiB incl. overhead" in out and "cannot leave kvm1" in out
    assert "kvm2: 413 MiB missing" in out and "Fix: make room on another host first" in out


def test_evacuate_unknown_host():
    rc, out = run("evacuate.yml", "kvm_host=kvm9")
    assert rc != 0
    assert "kvm_host: 'kvm9' is not in the kvm_hosts group. Fix: use one of: kvm1, kvm2, kvm3." in out


def test_evacuate_without_kvm_host():
    rc, out = run("evacuate.yml")
    assert rc != 0
    assert "kvm_host is not set. Fix: -e kvm_host=" in out


def test_evacuating_the_only_host_fails(tmp_path):
    inv = tmp_path / "lab"
    shutil.copytree(ROOT / "inventories" / "lab", inv, ignore=shutil.ignore_patterns(".smbvdc"))
    rc, out = run("evacuate.yml", "kvm_host=lab-kvm", inventory=inv, current={"lab-kvm": ["ns1", "ns2"]})
    assert rc != 0
    assert "kvm_host: lab-kvm is the branch's only KVM host" in out
    assert "Fix: add a second host to kvm_hosts" in out


def test_migrate_in_check_mode_shows_the_move():
    rc, out = run("migrate.yml", "vm=web1", "target=kvm3", check=True)
    assert rc == 0, out
    assert plan_lines(out) == ["1. web1: kvm2 -> kvm3"], out


def test_migrate_to_a_target_without_the_budget():
    rc, out = run("migrate.yml", "vm=mail1", "target=kvm2")
    assert rc != 0
    assert "target: kvm2 has no room for mail1" in out and "MiB missing" in out
    assert "Fix: choose a host with room (kvm3)" in out


def test_migrate_against_anti_affinity():
    rc, out = run("migrate.yml", "vm=ns1", "target=kvm3", current=SPREAD)
    assert rc != 0
    assert "target: kvm3 already runs ns2 of anti-affinity group 'dns'" in out


@pytest.mark.parametrize("args,expected", [
    (("vm=nope", "target=kvm2"), "vm: 'nope' is not a VM of this branch"),
    (("vm=web1", "target=kvm9"), "target: 'kvm9' is not in the kvm_hosts group"),
    (("vm=web1", "target=kvm2"), "target: web1 is already on kvm2"),
    (("vm=web1",), "vm and target must both be given"),
])
def test_migrate_bad_input(args, expected):
    rc, out = run("migrate.yml", *args)
    assert rc != 0
    assert expected in out, out
