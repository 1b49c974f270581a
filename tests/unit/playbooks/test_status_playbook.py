"""``playbooks/status.yml`` wired end to end on the controller, no VM contacted.

With ``smbvdc_current_domains`` given (the KVM hosts are not read, as in
the placement's own tests) and only the VM checks, every VM is "not
checked": the play must still print the table and the summary line, write
status.json in the report schema (``ok`` null), not count a not-checked
item as passed, and pass, in check mode too. The network checks themselves
are tested in tests/unit/plugins/plugin_utils/test_status.py.
"""

import json
import os
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]
LAB = ROOT / "inventories" / "lab"


def _ansible_playbook():
    local = pathlib.Path(sys.executable).parent / "ansible-playbook"
    return str(local) if local.exists() else "ansible-playbook"


@pytest.mark.parametrize("check_mode", [False, True])
def test_status_without_reading_the_hosts(tmp_path, check_mode):
    extra = {"smbvdc_current_domains": {"lab-kvm": ["ns1", "ns2", "mail1", "web1", "mon1", "bak1"]},
             "status_sections": ["vms"], "status_report_dir": str(tmp_path)}
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    cmd = [_ansible_playbook(), str(ROOT / "playbooks" / "status.yml"), "-i", str(LAB), "-e", json.dumps(extra)]
    proc = subprocess.run(cmd + (["--check"] if check_mode else []), capture_output=True, text=True, env=env,
                          cwd=str(ROOT), timeout=300)
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out, out
    assert proc.returncode == 0, out
    recap = out.split("PLAY RECAP", 1)[-1]
    assert re.findall(r"^(\S+)\s+:\s+ok=", recap, re.M) == ["localhost"], recap
    assert re.search(r"^\s*check\s+host\s+result\s+detail$", out, re.M), out
    assert "status: 0 passed, 0 failed, 7 not checked" in out
    results = json.loads((tmp_path / "status.json").read_text())
    assert len(results) == 7 and all(r["ok"] is None for r in results)
    assert all(set(r) == {"check", "host", "ok", "detail", "time"} for r in results)
    assert {r["host"] for r in results} == {"ns1", "ns2", "mail1", "web1", "mon1", "bak1", "lab-kvm"}
