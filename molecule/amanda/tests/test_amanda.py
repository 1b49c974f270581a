"""Verify the Amanda server and clients, and run a restore drill (molecule verify -s amanda).

The tests drive both containers with `docker exec` (the drill moves dump
images from the server to the client through this machine, as an operator
would with scp). What must be backed up comes from the collection's own model
code run on the scenario inventory (``checks.backup_plan``), so "every DLE of
the plan" is what the role was given, not a list typed here.

The restore drill: known data on the client (a Maildir, a MariaDB database
with a view, a trigger, a procedure and an event, a Moodle file), amdump
through the systemd service, the data destroyed, amfetchdump on the server,
extraction/loading on the client, and a byte-for-byte comparison. It prints
``restore-drill: N passed, N failed`` with sizes and times.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

PROJECT = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", Path(__file__).resolve().parents[3]))
EPHEMERAL = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"])
INVENTORY = str(Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent)
BIN = Path(sys.executable).parent
SERVER, CLIENT = "amanda-bak1", "amanda-db1"

sys.path.insert(0, str(PROJECT / "tests"))
import conftest  # noqa: E402,F401  (ansible_collections.smbvdc.datacenter importable)
import inventory_groups  # noqa: E402
import restoredrill  # noqa: E402

from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import checks  # noqa: E402
from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import model as modelmod  # noqa: E402


def ansible_env():
    return inventory_groups.molecule_env(EPHEMERAL)


@pytest.fixture(scope="module")
def plan():
    hostvars, groups = inventory_groups.load(BIN / "ansible-inventory", INVENTORY, env=ansible_env())
    branch = json.loads(json.dumps(hostvars[SERVER]["smbvdc_branch"]))
    return checks.backup_plan(modelmod.build_model(branch, {"groups": groups, "hostvars": hostvars}))


def run(container, script, user=None, check=True, timeout=900, stdin=None):
    """``sh -c script`` in a container; returns the CompletedProcess."""
    cmd = ["docker", "exec", "-i"] + (["-u", user] if user else []) + [container, "sh", "-c", script]
    res = subprocess.run(cmd, input=stdin, capture_output=True, timeout=timeout)
    if check and res.returncode != 0:
        raise AssertionError("%s: %s -> exit %d\n%s\n%s" % (container, script, res.returncode,
                                                            res.stdout.decode(errors="replace"),
                                                            res.stderr.decode(errors="replace")))
    return res


def out(container, script, **kw):
    return run(container, script, **kw).stdout.decode()


def client_of(plan, name):
    return [c for c in plan["clients"] if c["name"] == name][0]


# --- the first dump (runs first: the later tests need the server idle) -------------------------
def test_converge_started_the_first_dump_and_it_succeeded(plan):
    """playbooks/backup.yml's first_dump started amdump in the background on the new server; wait
    (bounded) for it to end and check that every DLE of the plan has a good dump from it."""
    unit = "amanda-dump@%s.service" % plan["config"]
    deadline = time.monotonic() + 900
    while True:
        state = out(SERVER, "systemctl show -p ActiveState --value %s" % unit).strip()
        if state in ("inactive", "failed") or time.monotonic() > deadline:
            break
        time.sleep(5)
    started = out(SERVER, "systemctl show -p ExecMainStartTimestampMonotonic --value %s" % unit).strip()
    assert started not in ("", "0"), "the converge did not start %s" % unit
    assert state == "inactive", "%s is %s" % (unit, state)
    assert out(SERVER, "systemctl show -p Result --value %s" % unit).strip() == "success"
    found = out(SERVER, "amadmin %s find" % plan["config"], user="backup")
    ok = {(line.split()[2], line.split()[3]) for line in found.splitlines()
          if re.match(r"^\d{4}-", line) and line.rstrip().endswith(" OK")}
    want = {(c["fqdn"], d["path"]) for c in plan["clients"] for d in c["dles"]}
    assert want <= ok, "no good dump of %s" % sorted(want - ok)


# --- configuration ----------------------------------------------------------------------------
def test_amcheck_passes(plan):
    res = run(SERVER, "amcheck %s" % plan["config"], user="backup", check=False)
    text = res.stdout.decode() + res.stderr.decode()
    assert res.returncode == 0, text
    assert "0 problems found" in text, text
    assert "Will write to volume '%s-" % plan["config"] in text, text


def test_timer_enabled_with_the_plans_schedule(plan):
    unit = "amanda-dump@%s.timer" % plan["config"]
    assert out(SERVER, "systemctl is-enabled %s" % unit).strip() == "enabled"
    assert out(SERVER, "systemctl is-active %s" % unit).strip() == "active"
    text = out(SERVER, "systemctl cat %s" % unit)
    assert "OnCalendar=%s\n" % plan["settings"]["schedule"] in text
    assert "Persistent=true" in text
    shown = out(SERVER, "systemctl show -p TimersCalendar %s" % unit)
    assert "OnCalendar=" in shown and "01:30:00" in shown, shown
    service = out(SERVER, "systemctl show -p User -p ExecStart amanda-dump@%s.service" % plan["config"])
    assert "User=backup" in service and "amdump %s" % plan["config"] in service, service


def test_disklist_has_every_dle_of_the_plan(plan):
    text = out(SERVER, "cat /etc/amanda/%s/disklist" % plan["config"], user="backup")
    entries = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            host, disk, dumptype = shlex.split(line)[:3]
            entries[(host, disk)] = dumptype
    expected = {(c["fqdn"], d["path"]) for c in plan["clients"] for d in c["dles"]}
    assert set(entries) == expected
    db = client_of(plan, CLIENT)
    assert db["mariadb_dump"] and entries[(db["fqdn"], db["dump_dir"])] == "smbvdc-mariadb"
    assert {(c["fqdn"], "/etc") for c in plan["clients"]} <= set(entries)
    # what Amanda itself reads from it
    parsed, current = set(), None
    for line in out(SERVER, "amadmin %s disklist" % plan["config"], user="backup").splitlines():
        m = re.match(r"^\s+(host|disk) (.+):$", line)
        if m and m.group(1) == "host":
            current = m.group(2)
        elif m:
            parsed.add((current, m.group(2)))
    assert parsed == expected


def test_retention_follows_the_plan(plan):
    conf = out(SERVER, "cat /etc/amanda/%s/amanda.conf" % plan["config"], user="backup")
    s = plan["settings"]
    assert re.search(r"^dumpcycle %d days$" % s["dumpcycle_days"], conf, re.M)
    assert re.search(r"^runspercycle %d$" % s["runspercycle"], conf, re.M)
    assert re.search(r"^tapecycle %d tapes$" % s["tapecycle"], conf, re.M)
    assert 'tpchanger "chg-disk:/srv/amanda/vtapes/%s"' % plan["config"] in conf
    slots = [d for d in out(SERVER, "ls /srv/amanda/vtapes/%s" % plan["config"]).split() if d.startswith("slot")]
    assert sorted(slots) == sorted("slot%d" % i for i in range(1, s["tapecycle"] + 1))
    labels = out(SERVER, "ls /srv/amanda/vtapes/%s/slot*/00000.*" % plan["config"]).split()
    assert len(labels) == s["tapecycle"], labels


# --- ssh transport ----------------------------------------------------------------------------
def test_ssh_key_runs_only_amandad(plan):
    db = client_of(plan, CLIENT)
    probe = "/tmp/forced-command-probe"
    run(CLIENT, "rm -f %s" % probe)
    res = run(SERVER, "timeout 30 ssh %s 'id; touch %s' </dev/null" % (db["fqdn"], probe), user="backup", check=False)
    text = res.stdout.decode(errors="replace") + res.stderr.decode(errors="replace")
    # authenticated (the key works) ...
    assert res.returncode != 255 and "Permission denied" not in text, text
    # ... but the command was amandad's, not ours
    assert "uid=" not in text, text
    assert run(CLIENT, "test -e %s" % probe, check=False).returncode != 0, "the forced command was bypassed"
    keys = out(CLIENT, "cat /var/backups/.ssh/authorized_keys")
    line = [k for k in keys.splitlines() if k.startswith("from=")]
    assert len(line) == 1, keys
    assert line[0].startswith(
        'from="%s",no-pty,no-port-forwarding,no-X11-forwarding,no-agent-forwarding,'
        'command="/usr/lib/amanda/amandad -auth=ssh amdump" ssh-ed25519 ' % plan["server_address"])


def test_key_is_refused_from_another_address(plan):
    """The server's key, used from the client's address, is refused by from= on the server."""
    server = client_of(plan, SERVER)
    key = out(SERVER, "cat /var/backups/.ssh/id_ed25519_amanda")
    try:
        run(CLIENT, "umask 077; cat > /tmp/stolen-key", stdin=key.encode())
        res = run(CLIENT, "timeout 30 ssh -i /tmp/stolen-key -o BatchMode=yes -o StrictHostKeyChecking=no "
                          "-o UserKnownHostsFile=/dev/null backup@%s id </dev/null" % server["address"], check=False)
    finally:
        run(CLIENT, "rm -f /tmp/stolen-key")
    text = res.stdout.decode(errors="replace") + res.stderr.decode(errors="replace")
    assert res.returncode == 255 and "Permission denied" in text, text


def test_known_hosts_pinned_from_the_clients_key_files(plan):
    known = out(SERVER, "cat /var/backups/.ssh/known_hosts", user="backup")
    for c in plan["clients"]:
        key = out(c["name"], "cat /etc/ssh/ssh_host_ed25519_key.pub").split()[:2]
        assert "%s,%s %s %s" % (c["fqdn"], c["address"], key[0], key[1]) in known, c["name"]
    assert "StrictHostKeyChecking yes" in out(SERVER, "cat /var/backups/.ssh/config", user="backup")


def test_no_bsdtcp_amandad():
    for container in (SERVER, CLIENT):
        assert ":10080 " not in out(container, "ss -ltn"), container
        assert out(container, "getent passwd backup").strip().endswith(":/bin/sh")


# --- restore drill ------------------------------------------------------------------------------
def test_restore_drill(plan):
    """tests/restoredrill.py on the client (Maildir, MariaDB, Moodle file), through docker exec."""
    drill = restoredrill.Drill(run, plan, SERVER, mail=(CLIENT, CLIENT), db=(CLIENT, CLIENT),
                               moodle=(CLIENT, CLIENT), domain="backup.smbvdc.test")
    results, summary = drill.run_drill()
    failed = restoredrill.print_report(results, summary)
    assert len(results) >= 12 and not failed, [r for r in results if not r[1]]


def test_backup_age_check_through_sudo(plan):
    """After the drill's run, check_amanda_age as the NRPE user (sudo rule) reports OK."""
    plugin = "/usr/local/lib/nagios/plugins/check_amanda_age"
    for c in plan["clients"]:
        res = run(SERVER, "%s %s %s 26 50" % (plugin, plan["config"], c["fqdn"]), user="nagios", check=False)
        text = res.stdout.decode()
        assert res.returncode == 0 and text.startswith("OK - %d DLEs" % len(c["dles"])), text
    res = run(SERVER, "%s %s nothere.backup.smbvdc.test 26 50" % (plugin, plan["config"]), user="nagios", check=False)
    assert res.returncode == 2 and res.stdout.decode().startswith("CRITICAL - no dump"), res.stdout
    # the sudo rule allows amadmin find with one host name, nothing else
    denied = run(SERVER, "sudo -n -u backup /usr/sbin/amadmin %s find x -o foo=bar" % plan["config"],
                 user="nagios", check=False)
    assert denied.returncode != 0 and b"password is required" in denied.stderr, denied.stderr
    assert run(SERVER, "sudo -n -u backup /usr/bin/id", user="nagios", check=False).returncode != 0


def test_failed_mariadb_dump_fails_its_dle(plan):
    """MariaDB down: the hook fails, Amanda marks that DLE FAILED with the hook's message, the
    other DLEs are still dumped, and the run's unit ends failed."""
    db = client_of(plan, CLIENT)
    run(CLIENT, "systemctl stop mariadb")
    try:
        res = run(SERVER, "systemctl start amanda-dump@%s.service" % plan["config"], check=False, timeout=1800)
        assert res.returncode != 0
        assert out(SERVER, "systemctl show -p Result --value amanda-dump@%s.service" % plan["config"]).strip() \
            == "exit-code"
        found = out(SERVER, "amadmin %s find %s" % (plan["config"], db["fqdn"]), user="backup")
        newest = max(line[:19] for line in found.splitlines() if re.match(r"^\d{4}-", line))
        latest = [line for line in found.splitlines() if line.startswith(newest)]
        failed = [line for line in latest if db["dump_dir"] in line]
        assert failed and all("FAILED" in line for line in failed), found
        assert any("smbvdc-mariadb-dump" in line and "mariadb-dump failed" in line for line in failed), found
        assert [line for line in latest if "/etc " in line and line.rstrip().endswith("OK")], found
    finally:
        run(CLIENT, "systemctl start mariadb")
