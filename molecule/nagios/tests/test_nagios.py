"""Verify the nagios role on the molecule containers (molecule verify -s nagios).

The expected hosts and services come from the collection's own monitoring
plan, computed from the scenario inventory (the same code as the
smbvdc.datacenter.monitoring_plan filter). Nagios' own status file
(/var/lib/nagios4/status.dat on mon1) says what Nagios sees: every unit the
plan ties a check to is stopped on its container, and the check must turn
CRITICAL within two check intervals (plus the slack explained at DETECT_S),
then OK again after the unit is started.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

PROJECT = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", Path(__file__).resolve().parents[3]))
EPHEMERAL = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"])
INVENTORY = str(Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent)
BIN = Path(sys.executable).parent
MON, MON_ADDR = "mon1", "172.30.212.15"
DB_ADDR = "172.30.212.20"
STATUS = "/var/lib/nagios4/status.dat"
LOG = "/var/log/nagios4/nagios.log"
PLUGINS = "/usr/lib/nagios/plugins"
LOCAL_PLUGINS = "/usr/local/lib/nagios/plugins"

sys.path.insert(0, str(PROJECT / "tests"))
import conftest  # noqa: E402,F401  (ansible_collections.smbvdc.datacenter importable)
import inventory_groups  # noqa: E402

from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import checks  # noqa: E402
from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import model as modelmod  # noqa: E402


def ansible_env():
    return inventory_groups.molecule_env(EPHEMERAL)


HOSTVARS, GROUPS = inventory_groups.load(BIN / "ansible-inventory", INVENTORY, env=ansible_env())
MODEL = modelmod.build_model(json.loads(json.dumps(HOSTVARS[MON]["smbvdc_branch"])),
                             {"groups": GROUPS, "hostvars": HOSTVARS})
PLAN = checks.monitoring_plan(MODEL)
CONTAINERS = set(GROUPS["all"]) - set(GROUPS.get("kvm_hosts", []))

INTERVAL_S = int(HOSTVARS[MON]["nagios_interval_length"])
REAPER_S = int(HOSTVARS[MON]["nagios_check_result_reaper_frequency"])
STATUS_S = int(HOSTVARS[MON]["nagios_status_update_interval"])
CHECK_S = PLAN["settings"]["check_interval"] * INTERVAL_S
RETRY_S = PLAN["settings"]["retry_interval"] * INTERVAL_S
# Worst case from the stop to CRITICAL in status.dat: a check that started
# just before the stop still reports OK, the next one comes one check
# interval later (2 x CHECK_S covers a check that Nagios starts late); its
# result counts at the next reaper pass (REAPER_S) and shows in status.dat at
# the next status write (STATUS_S); 3 s for the check itself (a refused
# connection, or NRPE starting check_mysql) and the poll.
DETECT_S = 2 * CHECK_S + REAPER_S + STATUS_S + 3
# HARD state and the notification: the first failed check, then
# max_check_attempts - 1 re-checks at the retry interval.
NOTIFY_S = DETECT_S + (PLAN["settings"]["max_check_attempts"] - 1) * RETRY_S


def dexec(container, *cmd, check=True, timeout=120):
    return subprocess.run(["docker", "exec", container, *cmd], check=check, capture_output=True, text=True,
                          timeout=timeout)


def read_status():
    """``{(host, service description): servicestatus block}`` of Nagios' status file."""
    text = dexec(MON, "cat", STATUS).stdout
    out = {}
    for m in re.finditer(r"^servicestatus \{\n(.*?)\n\s*\}", text, re.S | re.M):
        block = dict(line.strip().split("=", 1) for line in m.group(1).splitlines() if "=" in line)
        out[(block["host_name"], block["service_description"])] = block
    return out


def wait_state(keys, state, timeout):
    """Seconds until every service of ``keys`` has ``current_state`` ``state`` (after a real check)."""
    start = time.monotonic()
    last = {}
    while time.monotonic() - start < timeout:
        status = read_status()
        last = {k: (status.get(k) or {}).get("current_state") for k in keys}
        checked = all((status.get(k) or {}).get("has_been_checked") == "1" for k in keys)
        if checked and all(v == str(state) for v in last.values()):
            return time.monotonic() - start
        time.sleep(0.5)
    pytest.fail("not all of %s reached state %d within %.0f s; last states: %s"
                % ([" / ".join(k) for k in keys], state, timeout, last))


def unit_targets():
    """``{(host, unit): [(host, description), ...]}`` for every plan check a unit stop breaks."""
    out = {}
    for s in PLAN["services"]:
        if s["unit"] and s["host"] in CONTAINERS:
            out.setdefault((s["host"], s["unit"]), []).append((s["host"], s["description"]))
    return out


UNITS = unit_targets()


