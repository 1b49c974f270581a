"""The preflight of the roles' variables (plugin_utils/role_vars.py, through preflight.check_layers).

For every role, bad values of its public variables (a wrong type, a value
out of range or outside the choices, a rule between variables or against the
model) fail on the controller, naming ``hostvars['<host>'].<variable>`` and
the fix; good values and the roles' own defaults pass. The table of which
role runs where (services.ROLE_TARGETS, ROLE_INCLUDES) is checked against
the playbooks and the roles' tasks.
"""

import copy
import pathlib
import re

import jinja2
import pytest
import yaml

from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import model
from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import preflight
from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import role_vars
from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import services
from ansible_collections.smbvdc.datacenter.plugins.plugin_utils.errors import ModelError

from branch_fixtures import lab

ROOT = pathlib.Path(__file__).resolve().parents[4]
ROLES = sorted(p.parent.parent.name for p in (ROOT / "roles").glob("*/meta/argument_specs.yml"))
SHA = "c330bb960f1a8335d3e985a51fd2e91a1a2e5608d45126010a034f575c29d971"


def branch():
    """The lab fixture with every service group: Moodle on web1, a file cloud, monitoring and backups."""
    b, inv = lab()
    b, inv = copy.deepcopy(b), copy.deepcopy(inv)
    inv["groups"].update(moodle=["web1"], owncloud=["cloud1"], monitoring=["mon1"], backup=["bak1"])
    inv["hostvars"]["kvm1"]["kvm_memory_mb"] = 32768
    inv["hostvars"].update(
        cloud1={"vm_memory_mb": 1024},
        mon1={"vm_memory_mb": 512},
        bak1={"vm_memory_mb": 512, "vm_data_disks": [{"name": "vtapes", "size_gb": 8}]},
    )
    inv["hostvars"]["web1"].update(moodle_archive_url="https://download.example.org/moodle-5.1.tgz",
                                   moodle_archive_sha256=SHA)
    inv["hostvars"]["cloud1"].update(nextcloud_archive_sha256=SHA)
    inv["hostvars"]["mail1"].update(mail_postmaster="admin@lab.smbvdc.test",
                                    mail_mailboxes=[{"address": "admin@lab.smbvdc.test"}])
    return b, inv


def run(extra):
    """check_layers on the branch with ``extra`` ({host: {var: value}}); the problems' text ("" when none)."""
    b, inv = branch()
    m = model.build_model(b, inv)
    hv = copy.deepcopy(inv["hostvars"])
    for host, values in extra.items():
        hv.setdefault(host, {}).update(values)
    try:
        preflight.check_layers(m, hv)
    except ModelError as exc:
        assert all(p.variable and p.fix for p in exc.problems), str(exc)
        return str(exc)
    return ""


