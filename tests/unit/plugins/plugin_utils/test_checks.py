"""The monitoring and backup plans derived from the branch model (plugin_utils/checks.py)."""

import copy

import pytest

from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import checks
from ansible_collections.smbvdc.datacenter.plugins.plugin_utils.model import ModelError, build_model
from ansible_collections.smbvdc.datacenter.tests.branch_fixtures import lab


def _branch(**sections):
    branch, inv = lab()
    branch = copy.deepcopy(branch)
    inv = copy.deepcopy(inv)
    inv["groups"]["monitoring"] = ["mon1"]
    inv["groups"]["backup"] = ["bak1"]
    inv["hostvars"]["mon1"] = {"vm_memory_mb": 512}
    inv["hostvars"]["bak1"] = {"vm_memory_mb": 512}
    branch.update(sections)
    return branch, inv


def _model(**sections):
    branch, inv = _branch(**sections)
    return build_model(branch, inv)


def _error(**sections):
    branch, inv = _branch(**sections)
    with pytest.raises(ModelError) as err:
        build_model(branch, inv)
    return str(err.value)


def test_defaults_in_model():
    m = _model()
    assert m["monitoring"]["check_interval"] == 5
    assert m["monitoring"]["notify"] == ["hostmaster@lab.smbvdc.test"]
    assert m["backup"]["retention_days"] == 14
    assert m["backup"]["extra_paths"] == []


def test_every_host_and_service_watched():
    plan = checks.monitoring_plan(_model())
    assert plan["server"] == "mon1"
    assert plan["server_address"] == _model()["vms"]["mon1"]["ipv4"]
    names = {h["name"] for h in plan["hosts"]}
    assert names == {"ns1", "ns2", "mail1", "web1", "mon1", "bak1"}
    # the KVM host has no address on a branch network: not watched, and the plan says so
    assert any("kvm1" in w and "kvm_addresses" in w for w in plan["warnings"])
    by = {}
    for s in plan["services"]:
        by.setdefault(s["host"], {})[s["description"]] = s
    # DNS: every server answers for every zone (forward and reverse), secondaries carry the serial
    zones = ["lab.smbvdc.test"] + [z["zone"] for z in _model()["networks"]["lan"]["reverse_zones"]]
    assert len(zones) == 3 and all(isinstance(z, str) and z.endswith(("arpa", "test")) for z in zones)
    for ns in ("ns1", "ns2"):
        for z in zones:
            assert by[ns]["DNS %s" % z]["unit"] == "nsd"
    for z in zones:
        assert "DNS serial %s" % z in by["ns2"]
        assert by["ns2"]["DNS serial %s" % z]["check_command"].split("!")[1] == _model()["vms"]["ns1"]["ipv4"]
        assert "DNS serial %s" % z not in by["ns1"]
    for rec in ("SPF", "DMARC", "DKIM"):
        assert "%s lab.smbvdc.test" % rec in by["ns1"]
    # mail
    for d in ("SMTP", "SMTP STARTTLS", "Submission STARTTLS", "Submissions TLS", "IMAPS", "POP3S", "Mail queue",
              "MariaDB", "Webmail HTTPS"):
        assert d in by["mail1"], d
    assert by["mail1"]["Submission STARTTLS"]["check_command"] == "smbvdc_check_smtp_starttls!587"
    assert by["mail1"]["IMAPS"]["unit"] == "dovecot"
    # web
    assert by["web1"]["HTTPS"]["check_command"] == "smbvdc_check_https!web1.lab.smbvdc.test!/"
    assert "HTTPS certificate" in by["web1"]
    # every VM: disk, load, swap, NRPE alive, backup age (through the backup server's NRPE)
    for vm in names:
        for d in ("Disk /", "Load", "Swap", "NRPE", "Backup age"):
            assert d in by[vm], (vm, d)
        assert "NTP offset" not in by[vm]
        cmd = by[vm]["Backup age"]["check_command"].split("!")
        assert cmd[1] == _model()["vms"]["bak1"]["ipv4"]
        assert cmd[2] in plan["nrpe"]["bak1"]
        assert ("%s.lab.smbvdc.test" % vm) in plan["nrpe"]["bak1"][cmd[2]]
    # every NRPE command a service names exists on that host; every command a service names is defined
    defined = {c["name"] for c in plan["commands"]}
    for s in plan["services"]:
        parts = s["check_command"].split("!")
        assert parts[0] in defined, s
        if parts[0] == "smbvdc_check_nrpe":
            assert parts[1] in plan["nrpe"][s["host"]], s


def test_nrpe_commands_take_no_arguments_from_the_network():
    plan = checks.monitoring_plan(_model())
    for host, cmds in plan["nrpe"].items():
        for name, line in cmds.items():
            assert "$ARG" not in line, (host, name, line)
            assert line.startswith("/"), line


def test_http_checks_never_resolve_a_redirect_on_the_nagios_server():
    # the lab's web1 stayed CRITICAL "Name or service not known": check_http
    # -f follow resolved the redirect target with the Nagios server's
    # resolver, which does not carry the branch zones
    plan = checks.monitoring_plan(_model())
    http = {c["name"]: c["line"] for c in plan["commands"] if "/check_http " in c["line"]}
    assert {"smbvdc_check_https", "smbvdc_check_https_string"} <= set(http), sorted(http)
    for name, line in http.items():
        assert "-I $HOSTADDRESS$" in line, (name, line)
        assert "-f follow" not in line, (name, line)
    assert "-f sticky" in http["smbvdc_check_https"]