def test_the_plan_has_the_units_the_scenario_must_exercise():
    assert ("ns1", "nsd") in UNITS
    assert ("db1", "mariadb") in UNITS
    assert any(unit == "nagios-nrpe-server" for _, unit in UNITS)


def test_nagios_configuration_verifies(host):
    out = host.run("nagios4 -v /etc/nagios4/nagios.cfg")
    assert out.rc == 0, out.stdout
    assert re.search(r"Total Errors:\s+0", out.stdout)


def test_every_plan_service_is_in_nagios_status():
    status = read_status()
    missing = [(s["host"], s["description"]) for s in PLAN["services"]
               if (s["host"], s["description"]) not in status]
    assert not missing
    assert len(PLAN["services"]) > 0


def test_every_plan_host_is_in_nagios_status():
    text = dexec(MON, "cat", STATUS).stdout
    hosts = set(re.findall(r"^hoststatus \{\n\s*host_name=(\S+)", text, re.M))
    assert {h["name"] for h in PLAN["hosts"]} <= hosts


def test_stopped_service_is_notified_and_only_logged():
    """No mail relay in this branch: the notification is logged (nagios.log + journal), not mailed.

    Runs before the stop/start tests: a service stopped and started again and again starts
    "flapping", and Nagios holds back notifications of a flapping service.
    """
    keys = UNITS[("ns1", "nsd")]
    host, description = keys[0]
    wait_state(keys, 0, timeout=DETECT_S + 120)
    since = dexec(MON, "date", "+%s").stdout.strip()
    dexec("ns1", "systemctl", "stop", "nsd")
    pattern = re.compile(r"SERVICE NOTIFICATION: smbvdc-notify-1;%s;%s;CRITICAL;smbvdc_notify_service_by_log;"
                         % (re.escape(host), re.escape(description)))
    try:
        start = time.monotonic()
        while time.monotonic() - start < NOTIFY_S:
            lines = [ln for ln in dexec(MON, "cat", LOG).stdout.splitlines()
                     if re.match(r"\[(\d+)\]", ln) and int(ln[1:ln.index("]")]) >= int(since) and pattern.search(ln)]
            if lines:
                break
            time.sleep(0.5)
        assert lines, "no SERVICE NOTIFICATION for %s/%s within %d s" % (host, description, NOTIFY_S)
        print("\nnotification logged %.1f s after the stop" % (time.monotonic() - start))
    finally:
        dexec("ns1", "systemctl", "start", "nsd")
    journal = dexec(MON, "journalctl", "-t", "nagios-notify", "--since", "@" + since, "--no-pager").stdout
    assert "service %s/%s is CRITICAL (not mailed to hostmaster@" % (host, description) in journal
    # the null client refuses all mail here (no relay): nothing queued
    assert "Mail queue is empty" in dexec(MON, "mailq", check=False).stdout
    wait_state(keys, 0, timeout=DETECT_S)


@pytest.mark.parametrize("target", sorted(UNITS), ids=["%s-%s" % t for t in sorted(UNITS)])
def test_stopped_unit_turns_critical_and_recovers(target):
    container, unit = target
    keys = UNITS[target]
    # a clean start: every check of the unit OK first (initial checks may still be pending)
    wait_state(keys, 0, timeout=DETECT_S + 120)
    dexec(container, "systemctl", "stop", unit)
    try:
        detected = wait_state(keys, 2, timeout=DETECT_S)
        print("\n%s stopped on %s: CRITICAL in Nagios after %.1f s (bound %d s: check interval %d s)"
              % (unit, container, detected, DETECT_S, CHECK_S))
    finally:
        dexec(container, "systemctl", "start", unit)
    recovered = wait_state(keys, 0, timeout=DETECT_S)
    print("%s started on %s: OK in Nagios after %.1f s" % (unit, container, recovered))


def test_nrpe_runs_a_plan_command():
    out = dexec(MON, PLUGINS + "/check_nrpe", "-H", DB_ADDR, "-c", "check_mariadb", check=False)
    assert out.returncode == 0, out.stdout
    assert "Uptime" in out.stdout


def test_nrpe_refuses_a_command_not_in_its_list():
    # check_users is in Debian's default nrpe.cfg, not in the plan
    out = dexec(MON, PLUGINS + "/check_nrpe", "-H", DB_ADDR, "-c", "check_users", check=False)
    assert out.returncode == 3
    assert "Command 'check_users' not defined" in out.stdout


def test_nrpe_refuses_arguments():
    out = dexec(MON, PLUGINS + "/check_nrpe", "-H", DB_ADDR, "-c", "check_load", "-a", "1", check=False)
    assert out.returncode != 0
    assert "Uptime" not in out.stdout and "LOAD OK" not in out.stdout