# (role, host, variables, text the message must contain: the variable, and what is wrong)
CASES = [
    # amanda (the backup server bak1; the client part on every VM)
    ("amanda", "bak1", {"amanda_inparallel": "many"}, "hostvars['bak1'].amanda_inparallel: must be an integer, got str 'many'"),
    ("amanda", "bak1", {"amanda_compress": "zip"}, "hostvars['bak1'].amanda_compress: must be one of: none, client fast"),
    ("amanda", "bak1", {"amanda_tapecycle": 7, "amanda_runspercycle": 7},
     "hostvars['bak1'].amanda_tapecycle: is 7, which must exceed amanda_runspercycle (7)"),
    ("amanda", "bak1", {"amanda_tapecycle": 3}, "hostvars['bak1'].amanda_tapecycle: is 3, which must exceed"),
    ("amanda", "bak1", {"amanda_vtape_disk": "tapes"}, "hostvars['bak1'].amanda_vtape_disk: is 'tapes', which is not a "
     "data disk of bak1 (its vm_data_disks: vtapes)"),
    ("amanda", "bak1", {"amanda_vtape_dir": "srv/vtapes/"}, "hostvars['bak1'].amanda_vtape_dir: must be an absolute path"),
    ("amanda", "ns1", {"amanda_mariadb_dump_options": "--single-transaction"},
     "hostvars['ns1'].amanda_mariadb_dump_options: must be a list, got str"),
    # branch_ca (brought in by mail and web)
    ("branch_ca", "mail1", {"branch_ca_days": "ten years"}, "hostvars['mail1'].branch_ca_days: must be an integer, got str 'ten years'"),
    ("branch_ca", "web1", {"branch_ca_trust": "maybe"}, "hostvars['web1'].branch_ca_trust: must be true or false, got str 'maybe'"),
    ("branch_ca", "cloud1", {"branch_ca_days": 10}, "hostvars['cloud1'].branch_ca_days: must be 31 or more, got 10"),
    ("branch_ca", "mail1", {"branch_ca_cert_path": ["/etc/ssl/ca.crt"]},
     "hostvars['mail1'].branch_ca_cert_path: must be a path (string), got list"),
    # common (every VM)
    ("common", "ns2", {"common_hostname": "ns2.lab.smbvdc.test"}, "hostvars['ns2'].common_hostname: must be one DNS label"),
    ("common", "ns2", {"common_packages": "vim"}, "hostvars['ns2'].common_packages: must be a list, got str 'vim'"),
    ("common", "web1", {"common_firewall_extra_ports": [{"port": 70000}]},
     "hostvars['web1'].common_firewall_extra_ports[0].port: must be 1-65535, got 70000"),
    ("common", "web1", {"common_firewall_extra_ports": [{"port": 80, "proto": "sctp"}]},
     "hostvars['web1'].common_firewall_extra_ports[0]: key proto must be one of: tcp, udp, got: sctp"),
    ("common", "mail1", {"common_admin_users": [{"name": "alice", "ssh_key": "ssh-ed25519 AAAA"}]},
     "hostvars['mail1'].common_admin_users[0]: has the unknown key(s) ssh_key"),
    ("common", "mail1", {"common_admin_users": [{"name": "alice"}]},
     "hostvars['mail1'].common_admin_users[0]: (alice) is present but has no ssh_keys"),
    ("common", "mail1", {"common_host_hosts_entries": [{"names": ["x"]}]},
     "hostvars['mail1'].common_host_hosts_entries[0]: misses the key(s) address"),
    ("common", "mon1", {"common_apt_proxy": "apt-cacher:3142"}, "hostvars['mon1'].common_apt_proxy: must be an http"),
    # kvm_host
    ("kvm_host", "kvm1", {"kvm_host_accel": "hvf"}, "hostvars['kvm1'].kvm_host_accel: must be one of: auto, kvm, qemu"),
    ("kvm_host", "kvm1", {"kvm_host_networks": ["lan", "dmz"]},
     "hostvars['kvm1'].kvm_host_networks: names dmz, which smbvdc_branch.networks does not define"),
    ("kvm_host", "kvm1", {"kvm_host_pool_path": "/var/lib/smbvdc/base"},
     "hostvars['kvm1'].kvm_host_pool_path: is the same directory as kvm_host_image_dir"),
    ("kvm_host", "kvm1", {"kvm_host_image_url": "https://cloud.example.org/debian.qcow2"},
     "hostvars['kvm1'].kvm_host_image_checksum: must be '<algorithm>:<hex digest>'"),
    ("kvm_host", "kvm1", {"kvm_host_image_size_mb": 40960},
     "hostvars['kvm1'].kvm_host_image_size_mb: is 40960 MiB, more than the disk of"),
    ("kvm_host", "kvm1", {"kvm_host_virt_probe_timeout": 2}, "hostvars['kvm1'].kvm_host_virt_probe_timeout: must be 5"),
    # mail
    ("mail", "mail1", {"mail_mailboxes": "notalist"}, "hostvars['mail1'].mail_mailboxes: must be a list, got str"),
    ("mail", "mail1", {"mail_aliases": ["postmaster@lab.smbvdc.test"]},
     "hostvars['mail1'].mail_aliases[0]: must be a mapping, got str"),
    ("mail", "mail1", {"mail_tls_provider": "letsencrypt"},
     "hostvars['mail1'].mail_tls_provider: must be one of: internal_ca, selfsigned, external"),
    ("mail", "mail1", {"mail_rbl_threshold": 0}, "hostvars['mail1'].mail_rbl_threshold: must be 1 or more, got 0"),
    ("mail", "mail1", {"mail_postscreen_access": [{"network": "192.0.2.0/24", "action": "allow"}]},
     "hostvars['mail1'].mail_postscreen_access[0]: must be {network, action: permit|reject}"),
    ("mail", "mail1", {"mail_tls_days": 30}, "hostvars['mail1'].mail_tls_days: must be 31 or more, got 30"),
    ("mail", "mail1", {"mail_spam_tag2_level": "high"}, "hostvars['mail1'].mail_spam_tag2_level: must be a number, got str 'high'"),
    ("mail", "mail1", {"mail_postfix_options": "smtpd_banner=hi"},
     "hostvars['mail1'].mail_postfix_options: must be a mapping, got str"),
    ("mail", "mail1", {"mail_amavis_max_servers": 0},
     "hostvars['mail1'].mail_amavis_max_servers: must be 1 or more, got 0"),
    ("mail", "mail1", {"mail_spam_local_tests_only": "sometimes"},
     "hostvars['mail1'].mail_spam_local_tests_only: must be true or false, got str 'sometimes'"),
    # mariadb (brought in by mail, moodle, nextcloud)
    ("mariadb", "mail1", {"mariadb_port": 99999}, "hostvars['mail1'].mariadb_port: must be 1-65535, got 99999"),
    ("mariadb", "web1", {"mariadb_databases": [{"name": "my-db"}]},
     "hostvars['web1'].mariadb_databases[0].name: must be letters, digits and _"),
    ("mariadb", "cloud1", {"mariadb_server_options": ["max_allowed_packet=64M"]},
     "hostvars['cloud1'].mariadb_server_options: must be a mapping, got list"),
    ("mariadb", "mail1", {"mariadb_max_connections": True}, "hostvars['mail1'].mariadb_max_connections: must be an "
     "integer, got bool"),
    # moodle
    ("moodle", "web1", {"moodle_archive_sha256": "abc"}, "hostvars['web1'].moodle_archive_sha256: must be 64 hex digits"),
    ("moodle", "web1", {"moodle_archive_url": "http://download.moodle.org/moodle.tgz"},
     "hostvars['web1'].moodle_archive_url: must be an https:// URL"),
    ("moodle", "web1", {"moodle_archive_path": "/srv/moodle.tgz"},
     "hostvars['web1'].moodle_archive_url: is set together with moodle_archive_path"),
    ("moodle", "web1", {"moodle_db_name": "moodle-db"}, "hostvars['web1'].moodle_db_name: must be letters, digits"),
    ("moodle", "web1", {"moodle_config_extra": "debug=1"}, "hostvars['web1'].moodle_config_extra: must be a mapping"),
    # nagios (the server mon1; NRPE on every VM)
    ("nagios", "mon1", {"nagios_status_update_interval": 1},
     "hostvars['mon1'].nagios_status_update_interval: must be 2 or more, got 1"),
    ("nagios", "mon1", {"nagios_extra_commands": [{"name": "check_x"}]},
     "hostvars['mon1'].nagios_extra_commands[0]: misses the key(s) line"),
    ("nagios", "mon1", {"nagios_extra_services": [{"host": "nosuch", "description": "X", "check_command": "check_x"}]},
     "hostvars['mon1'].nagios_extra_services[0].host: 'nosuch' is not a host of the monitoring plan"),
    ("nagios", "mon1", {"nagios_extra_services": [{"host": "ns1", "description": "X", "check_command": "check_x!1"}]},
     "hostvars['mon1'].nagios_extra_services[0].check_command: names the command 'check_x'"),
    ("nagios", "ns1", {"nagios_nrpe_commands": ["check_disk"]}, "hostvars['ns1'].nagios_nrpe_commands: must be a mapping"),
    ("nagios", "ns1", {"nagios_nrpe_host_commands": {"check disk": "/usr/lib/nagios/plugins/check_disk"}},
     "hostvars['ns1'].nagios_nrpe_host_commands: has entries that are not {name: command line}"),
    # nextcloud
    ("nextcloud", "cloud1", {"nextcloud_install": "sometimes"}, "hostvars['cloud1'].nextcloud_install: must be true or false, got str 'sometimes'"),
    ("nextcloud", "cloud1", {"nextcloud_password_length": 8},
     "hostvars['cloud1'].nextcloud_password_length: must be 16 or more, got 8"),
    ("nextcloud", "cloud1", {"nextcloud_system_config": {"dbhost": "db1"}},
     "hostvars['cloud1'].nextcloud_system_config: sets dbhost, which the role or the installer owns"),
    ("nextcloud", "cloud1", {"nextcloud_data_dir": "data"}, "hostvars['cloud1'].nextcloud_data_dir: must be an absolute"),
    # nsd
    ("nsd", "ns1", {"nsd_tsig_algorithm": "hmac-md5"},
     "hostvars['ns1'].nsd_tsig_algorithm: must be one of: hmac-sha256, hmac-sha384, hmac-sha512"),
    ("nsd", "ns2", {"nsd_server_role": "primary"}, "hostvars['ns2'].nsd_server_role: is 'primary', but ns2 is not in "
     "group dns_primary"),
    ("nsd", "ns1", {"nsd_verbosity": 9}, "hostvars['ns1'].nsd_verbosity: must be one of: 0, 1, 2, 3, 4, 5, got: 9"),
    ("nsd", "ns2", {"nsd_remote_zones": [{"name": "other.example", "primaries": "192.0.2.53"}]},
     "hostvars['ns2'].nsd_remote_zones[0]: misses the key(s) tsig_key_name, tsig_secret"),
    ("nsd", "ns1", {"nsd_xfr_allow": "10.0.0.0/8"}, "hostvars['ns1'].nsd_xfr_allow: must be a list, got str"),
    # vm (on the KVM hosts)
    ("vm", "kvm1", {"vm_role_default_state": "on"}, "hostvars['kvm1'].vm_role_default_state: must be one of: running"),
    ("vm", "kvm1", {"vm_action": "suspend", "vm_action_vms": "ns1,ns9"},
     "hostvars['kvm1'].vm_action_vms: must name the VMs vm_action=suspend acts on (VMs of the branch, or 'all'); "
     "not VMs of the branch: ns9"),
    ("vm", "kvm1", {"vm_role_ssh_timeout": "10m"}, "hostvars['kvm1'].vm_role_ssh_timeout: must be an integer, got str '10m'"),
    ("vm", "kvm1", {"vm_role_ssh_extra_public_keys": ["AAAAC3NzaC1lZDI1NTE5"]},
     "hostvars['kvm1'].vm_role_ssh_extra_public_keys: has entries that are not SSH public key lines"),
    ("vm", "kvm1", {"vm_role_dns_servers": "10.77.10.1"}, "hostvars['kvm1'].vm_role_dns_servers: must be a list"),
    # web (web1, and the Moodle and file cloud VMs)
    ("web", "web1", {"web_hsts_max_age": -1}, "hostvars['web1'].web_hsts_max_age: must be 0 or more, got -1"),
    ("web", "cloud1", {"web_php_version": "php8.2"}, "hostvars['cloud1'].web_php_version: must be a version like 8.2"),
    ("web", "web1", {"web_security_headers": ["X-Frame-Options: DENY"]},
     "hostvars['web1'].web_security_headers: must be a mapping, got list"),
    ("web", "web1", {"web_tls_days": 7}, "hostvars['web1'].web_tls_days: must be 31 or more, got 7"),
]


