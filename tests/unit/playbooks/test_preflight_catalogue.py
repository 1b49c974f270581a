"""A catalogue of bad inventories through the real ``playbooks/preflight.yml``.

Each case copies ``inventories/lab``, breaks one thing the way a user would
(in hosts.yml or group_vars), and runs ``ansible-playbook playbooks/preflight.yml``:
it must fail in under 3 s, name the variable (or file), print no Python
traceback, and contact no host but the controller (the recap lists
localhost only).
"""

import os
import pathlib
import re
import shutil
import subprocess
import sys
import time

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[3]
# Lines of the lab inventory files, for the line numbers the lint reports on
# text appended to them.
LAB_LINES = {f: len((ROOT / "inventories" / "lab" / f).read_text().splitlines())
             for f in ("hosts.yml", "group_vars/all/branch.yml")}
# The line after mail1's vm_memory_mb (where the test gives it twice).
MAIL1_MEMORY_LINE = (ROOT / "inventories" / "lab" / "hosts.yml").read_text().splitlines().index(
    "              vm_memory_mb: 1536") + 2
PLAYBOOK = str(ROOT / "playbooks" / "preflight.yml")
# Preflight fails (or passes) within LIMIT_S on an idle machine. On a busy one
# the limit scales with a trivial ansible-playbook run measured in the same
# session (Ansible's own start-up is most of the time), so load does not make
# the test flaky and a slow preflight still fails it.
LIMIT_S = 3.0
BASELINE_FACTOR = 3.0


def _ansible_playbook():
    local = pathlib.Path(sys.executable).parent / "ansible-playbook"
    return str(local) if local.exists() else "ansible-playbook"


def _hosts(inv):
    return yaml.safe_load((inv / "hosts.yml").read_text())


def _vms(data):
    return data["all"]["children"]["vms"]["children"]


def edit_hosts(change):
    def apply(inv):
        data = _hosts(inv)
        change(data)
        (inv / "hosts.yml").write_text(yaml.safe_dump(data, sort_keys=False))
    return apply


def edit_branch(change):
    def apply(inv):
        path = inv / "group_vars" / "all" / "branch.yml"
        data = yaml.safe_load(path.read_text())
        change(data["smbvdc_branch"])
        path.write_text(yaml.safe_dump(data, sort_keys=False))
    return apply


def edit_group_vars(name, values):
    def apply(inv):
        path = inv / "group_vars" / ("%s.yml" % name)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = yaml.safe_load(path.read_text()) if path.exists() else {}
        data.update(values)
        path.write_text(yaml.safe_dump(data, sort_keys=False))
    return apply


def raw_append(relpath, text):
    def apply(inv):
        with open(inv / relpath, "a") as f:
            f.write(text)
    return apply


def _set(path, key, value):
    def change(data):
        node = data
        for p in path:
            node = node[p]
        node[key] = value
    return change


WEB1 = ["all", "children", "vms", "children", "web", "hosts", "web1"]
NS1 = ["all", "children", "vms", "children", "dns_primary", "hosts", "ns1"]
BAK1 = ["all", "children", "vms", "children", "backup", "hosts", "bak1"]