def test_ntp_check_only_with_a_server():
    plan = checks.monitoring_plan(_model(monitoring={"ntp_server": "10.77.10.1"}))
    assert plan["nrpe"]["ns1"]["check_ntp_time"].endswith("-H 10.77.10.1 -w 0.5 -c 1")


def test_notifications_go_through_the_mail_host_or_the_relay():
    assert checks.monitoring_plan(_model())["settings"]["mail_relay"] == "mail1.lab.smbvdc.test"
    plan = checks.monitoring_plan(_model(monitoring={"notify": ["ops@example.net"], "relay": "smtp.isp.example:587"}))
    assert plan["settings"]["mail_relay"] == "smtp.isp.example:587"


def test_kvm_host_with_address_gets_vm_state_and_budget_checks():
    branch, inv = _branch()
    branch["networks"][0]["mode"] = "bridge"
    inv["hostvars"]["kvm1"]["kvm_addresses"] = {"lan": "10.77.10.2"}
    inv["hostvars"]["mail1"]["vm_state"] = "shutdown"
    m = build_model(branch, inv)
    plan = checks.monitoring_plan(m)
    line = plan["nrpe"]["kvm1"]["check_smbvdc_vms"]
    assert "mail1=shutdown" in line and "ns1=running" in line
    assert "--available-mb %d" % m["budgets"]["kvm1"]["available_mb"] in plan["nrpe"]["kvm1"]["check_smbvdc_budget"]


def test_backup_plan_from_service_groups():
    plan = checks.backup_plan(_model(backup={"extra_paths": [{"host": "web1", "path": "/srv/data/"}]}))
    assert plan["server"] == "bak1" and plan["config"] == "lab"
    by = {c["name"]: c for c in plan["clients"]}
    assert set(by) == {"ns1", "ns2", "mail1", "web1", "mon1", "bak1"}
    paths = {n: [d["path"] for d in c["dles"]] for n, c in by.items()}
    assert paths["mail1"] == ["/etc", "/var/vmail", "/var/backups/mariadb"]
    assert by["mail1"]["mariadb_dump"] is True and by["web1"]["mariadb_dump"] is False
    assert paths["web1"] == ["/etc", "/var/www", "/srv/data"]
    assert paths["ns1"] == ["/etc", "/var/lib/nsd"]
    # the directories written during the backup by design get the tolerant dumptype, nothing else
    live = {(n, d["path"]) for n, c in by.items() for d in c["dles"] if d["live"]}
    assert live == {("mail1", "/var/vmail"), ("mon1", "/var/lib/nagios4")}
    s = plan["settings"]
    assert (s["dumpcycle_days"], s["runspercycle"], s["retention_days"], s["tapecycle"]) == (7, 7, 14, 15)


def test_application_databases_are_dumped_and_watched():
    """A Moodle (file cloud) VM keeps its application's database in MariaDB on itself: the backup plan
    dumps it before the backup, and Nagios checks the connection, as for the mail host."""
    branch, inv = lab()
    inv["groups"]["moodle"] = ["web1"]
    m = build_model(branch, inv)
    by = {c["name"]: c for c in checks.backup_plan(m)["clients"]}
    assert by["web1"]["mariadb_dump"] is True
    assert sorted(d["path"] for d in by["web1"]["dles"]) == ["/etc", "/var/backups/mariadb", "/var/lib/moodledata",
                                                             "/var/www"]
    watched = {(s["host"], s["description"]) for s in checks.monitoring_plan(m)["services"]}
    assert ("web1", "MariaDB") in watched and ("ns1", "MariaDB") not in watched
    for group in checks.MARIADB_GROUPS:
        assert group in ("mail", "database") or group in checks.SERVICE_PATHS, group


def test_no_servers_no_plans():
    branch, inv = lab()
    m = build_model(branch, inv)
    assert checks.monitoring_plan(m)["server"] is None
    assert checks.backup_plan(m)["server"] is None
    assert "Backup age" not in {s["description"] for s in checks.monitoring_plan(m)["services"]}


# --- bad input: each names the variable and the fix -------------------------------------------
def test_check_interval_zero():
    msg = _error(monitoring={"check_interval": 0})
    assert "smbvdc_branch.monitoring.check_interval" in msg and "Fix:" in msg


def test_retention_shorter_than_dumpcycle():
    msg = _error(backup={"dumpcycle_days": 7, "retention_days": 3})
    assert "smbvdc_branch.backup.retention_days" in msg and "dumpcycle_days" in msg


def test_notify_outside_without_relay():
    msg = _error(monitoring={"notify": ["boss@example.net"]})
    assert "smbvdc_branch.monitoring.notify[0]" in msg and "relay" in msg
    # with a relay it is fine; inside the branch's domains it is fine without one
    assert _model(monitoring={"notify": ["boss@example.net"], "relay": "smtp.example.net"})
    assert _model(monitoring={"notify": ["admin@lab.smbvdc.test"]})


def test_backup_path_no_service_owns():
    msg = _error(backup={"extra_paths": [{"host": "fileserver", "path": "/srv/files"}]})
    assert "smbvdc_branch.backup.extra_paths[0].host" in msg and "fileserver" in msg
    msg = _error(backup={"extra_paths": [{"host": "web1", "path": "relative/dir"}]})
    assert "smbvdc_branch.backup.extra_paths[0].path" in msg


def test_unknown_setting_and_bad_types():
    msg = _error(monitoring={"check_intervall": 5})
    assert "smbvdc_branch.monitoring.check_intervall" in msg and "check_interval" in msg
    msg = _error(backup="daily")
    assert "smbvdc_branch.backup" in msg
    msg = _error(monitoring={"cert_warn_days": 5, "cert_crit_days": 7})
    assert "cert_crit_days" in msg