@pytest.mark.parametrize("case", CASES, ids=["%s-%s" % (c[0], "-".join(c[2])) for c in CASES])
def test_bad_role_variables_fail_in_preflight(case):
    _role, host, values, expected = case
    text = run({host: values})
    assert expected in text, text
    assert "Fix:" in text


def test_every_role_has_three_bad_input_cases():
    counts = {r: sum(1 for c in CASES if c[0] == r) for r in ROLES}
    assert set(counts) == set(role_vars.RULES) and len(ROLES) == 12
    assert all(n >= 3 for n in counts.values()), counts


def _hosts_outside(role):
    plan = role_vars.targets(model.build_model(*branch()))
    return [h for h in sorted(plan) if role not in {r for r, _e in plan[h]}]


# the roles that run on every host (common, the NRPE and Amanda clients) have
# no host outside: their cases are left out here instead of being skipped
OUTSIDE_CASES = [c for c in CASES if _hosts_outside(c[0])]


def test_some_roles_run_on_part_of_the_branch_only():
    assert {c[0] for c in OUTSIDE_CASES} >= {"mail", "nsd", "web", "moodle", "amanda"}


@pytest.mark.parametrize("case", OUTSIDE_CASES, ids=["%s-%s" % (c[0], "-".join(c[2])) for c in OUTSIDE_CASES])
def test_the_variable_is_checked_on_the_hosts_its_role_runs_on_only(case):
    """The same value on a host the role does not run on passes: the check follows services.ROLE_TARGETS."""
    role, _host, values, _expected = case
    assert run({_hosts_outside(role)[0]: values}) == ""