CASES = [
    # zones
    ("record name with a space", edit_branch(lambda b: b.update(dns={"records": [
        {"name": "my host", "type": "A", "value": "10.77.10.99"}]})), "smbvdc_branch.dns.records[0].name"),
    ("negative ttl", edit_branch(lambda b: b.update(dns={"records": [
        {"name": "x", "type": "A", "value": "10.77.10.99", "ttl": -1}]})), "smbvdc_branch.dns.records[0].ttl"),
    ("txt with a newline", edit_branch(lambda b: b.update(dns={"records": [
        {"name": "x", "type": "TXT", "value": "a\nb"}]})), "smbvdc_branch.dns.records[0].value"),
    ("mx at an ip", edit_branch(lambda b: b.update(dns={"records": [
        {"name": "@", "type": "MX", "value": "20 10.77.10.5"}]})), "smbvdc_branch.dns.records[0].value"),
    ("mx at a cname", edit_branch(lambda b: b.update(dns={"records": [
        {"name": "@", "type": "MX", "value": "20 www"}]})), "smbvdc_branch.dns.records[0]"),
    ("cname beside other data", edit_branch(lambda b: b.update(dns={"records": [
        {"name": "ns1", "type": "CNAME", "value": "web1"}]})), "smbvdc_branch.dns.records[0]"),
    ("service name equal to a host", edit_branch(lambda b: b.update(dns={"service_names": {"web": ["ns2"]}})),
     "smbvdc_branch.dns.service_names.web"),
    # monitoring and backups (plugin_utils/checks.py)
    ("backup path no service owns", edit_branch(lambda b: b.update(backup={"extra_paths": [
        {"host": "fileserver", "path": "/srv/files"}]})), "smbvdc_branch.backup.extra_paths[0].host"),
    ("retention shorter than the dump cycle", edit_branch(lambda b: b.update(backup={
        "dumpcycle_days": 7, "retention_days": 2})), "smbvdc_branch.backup.retention_days"),
    ("notification address outside without relay", edit_branch(lambda b: b.update(monitoring={
        "notify": ["boss@example.net"]})), "smbvdc_branch.monitoring.notify[0]"),
    ("check interval of 0", edit_branch(lambda b: b.update(monitoring={"check_interval": 0})),
     "smbvdc_branch.monitoring.check_interval"),
    ("hostmaster without @", edit_branch(lambda b: b.update(dns={"hostmaster": "hostmaster.lab.smbvdc.test"})),
     "smbvdc_branch.dns.hostmaster"),
    ("expire below refresh + retry", edit_branch(lambda b: b.update(dns={"expire": 3600})),
     "smbvdc_branch.dns.expire"),
    ("spf with an invalid address", edit_branch(lambda b: b.update(mail={"spf_extra": ["ip4:999.1.1.1"]})),
     "smbvdc_branch.mail.spf_extra[0]"),
    ("dmarc rua not a mailto uri", edit_branch(lambda b: b.update(mail={"dmarc_rua": "dmarc@example.org"})),
     "smbvdc_branch.mail.dmarc_rua"),
    # web sites (plugin_utils/web.py)
    ("site name colliding with a host", edit_branch(lambda b: b.update(web={"sites": [{"name": "ns1"}]})),
     "smbvdc_branch.web.sites[0].name: ns1.lab.smbvdc.test is already the name of host ns1"),
    ("unknown web application", edit_branch(lambda b: b.update(web={"sites": [{"name": "shop", "app": "wordpress"}]})),
     "smbvdc_branch.web.sites[0].app"),
    ("wwwroot not https", edit_branch(lambda b: b.update(web={"sites": [
        {"name": "www", "wwwroot": "http://www.lab.smbvdc.test"}]})), "smbvdc_branch.web.sites[0].wwwroot"),
    ("moodle vm below the memory moodle needs", edit_hosts(lambda d: (
        _set(WEB1, "vm_memory_mb", 512)(d), _vms(d).update(moodle={"hosts": {"web1": None}}))),
     "hostvars['web1'].vm_memory_mb: 512 MiB is less than its sites need: 768 MiB"),
    # model
    ("vm_network as a list", edit_hosts(_set(WEB1, "vm_network", ["lan"])), "hostvars['web1'].vm_network"),
    ("vm_host as a list", edit_hosts(_set(WEB1, "vm_host", ["lab-kvm"])), "hostvars['web1'].vm_host"),
    ("ipv6 address without ipv6 network", lambda inv: (edit_branch(lambda b: b["networks"][0].pop("ipv6"))(inv),
                                                       edit_hosts(_set(NS1, "vm_address6", "fd00:77:10::53"))(inv)),
     "hostvars['ns1'].vm_address6"),
    ("misspelt service group", edit_hosts(lambda d: _vms(d).update(webserver={"hosts": {"web2": {"vm_memory_mb": 256}}})),
     "groups['webserver']"),
    ("mail domain listed twice", edit_branch(lambda b: b.update(mail_domains=["lab.smbvdc.test", "lab.smbvdc.test"])),
     "smbvdc_branch.mail_domains[1]"),
    ("too many vcpus", edit_hosts(_set(WEB1, "vm_vcpus", 8)), "hostvars['web1'].vm_vcpus"),
    ("data disk of size 0", edit_hosts(_set(BAK1, "vm_data_disks", [{"name": "vtapes", "size_gb": 0}])),
     "hostvars['bak1'].vm_data_disks[0].size_gb: must be an integer >= 1, got 0."),
    ("data disk named twice", edit_hosts(_set(BAK1, "vm_data_disks", [{"name": "vtapes", "size_gb": 4},
                                                                      {"name": "vtapes", "size_gb": 4}])),
     "hostvars['bak1'].vm_data_disks[1].name"),
    ("data disks beyond the pool", edit_hosts(_set(BAK1, "vm_data_disks", [{"name": "vtapes", "size_gb": 9}])),
     "hostvars['ns2'].vm_disk_gb: does not fit on any KVM host (lab-kvm: 1 GiB disk missing)"),
    ("smbvdc_branch as a list", lambda inv: (inv / "group_vars" / "all" / "branch.yml").write_text(
        "smbvdc_branch:\n  - name: lab\n  - domain: lab.smbvdc.test\n"), "smbvdc_branch must be a mapping"),
    # the inventory's files
    ("key given twice in hosts.yml", lambda inv: (inv / "hosts.yml").write_text(
        (inv / "hosts.yml").read_text().replace("vm_memory_mb: 1536", "vm_memory_mb: 1536\n              vm_memory_mb: 640")),
     "hosts.yml:%d: key 'vm_memory_mb' is given twice" % MAIL1_MEMORY_LINE),
    ("yaml syntax error in hosts.yml", raw_append("hosts.yml", "  - broken: [\n"), "hosts.yml:%d: YAML syntax error" % (LAB_LINES["hosts.yml"] + 1)),
    ("yaml syntax error in group_vars", raw_append("group_vars/mail.yml", "mail_aliases: [oops\n"),
     "group_vars/mail.yml:10: YAML syntax error"),
    ("key given twice in group_vars", raw_append("group_vars/all/branch.yml", "smbvdc_branch: {}\n"),
     "group_vars/all/branch.yml:%d: key" % (LAB_LINES["group_vars/all/branch.yml"] + 1) + " 'smbvdc_branch' is given twice"),
    # layers
    ("mail_mailboxes not a list", edit_group_vars("mail", {"mail_mailboxes": "notalist"}),
     "hostvars['mail1'].mail_mailboxes"),
    ("mailbox in a domain the branch does not serve", edit_group_vars(
        "mail", {"mail_mailboxes": [{"address": "bob@elsewhere.test"}]}), "hostvars['mail1'].mail_mailboxes[0].address"),
    ("tsig secret not base64", edit_group_vars("dns_primary", {"nsd_tsig_secret": "not*base64"}),
     "hostvars['ns1'].nsd_tsig_secret"),
    # the roles' own variables (meta/argument_specs.yml and plugin_utils/role_vars.py), on the hosts each role runs on
    ("common_packages as a string", edit_group_vars("all/common", {"common_packages": "vim"}),
     "hostvars['bak1'].common_packages: must be a list, got str 'vim'"),
    ("kvm_host_accel outside its choices", edit_hosts(_set(["all", "children", "kvm_hosts", "hosts", "lab-kvm"],
                                                           "kvm_host_accel", "hvf")),
     "hostvars['lab-kvm'].kvm_host_accel: must be one of: auto, kvm, qemu, got: hvf"),
    ("nsd_verbosity outside its choices", edit_group_vars("dns_primary", {"nsd_verbosity": 9}),
     "hostvars['ns1'].nsd_verbosity: must be one of: 0, 1, 2, 3, 4, 5, got: 9"),
    ("mail_tls_days that renews every run", edit_group_vars("mail", {"mail_tls_days": 30}),
     "hostvars['mail1'].mail_tls_days: must be 31 or more, got 30"),
    ("mariadb_port out of range", edit_group_vars("mail", {"mariadb_port": 99999}),
     "hostvars['mail1'].mariadb_port: must be 1-65535, got 99999"),
    ("moodle checksum not a sha256", edit_group_vars("moodle", {"moodle_archive_sha256": "abc"}),
     "hostvars['web1'].moodle_archive_sha256: must be 64 hex digits"),
    ("web_tls_days not a number", edit_group_vars("web", {"web_tls_days": "two years"}),
     "hostvars['web1'].web_tls_days: must be an integer, got str 'two years'"),
    ("amanda tapecycle not above runspercycle", edit_group_vars("backup", {"amanda_tapecycle": 7}),
     "hostvars['bak1'].amanda_tapecycle: is 7, which must exceed amanda_runspercycle (7)"),
    ("nagios extra service on an unknown host", edit_group_vars("monitoring", {"nagios_extra_services": [
        {"host": "nosuch", "description": "Disk", "check_command": "smbvdc_check_nrpe!check_disk"}]}),
     "hostvars['mon1'].nagios_extra_services[0].host: 'nosuch' is not a host of the monitoring plan"),
    ("vm_role_default_state outside its choices", edit_group_vars("kvm_hosts", {"vm_role_default_state": "on"}),
     "hostvars['lab-kvm'].vm_role_default_state: must be one of: running"),
]


