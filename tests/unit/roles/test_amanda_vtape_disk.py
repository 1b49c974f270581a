"""amanda_vtape_disk of the amanda role: its default from the model and its preflight check.

Runs the real playbooks/preflight.yml on a copy of the lab inventory, then, on
localhost only, the role's defaults, vars and tasks/preflight.yml (asserts; no
host is contacted, nothing changes).
"""

import os
import pathlib
import shutil
import subprocess
import sys

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[3]
ROLE = ROOT / "roles" / "amanda"
BAK1 = ["all", "children", "vms", "children", "backup", "hosts", "bak1"]

PLAY = """
- ansible.builtin.import_playbook: {root}/playbooks/preflight.yml

- name: The amanda role's variables on the controller
  hosts: localhost
  connection: local
  gather_facts: false
  vars_files:
    - {role}/defaults/main.yml
    - {role}/vars/main.yml
  tasks:
    - name: The role's preflight
      ansible.builtin.include_tasks: {role}/tasks/preflight.yml
      vars: {task_vars}

    - name: Show the vtape disk
      ansible.builtin.debug:
        msg: "vtape disk=[{{{{ amanda_vtape_disk }}}}] device=[{{{{ __amanda_vtape_device }}}}]"
"""


def _ansible_playbook():
    local = pathlib.Path(sys.executable).parent / "ansible-playbook"
    return str(local) if local.exists() else "ansible-playbook"


@pytest.fixture
def lab(tmp_path):
    inv = tmp_path / "lab"
    shutil.copytree(ROOT / "inventories" / "lab", inv, ignore=shutil.ignore_patterns(".smbvdc"))
    play = tmp_path / "play.yml"
    play.write_text(PLAY.format(root=ROOT, role=ROLE, task_vars="{}"))
    return inv, play


def _bak1(inv, change):
    data = yaml.safe_load((inv / "hosts.yml").read_text())
    node = data
    for key in BAK1:
        node = node[key]
    change(node)
    (inv / "hosts.yml").write_text(yaml.safe_dump(data, sort_keys=False))


def _run(inv, play, *extra):
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    proc = subprocess.run([_ansible_playbook(), "-i", str(inv), str(play)] + list(extra), capture_output=True,
                          text=True, env=env, cwd=str(ROOT), timeout=120)
    return proc.returncode, proc.stdout + proc.stderr


def test_lab_bak1_keeps_its_vtapes_on_the_data_disk(lab):
    inv, play = lab
    rc, out = _run(inv, play)
    assert rc == 0, out
    assert "vtape disk=[vtapes] device=[/dev/disk/by-id/virtio-smbvdc-vtapes]" in out


def test_without_that_data_disk_the_vtapes_stay_on_the_system_disk(lab):
    inv, play = lab
    _bak1(inv, lambda h: h.update(vm_data_disks=[{"name": "drbd0", "size_gb": 2}]))
    rc, out = _run(inv, play)
    assert rc == 0, out
    assert "vtape disk=[]" in out


def test_a_vtape_disk_the_server_does_not_have_fails_naming_the_fix(lab):
    """The role's own assert (the role used alone, the value given to it rather than in the inventory)."""
    inv, play = lab
    play.write_text(PLAY.format(root=ROOT, role=ROLE, task_vars="{amanda_vtape_disk: backups}"))
    rc, out = _run(inv, play)
    assert rc != 0
    assert "amanda_vtape_disk is 'backups', but the backup server bak1 has no such data disk" in out, out
    assert "its vm_data_disks: vtapes" in out and "add {name: backups, size_gb: <GiB>}" in out
    assert "Traceback" not in out


def test_a_vtape_disk_the_server_does_not_have_fails_in_preflight(lab):
    """In the inventory (here as an extra variable), the preflight play stops it before any host changes."""
    inv, play = lab
    rc, out = _run(inv, play, "-e", "amanda_vtape_disk=backups")
    assert rc != 0
    assert "hostvars['bak1'].amanda_vtape_disk: is 'backups', which is not a data disk of bak1 (its vm_data_disks: " \
           "vtapes)" in out, out
    assert "add {name: backups, size_gb: <GiB>} to vm_data_disks of bak1" in out
    assert "The role's preflight" not in out and "Traceback" not in out