def test_the_server_settings_set_for_every_vm_are_checked_on_the_server_only():
    """group_vars/all may hold amanda_* and nagios_* server settings: the clients do not use them."""
    values = {"amanda_vtape_disk": "vtapes", "amanda_tapecycle": 8, "nagios_status_update_interval": 5,
              "nagios_extra_services": [{"host": "ns1", "description": "X", "check_command": "check_x"}],
              "nagios_extra_commands": [{"name": "check_x", "line": "$USER1$/check_x"}]}
    assert run({h: dict(values) for h in ("ns1", "ns2", "mail1", "web1", "cloud1", "mon1", "bak1")}) == ""
    assert "hostvars['bak1'].amanda_tapecycle" in run({h: {"amanda_tapecycle": 3} for h in ("ns1", "bak1")})
    assert "hostvars['ns1']" not in run({h: {"amanda_tapecycle": 3} for h in ("ns1", "bak1")})


def test_good_values_pass():
    assert run({}) == ""
    assert run({
        "mail1": {"mail_mailboxes": [{"address": "admin@lab.smbvdc.test"}], "mail_tls_days": "400", "mariadb_port": 3307,
                  "mail_spam_tag2_level": 6, "mail_postscreen_access": [{"network": "192.0.2.0/24", "action": "permit"}],
                  "common_admin_users": [{"name": "alice", "ssh_keys": ["ssh-ed25519 AAAA alice"]}]},
        "kvm1": {"kvm_host_image_url": "https://cloud.example.org/d.qcow2", "kvm_host_image_checksum": "sha512:" + SHA,
                 "kvm_host_networks": ["lan"], "vm_action": "suspend", "vm_action_vms": "ns1,ns2"},
        "bak1": {"amanda_tapecycle": 9, "amanda_vtape_disk": "vtapes", "amanda_compress": "server best"},
        "ns2": {"nsd_server_role": "secondary", "nsd_verbosity": "2",
                "nsd_remote_zones": [{"name": "o.example", "primaries": ["192.0.2.53"], "tsig_key_name": "k",
                                      "tsig_secret": "K2tf3TRjvQkVCmJF3/Z9vA=="}]},
        "mon1": {"nagios_extra_commands": [{"name": "check_x", "line": "$USER1$/check_x"}],
                 "nagios_extra_services": [{"host": "ns1", "description": "X", "check_command": "check_x!1"}]},
        "web1": {"web_php_version": "8.2", "moodle_db_prefix": "mdl_"},
        "cloud1": {"nextcloud_install": False, "nextcloud_system_config": {"maintenance_window_start": 2}},
    }) == ""