def run_preflight(inv):
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    start = time.monotonic()
    proc = subprocess.run([_ansible_playbook(), "-i", str(inv), PLAYBOOK], capture_output=True, text=True, env=env,
                          cwd=str(ROOT), timeout=60)
    return proc.returncode, proc.stdout + proc.stderr, time.monotonic() - start


@pytest.fixture(scope="module")
def limit_s(tmp_path_factory):
    play = tmp_path_factory.mktemp("baseline") / "noop.yml"
    play.write_text("- hosts: localhost\n  gather_facts: false\n  tasks:\n    - ansible.builtin.debug:\n        msg: hi\n")
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"))
    start = time.monotonic()
    subprocess.run([_ansible_playbook(), "-i", "localhost,", "-c", "local", str(play)], capture_output=True,
                   env=env, cwd=str(ROOT), timeout=60, check=True)
    baseline = time.monotonic() - start
    return max(LIMIT_S, BASELINE_FACTOR * baseline)


@pytest.fixture
def lab_copy(tmp_path):
    inv = tmp_path / "lab"
    shutil.copytree(ROOT / "inventories" / "lab", inv, ignore=shutil.ignore_patterns(".smbvdc"))
    return inv


def test_the_lab_passes_preflight(lab_copy, limit_s):
    rc, out, elapsed = run_preflight(lab_copy)
    assert rc == 0, out
    assert elapsed < limit_s, "preflight took %.1f s (limit %.1f s)" % (elapsed, limit_s)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_inventory_fails_in_preflight(case, lab_copy, limit_s):
    _name, breaks, expected = case
    breaks(lab_copy)
    rc, out, elapsed = run_preflight(lab_copy)
    assert rc != 0, out
    assert expected in out, out
    assert "Traceback" not in out, out
    recap = out.split("PLAY RECAP", 1)[-1]
    assert re.findall(r"^(\S+)\s+:\s+ok=", recap, re.M) in ([], ["localhost"]), recap
    assert elapsed < limit_s, "preflight took %.1f s (limit %.1f s)" % (elapsed, limit_s)


