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

import hashlib
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

from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import checks  # noqa: E402
from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import model as modelmod  # noqa: E402


def ansible_env():
    env = dict(os.environ)
    cfg = EPHEMERAL / "ansible.cfg"
    if cfg.exists():
        env["ANSIBLE_CONFIG"] = str(cfg)
    env["ANSIBLE_NOCOLOR"] = "1"
    env["ANSIBLE_FORCE_COLOR"] = "0"
    return env


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
MAILDIR = "/var/vmail/backup.smbvdc.test/drill/Maildir"
MOODLE = "/var/lib/moodledata/filedir"
DB, ROWS = "drill", 5000

WRITE_DATA = r"""
set -e
mkdir -p {maildir}/cur {maildir}/new {maildir}/tmp {moodle}/3f/a2
for i in 1 2 3 4; do
  {{ printf 'From: alice@backup.smbvdc.test\nTo: drill@backup.smbvdc.test\nSubject: drill %s\n\n' $i
     head -c $((i * 3000)) /dev/urandom | base64; }} > {maildir}/cur/170000000$i.M$i.amanda-db1:2,S
done
{{ printf 'Subject: unread\n\n'; head -c 2000000 /dev/urandom | base64; }} > {maildir}/new/1700000010.M10.amanda-db1
head -c 300000 /dev/urandom > {moodle}/3f/a2/3fa2c0ffee
seq 1 20000 > {moodle}/3f/a2/compressible.txt
chmod 0600 {maildir}/cur/* {maildir}/new/*
"""

SQL_SETUP = """
CREATE DATABASE {db};
USE {db};
CREATE TABLE t (id INT PRIMARY KEY, payload VARCHAR(100), note TEXT) ENGINE=InnoDB;
CREATE TABLE audit (id INT AUTO_INCREMENT PRIMARY KEY, t_id INT);
CREATE TRIGGER t_ai AFTER INSERT ON t FOR EACH ROW INSERT INTO audit (t_id) VALUES (NEW.id);
INSERT INTO t SELECT seq, SHA2(seq, 256), REPEAT(CHAR(65 + seq % 26), seq % 200) FROM seq_1_to_{rows};
CREATE VIEW v AS SELECT COUNT(*) AS n FROM t;
CREATE PROCEDURE p() SELECT COUNT(*) FROM t;
CREATE EVENT e ON SCHEDULE EVERY 1 DAY STARTS '2037-01-01 00:00:00' DO DELETE FROM audit WHERE id < 0;
"""

SQL_STATE = ("SELECT (SELECT COUNT(*) FROM {db}.t), (SELECT COUNT(*) FROM {db}.audit), (SELECT n FROM {db}.v), "
             "(SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA='{db}'), "
             "(SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA='{db}'), "
             "(SELECT COUNT(*) FROM information_schema.EVENTS WHERE EVENT_SCHEMA='{db}')")


def checksums(container, *dirs):
    text = out(container, "find %s -type f -print0 | sort -z | xargs -0 sha256sum" % " ".join(dirs))
    return {line[66:]: line[:64] for line in text.splitlines()}


def table_checksum(container):
    return out(container, "mariadb -N -e 'CHECKSUM TABLE %s.t EXTENDED'" % DB).split()[-1]


def db_state(container):
    return out(container, "mariadb -N -e \"%s\"" % SQL_STATE.format(db=DB)).split()


def dump_chain(plan, host, disk):
    """``[(datestamp, level), ...]`` to restore the newest state of a DLE: the newest OK dump and,
    when it is an incremental, the dumps of lower levels it builds on, oldest first."""
    text = out(SERVER, "amadmin %s find %s %s" % (plan["config"], host, shlex.quote(disk)), user="backup")
    rows = []
    for line in text.splitlines():
        tokens = shlex.split(line)
        if len(tokens) > 5 and re.match(r"^\d{4}-\d\d-\d\d$", tokens[0]) and tokens[2] == host \
                and tokens[3] == disk and tokens[-1] == "OK":
            rows.append((re.sub(r"\D", "", tokens[0] + tokens[1]), int(tokens[4])))
    rows.sort()
    assert rows, "no OK dump of %s:%s" % (host, disk)
    chain = [rows[-1]]
    for stamp, level in reversed(rows[:-1]):
        if chain[0][1] == 0:
            break
        if level < chain[0][1]:
            chain.insert(0, (stamp, level))
    assert chain[0][1] == 0, chain
    return chain


