"""The file cloud's inputs through the first plays of ``playbooks/web.yml``.

A copy of ``inventories/lab`` gets the group ``owncloud`` (web1, with the
memory Moodle and Nextcloud need), then the real ``playbooks/preflight.yml``
and the real "Check the applications' inputs" play of ``playbooks/web.yml``
(read from the file, run on web1 with a local connection: its tasks only
assert, and stat on the controller) run with the Nextcloud archive settings
of each case. A missing checksum, a checksum that does not match, a missing
local archive or a plain-HTTP URL fail there, before any host changes,
naming the variable; ``nextcloud_install: false`` needs no archive.
"""

import hashlib
import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[3]


def _ansible_playbook():
    local = pathlib.Path(sys.executable).parent / "ansible-playbook"
    return str(local) if local.exists() else "ansible-playbook"


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("nextcloud-preflight")
    inv = tmp / "lab"
    shutil.copytree(ROOT / "inventories" / "lab", inv, ignore=shutil.ignore_patterns(".smbvdc"))
    hosts = yaml.safe_load((inv / "hosts.yml").read_text())
    vms = hosts["all"]["children"]["vms"]["children"]
    vms["web"]["hosts"]["web1"]["vm_memory_mb"] = 1280
    vms["owncloud"] = {"hosts": {"web1": None}}
    (inv / "hosts.yml").write_text(yaml.safe_dump(hosts, sort_keys=False))
    # the real play, on web1 without contacting it
    plays = yaml.safe_load((ROOT / "playbooks" / "web.yml").read_text())
    (inputs,) = [p for p in plays if p.get("name") == "Check the applications' inputs"]
    inputs = dict(inputs, hosts="owncloud", connection="local")
    inputs["tasks"] = [t for t in inputs["tasks"] if "nextcloud" in t["ansible.builtin.include_role"]["name"]]
    assert inputs["tasks"], "playbooks/web.yml does not check Nextcloud's inputs"
    play = tmp / "inputs.yml"
    play.write_text(yaml.safe_dump([{"ansible.builtin.import_playbook": str(ROOT / "playbooks" / "preflight.yml")},
                                    inputs], sort_keys=False))
    archive = tmp / "nextcloud-test.tar.bz2"
    archive.write_bytes(b"not a release, only bytes with a checksum\n")
    return {"inv": inv, "play": play, "archive": archive,
            "sha256": hashlib.sha256(archive.read_bytes()).hexdigest()}


def run(setup, **extra):
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    proc = subprocess.run([_ansible_playbook(), "-i", str(setup["inv"]), str(setup["play"]), "-e",
                           json.dumps(dict(extra, smbvdc_target="web1"))],
                          capture_output=True, text=True, env=env, cwd=str(ROOT), timeout=120)
    return proc.returncode, proc.stdout + proc.stderr


def test_no_checksum_fails_naming_the_variable(setup):
    rc, out = run(setup)
    assert rc != 0, out
    assert "set nextcloud_archive_sha256 to the sha256 of the archive" in out, out
    assert "nextcloud-34.0.4.tar.bz2.sha256" in out and "Nothing was changed" in out
    assert "Traceback" not in out


def test_a_wrong_checksum_fails(setup):
    rc, out = run(setup, nextcloud_archive_path=str(setup["archive"]), nextcloud_archive_sha256="0" * 64)
    assert rc != 0, out
    assert "nextcloud_archive_sha256 does not match nextcloud_archive_path" in out, out
    assert "has sha256 %s" % setup["sha256"] in out


def test_a_missing_archive_fails(setup):
    rc, out = run(setup, nextcloud_archive_path=str(setup["archive"]) + ".gone", nextcloud_archive_sha256="0" * 64)
    assert rc != 0, out
    assert "does not exist on the controller" in out, out


def test_a_plain_http_url_fails(setup):
    """Already in the preflight play (the nextcloud role's variables are checked there), before the inputs play."""
    url = "http://download.nextcloud.com/server/releases/nextcloud-34.0.4.tar.bz2"
    rc, out = run(setup, nextcloud_archive_url=url, nextcloud_archive_sha256="0" * 64)
    assert rc != 0, out
    assert "hostvars['web1'].nextcloud_archive_url: must be an https:// URL" in " ".join(out.split()), out
    assert "Nextcloud's archive and checksum" not in out, out


def test_the_right_archive_passes(setup):
    rc, out = run(setup, nextcloud_archive_path=str(setup["archive"]), nextcloud_archive_sha256=setup["sha256"])
    assert rc == 0, out


def test_without_install_no_archive_is_needed(setup):
    rc, out = run(setup, nextcloud_install=False)
    assert rc == 0, out