def test_nrpe_refuses_other_hosts():
    """The controller (the network's gateway) is not the Nagios server: NRPE hangs up on it."""
    since = dexec("db1", "date", "+%s").stdout.strip()
    with socket.create_connection((DB_ADDR, 5666), timeout=10) as sock:
        sock.settimeout(10)
        assert sock.recv(100) == b""
    # the journal may show the line only after a while on a loaded machine (bounded wait)
    deadline = time.monotonic() + 30
    while True:
        journal = dexec("db1", "journalctl", "-u", "nagios-nrpe-server", "--since", "@" + since,
                        "--no-pager").stdout
        if "is not allowed to talk to us" in journal or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert "is not allowed to talk to us" in journal


def test_nrpe_configuration_is_fixed(host):
    for name in sorted(PLAN["nrpe"]):
        cfg = dexec(name, "cat", "/etc/nagios/nrpe.cfg").stdout
        assert "dont_blame_nrpe=0" in cfg
        assert re.search(r"^allowed_hosts=%s,127\.0\.0\.1$" % re.escape(PLAN["server_address"]), cfg, re.M)
        commands = dexec(name, "cat", "/etc/nagios/nrpe.d/smbvdc.cfg").stdout
        got = dict(re.findall(r"^command\[([^\]]+)\]=(.*)$", commands, re.M))
        assert got == PLAN["nrpe"][name]


def test_mariadb_account_of_check_mysql():
    grants = dexec("db1", "mariadb", "-N", "-e", "SHOW GRANTS FOR nagios@localhost").stdout.strip().splitlines()
    assert len(grants) == 1
    assert grants[0].startswith("GRANT USAGE ON *.* TO `nagios`@`localhost`")
    assert "unix_socket" in grants[0]
    # and nobody else gets in as nagios: not root, not another system user
    assert dexec("db1", "runuser", "-u", "nobody", "--", "mariadb", "-u", "nagios", "-e", "SELECT 1",
                 check=False).returncode != 0


def test_shipped_dns_plugins():
    ns1 = next(h["address"] for h in PLAN["hosts"] if h["name"] == "ns1")
    zone = MODEL["domain"]
    out = dexec(MON, "runuser", "-u", "nagios", "--", LOCAL_PLUGINS + "/check_dns_serial", "-H", ns1, "-P", ns1,
                "-z", zone, check=False)
    assert out.returncode == 0, out.stdout
    assert out.stdout.startswith("OK - %s serial " % zone)
    out = dexec(MON, "runuser", "-u", "nagios", "--", LOCAL_PLUGINS + "/check_dns_txt", "-H", ns1, "-n", zone,
                "-s", "v=no-such-record", check=False)
    assert out.returncode == 2, out.stdout
    mode = dexec(MON, "stat", "-c", "%a %U", LOCAL_PLUGINS + "/check_dns_serial").stdout.split()
    assert mode == ["755", "root"]


def admin_password():
    path = EPHEMERAL / "secrets" / "nagios-admin.password"
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    return path.read_text().strip()


@pytest.fixture(scope="module")
def server_cert(tmp_path_factory):
    """The web UI's self-signed certificate, as the trust anchor: the tests verify TLS with it."""
    path = tmp_path_factory.mktemp("tls") / "nagios.crt"
    path.write_text(dexec(MON, "cat", "/etc/ssl/smbvdc-nagios/nagios.crt").stdout)
    return str(path)


def test_web_ui_needs_the_login_over_https(server_cert):
    url = "https://%s/nagios4/" % MON_ADDR
    assert requests.get(url, verify=server_cert, timeout=30).status_code == 401
    assert requests.get(url, verify=server_cert, timeout=30, auth=("nagiosadmin", "wrong")).status_code == 401
    ok = requests.get(url, verify=server_cert, timeout=30, auth=("nagiosadmin", admin_password()))
    assert ok.status_code == 200
    status = requests.get("https://%s/cgi-bin/nagios4/status.cgi?host=all" % MON_ADDR, verify=server_cert,
                          timeout=60, auth=("nagiosadmin", admin_password()))
    assert status.status_code == 200
    for h in PLAN["hosts"]:
        assert ">%s<" % h["name"] in status.text


def test_web_ui_http_redirects_to_https():
    for path in ("/", "/nagios4/"):
        r = requests.get("http://%s%s" % (MON_ADDR, path), timeout=30, allow_redirects=False)
        assert r.status_code == 301
        assert r.headers["Location"].startswith("https://")


def test_web_ui_key_is_private(host):
    key = host.file("/etc/ssl/smbvdc-nagios/nagios.key")
    assert key.mode == 0o600
    assert key.user == "root"
    login = host.file("/etc/nagios4/htpasswd.users")
    assert login.mode == 0o640
    assert login.group == "www-data"
    assert re.match(r"^nagiosadmin:\$6\$", [ln for ln in login.content_string.splitlines()
                                             if not ln.startswith("#")][0])