def fetch_and_extract(plan, host, disk, name, target, member):
    """amfetchdump (as the backup user, on the server) of every image of the chain, copied to the
    client through this machine and extracted there in order (GNU tar incremental semantics)."""
    sizes, fetch_s, extract_s = 0, 0.0, 0.0
    for stamp, level in dump_chain(plan, host, disk):
        t0 = time.monotonic()
        image = run(SERVER, "amfetchdump -p %s %s %s %s %d" % (plan["config"], host, shlex.quote("^%s$" % disk),
                                                              stamp, level), user="backup").stdout
        fetch_s += time.monotonic() - t0
        sizes += len(image)
        t0 = time.monotonic()
        run(CLIENT, "mkdir -p %s && tar --listed-incremental=/dev/null -xpf - -C %s %s" % (target, target, member),
            stdin=image)
        extract_s += time.monotonic() - t0
    return sizes, fetch_s, extract_s


def amrecover(plan, host, disk, directory, add):
    """amrecover on the server (root, auth local) into a scratch directory; then the restored
    tree goes to the client. Handles incremental chains itself."""
    script = "sethost %s\nsetdisk %s\ncd %s\nadd %s\nextract\nY\nY\nquit\n" % (host, disk, directory, add)
    t0 = time.monotonic()
    run(SERVER, "rm -rf /var/tmp/drill-rec && mkdir -m 0700 /var/tmp/drill-rec && cd /var/tmp/drill-rec && "
                "amrecover %s" % plan["config"], stdin=script.encode())
    fetch_s = time.monotonic() - t0
    tree = run(SERVER, "tar -C /var/tmp/drill-rec -cf - . && rm -rf /var/tmp/drill-rec").stdout
    t0 = time.monotonic()
    run(CLIENT, "tar -xpf - -C %s" % disk, stdin=tree)
    return len(tree), fetch_s, time.monotonic() - t0


