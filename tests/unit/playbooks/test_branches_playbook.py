"""``playbooks/branches.yml`` on the controller: several branches validated together.

The test inventories are copied to a temporary directory (the run writes the
pair's TSIG secret into each inventory's .smbvdc/secrets). Each run must
contact no host but the controller, print no traceback and never the secret.
"""

import os
import pathlib
import re
import shutil
import stat
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]
PLAYBOOK = str(ROOT / "playbooks" / "branches.yml")
KEY = "smbvdc-xfr.branch-a.branch-b"


def _ansible_playbook():
    local = pathlib.Path(sys.executable).parent / "ansible-playbook"
    return str(local) if local.exists() else "ansible-playbook"


def run(*args):
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    proc = subprocess.run([_ansible_playbook(), PLAYBOOK] + list(args), capture_output=True, text=True, env=env,
                          cwd=str(ROOT), timeout=120)
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out, out
    recap = out.split("PLAY RECAP", 1)[-1]
    assert re.findall(r"^(\S+)\s+:\s+ok=", recap, re.M) in ([], ["localhost"]), recap
    return proc.returncode, out


@pytest.fixture
def invs(tmp_path):
    for name in ("branch-a", "branch-b", "branch-b-overlap"):
        shutil.copytree(ROOT / "tests" / "inventories" / name, tmp_path / name, ignore=shutil.ignore_patterns(".smbvdc"))
    return tmp_path


def test_two_branches_pass_and_share_a_pair_key(invs):
    rc, out = run("-e", "branches=%s,%s" % (invs / "branch-a", invs / "branch-b"))
    assert rc == 0, out
    assert "ns2 of branch branch-b (10.32.0.11) is a DNS secondary of branch branch-a" in out
    files = [invs / b / ".smbvdc" / "secrets" / ("%s.tsig" % KEY) for b in ("branch-a", "branch-b")]
    secrets = [f.read_text().strip() for f in files]
    assert secrets[0] == secrets[1] and len(secrets[0]) == 44
    for f in files:
        assert stat.S_IMODE(f.stat().st_mode) == 0o600
    assert secrets[0] not in out
    # a second run keeps the secret and changes nothing
    rc, out = run("-e", "branches=%s,%s" % (invs / "branch-a", invs / "branch-b"))
    assert rc == 0, out
    assert re.search(r"localhost\s+: ok=\d+\s+changed=0", out), out
    assert files[1].read_text().strip() == secrets[0]


def test_each_inventory_source_is_read_on_its_own(invs):
    rc, out = run("-i", str(invs / "branch-a"), "-i", str(invs / "branch-b"), "--skip-tags", "secrets")
    assert rc == 0, out
    assert "10.32.0.11" in out
    assert not (invs / "branch-a" / ".smbvdc").exists()


def test_overlapping_subnets_fail(invs):
    rc, out = run("-e", "branches=%s,%s" % (invs / "branch-a", invs / "branch-b-overlap"))
    assert rc != 0, out
    assert "%s: smbvdc_branch.networks['lan'].ipv4: 10.31.0.0/16 overlaps 10.31.0.0/24" % (invs / "branch-b-overlap") \
        in out, out
    assert not (invs / "branch-a" / ".smbvdc").exists()


def test_cross_branch_secondary_whose_branch_is_not_given_fails(invs):
    rc, out = run("-e", "branches=%s" % (invs / "branch-a"))
    assert rc != 0, out
    assert "smbvdc_branch.dns.remote_secondaries[0].branch: names branch branch-b, which is not among the " \
           "branches given (branch-a)" in out, out