def test_every_problem_is_reported_at_once():
    text = run({"mail1": {"mail_rbl_threshold": 0, "mail_tls_provider": "acme"}, "ns1": {"nsd_verbosity": 9},
                "kvm1": {"kvm_host_accel": "hvf"}})
    assert "(4 problems)" in text, text


def test_a_value_that_cannot_be_templated_here_is_skipped():
    class Unknown(dict):
        """hostvars whose mail_mailboxes needs a fact: reading it raises, like Ansible's undefined variable."""

        def __getitem__(self, key):
            if key == "mail_mailboxes":
                raise RuntimeError("'ansible_facts' is undefined")
            return dict.__getitem__(self, key)

    b, inv = branch()
    m = model.build_model(b, inv)
    hv = copy.deepcopy(inv["hostvars"])
    hv["mail1"] = Unknown(hv["mail1"], mail_mailboxes="{{ ansible_facts.x }}")
    preflight.check_layers(m, hv)


@pytest.mark.parametrize("value", [jinja2.Undefined(name="x"), [jinja2.Undefined(name="x")],
                                   {"a": [jinja2.Undefined(name="x")]}])
def test_a_value_ansible_could_not_template_is_skipped(value):
    """ansible-core 2.19 gives a failed template (a lookup of a missing file) as an Undefined marker, not an error."""
    b, inv = branch()
    m = model.build_model(b, inv)
    hv = copy.deepcopy(inv["hostvars"])
    hv["web1"]["moodle_archive_sha256"] = value
    hv["web1"]["web_security_headers"] = value
    out = preflight.check_layers(m, hv)
    assert not [w for w in out["warnings"] if "web1" in w]
    hv["web1"]["web_security_headers"] = "not a mapping"      # the same host's other values are still checked
    assert "hostvars['web1'].web_security_headers" in str(pytest.raises(ModelError, preflight.check_layers, m, hv).value)