def test_restore_drill(plan):
    db = client_of(plan, CLIENT)
    config, fqdn = plan["config"], db["fqdn"]
    results, facts = [], []

    def compare(what, ok, detail=""):
        results.append((what, ok, detail))

    # 1) known data
    run(CLIENT, "rm -rf %s %s/3f; mariadb -e 'DROP DATABASE IF EXISTS %s'" % (MAILDIR.rsplit("/", 1)[0], MOODLE, DB))
    run(CLIENT, WRITE_DATA.format(maildir=MAILDIR, moodle=MOODLE))
    run(CLIENT, "mariadb", stdin=SQL_SETUP.format(db=DB, rows=ROWS).encode())
    before_files = checksums(CLIENT, MAILDIR, MOODLE)
    before_state, before_sum = db_state(CLIENT), table_checksum(CLIENT)
    assert len(before_files) == 7 and before_state[:3] == [str(ROWS)] * 3, (before_files, before_state)
    data_bytes = int(out(CLIENT, "du -sb %s %s | awk '{s += $1} END {print s}'" % (MAILDIR, MOODLE)))

    # 2) amdump through the systemd service (amdump as backup, then amreport). A full dump of the
    #    client is forced: repeated verify runs make several runs a day on a three-tape cycle, which
    #    would overwrite the full dump an incremental builds on (one run a day never does)
    run(SERVER, "amadmin %s force %s" % (config, fqdn), user="backup")
    t0 = time.monotonic()
    run(SERVER, "systemctl start amanda-dump@%s.service" % config, timeout=1800)
    dump_s = time.monotonic() - t0
    result = out(SERVER, "systemctl show -p Result --value amanda-dump@%s.service" % config).strip()
    assert result == "success", out(SERVER, "journalctl -u amanda-dump@%s.service --no-pager | tail -60" % config)
    report = out(SERVER, "journalctl -u amanda-dump@%s.service --no-pager -o cat | tail -80" % config)
    assert "DUMP SUMMARY" in report, report
    hook = out(CLIENT, "journalctl -t smbvdc-mariadb-dump --no-pager -o cat | tail -1")
    assert "dumped all databases" in hook, hook

    # 3) destroy
    run(CLIENT, "rm -rf %s %s/3f %s/all-databases.sql; mariadb -e 'DROP DATABASE %s'"
        % (MAILDIR.rsplit("/", 1)[0], MOODLE, db["dump_dir"], DB))
    assert out(CLIENT, "mariadb -N -e \"SHOW DATABASES LIKE '%s'\"" % DB).strip() == ""

    # 4) restore: one mailbox with amrecover (on the server), the Moodle files and the MariaDB
    #    dump with amfetchdump; extracted on the client, the dump loaded
    sizes, fetch_s, restore_s = {}, 0.0, 0.0
    mailbox = MAILDIR[len("/var/vmail/"):].rsplit("/", 1)[0]
    sizes["vmail (amrecover)"], f, r = amrecover(plan, fqdn, "/var/vmail", mailbox.rsplit("/", 1)[0],
                                                 mailbox.rsplit("/", 1)[1])
    fetch_s, restore_s = fetch_s + f, restore_s + r
    sizes["moodledata"], f, r = fetch_and_extract(plan, fqdn, "/var/lib/moodledata", "moodledata",
                                                  "/var/lib/moodledata", "./filedir/3f")
    fetch_s, restore_s = fetch_s + f, restore_s + r
    sizes["mariadb"], f, r = fetch_and_extract(plan, fqdn, db["dump_dir"], "mariadb", "/var/tmp/drill-sql",
                                               "./all-databases.sql")
    fetch_s, restore_s = fetch_s + f, restore_s + r
    t0 = time.monotonic()
    run(CLIENT, "mariadb < /var/tmp/drill-sql/all-databases.sql && rm -rf /var/tmp/drill-sql")
    restore_s += time.monotonic() - t0

    # 5) compare
    after_files = checksums(CLIENT, MAILDIR, MOODLE)
    for path, digest in sorted(before_files.items()):
        compare("sha256 %s" % path, after_files.get(path) == digest, after_files.get(path, "missing"))
    compare("no extra files", set(after_files) == set(before_files), sorted(set(after_files) - set(before_files)))
    after_state = db_state(CLIENT)
    compare("row count %s.t" % DB, after_state[0] == before_state[0], "%s vs %s" % (after_state[0], before_state[0]))
    compare("table checksum %s.t" % DB, table_checksum(CLIENT) == before_sum)
    compare("trigger-written rows, view, routine, trigger, event", after_state == before_state,
            "%s vs %s" % (after_state, before_state))
    modes = out(CLIENT, "stat -c '%%a %%U' %s/cur/* | sort -u" % MAILDIR).split("\n")[0]
    compare("Maildir file mode and owner", modes == "600 root", modes)

    passed = sum(1 for r in results if r[1])
    failed = [r for r in results if not r[1]]
    print("\nrestore-drill: data %.1f MiB (%d files, %d rows); amdump %.1f s; amrecover/amfetchdump %.1f s "
          "(%s); extract+load %.1f s"
          % (data_bytes / 2 ** 20, len(before_files), ROWS, dump_s, fetch_s,
             ", ".join("%s %.1f MiB" % (k, v / 2 ** 20) for k, v in sorted(sizes.items())), restore_s))
    for what, ok, detail in results:
        print("  %s %s %s" % ("ok  " if ok else "FAIL", what, detail if not ok else ""))
    print("restore-drill: %d passed, %d failed" % (passed, len(failed)))
    assert not failed, failed


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