# --- the other inventories that ship, and the molecule scenarios' -------------------------
# A role variable check that is wrong (or an argument_specs entry that is)
# would block these; each must pass the preflight as it is.

def _molecule_inventory(scenario, dest):
    """The inventory molecule builds for ``scenario``: its platforms in their groups, plus provisioner.inventory."""
    data = yaml.safe_load((ROOT / "molecule" / scenario / "molecule.yml").read_text())
    inventory = (data.get("provisioner") or {}).get("inventory") or {}
    children = dict(inventory.get("hosts") or {})
    for platform in data.get("platforms") or []:
        for group in platform.get("groups") or ["ungrouped"]:
            node = children.setdefault(group, {})
            node["hosts"] = dict(node.get("hosts") or {}, **{platform["name"]: None})
    dest.mkdir()
    (dest / "hosts.yml").write_text(yaml.safe_dump({"all": {"children": children}}))
    for kind in ("group_vars", "host_vars"):
        (dest / kind).mkdir()
        for name, values in (inventory.get(kind) or {}).items():
            (dest / kind / ("%s.yml" % name)).write_text(yaml.safe_dump(values))
    return dest


MOLECULE_WITH_PREFLIGHT = sorted(p.parent.name for p in (ROOT / "molecule").glob("*/converge.yml")
                                 if "smbvdc.datacenter.preflight" in p.read_text())
SHIPPED = ["inventories/lab-multi", "inventories/example-branch"] + ["molecule/%s" % s for s in MOLECULE_WITH_PREFLIGHT]


def test_the_molecule_scenarios_with_a_preflight_are_found():
    assert {"mail", "nsd", "web", "nagios", "amanda"} <= set(MOLECULE_WITH_PREFLIGHT)


@pytest.mark.parametrize("source", SHIPPED)
def test_shipped_inventories_pass_preflight(source, tmp_path, monkeypatch):
    if source.startswith("molecule/"):
        inv = _molecule_inventory(source.split("/", 1)[1], tmp_path / "inventory")
        monkeypatch.setenv("MOLECULE_EPHEMERAL_DIRECTORY", str(tmp_path / "ephemeral"))
        monkeypatch.setenv("MOLECULE_PROJECT_DIRECTORY", str(ROOT))
    else:
        inv = tmp_path / "inventory"
        shutil.copytree(ROOT / source, inv, ignore=shutil.ignore_patterns(".smbvdc"))
    rc, out, _elapsed = run_preflight(inv)
    assert rc == 0, out