def test_secrets_are_never_repeated():
    text = run({"mon1": {"nagios_admin_password": ["s3cr3t-value"]},
                "ns2": {"nsd_remote_zones": [{"name": "o.example", "primaries": ["192.0.2.53"], "tsig_key_name": "k",
                                              "tsig_secret": "s3cr3t*value"}]},
                "ns1": {"nsd_tsig_secret": ["s3cr3t-value"]}})
    assert "hostvars['mon1'].nagios_admin_password" in text and "hostvars['ns1'].nsd_tsig_secret" in text, text
    assert "hostvars['ns2'].nsd_remote_zones" in text, text
    assert "s3cr3t" not in text, text


def test_a_wrong_type_is_reported_once():
    text = run({"mail1": {"mail_mailboxes": "notalist"}, "ns1": {"nsd_tsig_key_name": ["k"]}})
    assert text.count("hostvars['mail1'].mail_mailboxes") == 1, text
    assert text.count("hostvars['ns1'].nsd_tsig_key_name") == 1, text


def test_missing_application_archives_are_a_warning():
    b, inv = branch()
    del inv["hostvars"]["web1"]["moodle_archive_sha256"]
    m = model.build_model(b, inv)
    out = preflight.check_layers(m, inv["hostvars"])
    assert [w for w in out["warnings"] if w.startswith("hostvars['web1'].moodle_archive_sha256")], out["warnings"]
    assert not [w for w in out["warnings"] if "cloud1" in w], out["warnings"]


# --- the role -> hosts table against the playbooks and the roles -------------------------

def _playbook_targets():
    """(role, entry point) -> (groups, needed group) as the playbooks apply them."""
    names = set(services.SERVICE_GROUP_NAMES) | {"kvm_hosts"}
    out = {}
    for path in sorted((ROOT / "playbooks").glob("*.yml")):
        for play in yaml.safe_load(path.read_text()) or []:
            if "hosts" not in play:
                continue
            pattern = str(play["hosts"])
            if pattern == "localhost":
                continue
            groups = tuple(sorted(set(re.findall(r"[a-z_]+", pattern)) & names)) or (services.EVERY_VM,)
            uses = [(r["role"] if isinstance(r, dict) else r, "main", None) for r in play.get("roles") or []]
            tasks = list(play.get("tasks") or [])
            while tasks:
                task = tasks.pop(0)
                tasks += task.get("block") or []
                inc = task.get("ansible.builtin.include_role")
                if inc:
                    needs = re.findall(r"services\.(\w+)", str(task.get("when", "")))
                    uses.append((inc["name"], inc.get("tasks_from", "main").replace(".yml", ""),
                                 needs[0] if needs else None))
            for fqcn, entry, needs in uses:
                role = fqcn.split(".")[-1]
                if not role_vars.entry_options(role, entry):
                    continue        # not an entry point (tasks_from: preflight)
                out.setdefault((role, entry), (set(), needs))[0].update(groups)
    return {k: (tuple(sorted(g)), n) for k, (g, n) in out.items()}


def test_role_targets_match_the_playbooks():
    table = {k: (tuple(sorted(g)), n) for k, (g, n) in services.ROLE_TARGETS.items()}
    # a layer playbook runs these roles on the KVM hosts again when run alone (vms.yml: kvm_host)
    assert _playbook_targets() == table


def test_role_includes_match_the_roles_tasks():
    found = {}
    for role in ROLES:
        for path in (ROOT / "roles" / role / "tasks").glob("*.yml"):
            for name in re.findall(r"^\s+name: smbvdc\.datacenter\.(\w+)\s*$", path.read_text(), re.M):
                if name != role:
                    found.setdefault(role, set()).add(name)
    assert {r: tuple(sorted(v)) for r, v in found.items()} == services.ROLE_INCLUDES


def test_every_role_and_entry_point_with_options_is_checked():
    for role in ROLES:
        assert role in role_vars.RULES
    covered = set(services.ROLE_TARGETS) | {(inc, "main") for incs in services.ROLE_INCLUDES.values() for inc in incs}
    for role in ROLES:
        assert (role, "main") in covered, role


def test_each_rule_can_fail_alone():
    """The checker is live: a run with one broken value reports exactly that variable."""
    text = run({"ns1": {"nsd_verbosity": 9}})
    assert re.findall(r"^  - (\S+):", text, re.M) == ["hostvars['ns1'].nsd_verbosity"], text


# --- the inventories that ship still pass --------------------------------------------------

def test_the_roles_defaults_pass_their_own_checks():
    """Every plain default of defaults/main.yml, given as an inventory value, passes (a wrong spec would block users)."""
    b, inv = branch()
    m = model.build_model(b, inv)
    plan = role_vars.targets(m)
    hv = copy.deepcopy(inv["hostvars"])
    for host, pairs in plan.items():
        for role, entry in pairs:
            for name in role_vars.entry_options(role, entry):
                value = role_vars.role_defaults(role).get(name)
                if value is not None and not (isinstance(value, str) and "{{" in value):
                    hv[host].setdefault(name, copy.deepcopy(value))
    preflight.check_layers(m, hv)
