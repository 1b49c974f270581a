"""Verify smbvdc.datacenter.common on the molecule containers (testinfra).

Run by `molecule verify -s common` (or `molecule test -s common`); molecule
passes --hosts=all and the scenario's inventory, so every test runs once per
container.
"""

from __future__ import annotations

import contextlib
import errno
import importlib.util
import json
import os
import socket
from pathlib import Path

import pytest

PROJECT = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", Path(__file__).resolve().parents[3]))

ALICE_KEY = (
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIZ13SjrE5DaR1aHcVHETnqYGozOnte5YNbeaqK4Ciza alice@molecule"
)
BOB_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK1nxC6iPXC/TqXrskEkPwdZqQH2J1MUsJenbKCTrv9l bob@molecule"

# Independent of the service table: what each test host must open.
SPOT_CHECKS = {
    "common-mail": {(22, "tcp"), (25, "tcp"), (587, "tcp"), (993, "tcp"), (4190, "tcp"), (10080, "tcp")},
    "common-dns": {(22, "tcp"), (53, "tcp"), (53, "udp"), (8952, "tcp")},
}
# Ports no test host opens.
CLOSED_PORT = 8081


def _services_module():
    """The collection's service table (plugins/plugin_utils/services.py), loaded by path."""
    path = PROJECT / "plugins" / "plugin_utils" / "services.py"
    spec = importlib.util.spec_from_file_location("smbvdc_services", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def hostvars(host):
    return host.ansible.get_variables()


@pytest.fixture(scope="module")
def name(hostvars):
    return hostvars["inventory_hostname"]


def _expected_ports(hostvars):
    extra = (
        hostvars.get("common_firewall_extra_ports", [])
        + hostvars.get("common_group_firewall_extra_ports", [])
        + hostvars.get("common_host_firewall_extra_ports", [])
    )
    ports = _services_module().service_ports(
        hostvars["group_names"], extra=extra, backup_client=hostvars.get("common_firewall_backup_client", False)
    )
    return {(p["port"], p["proto"]) for p in ports}


def _input_chain_rules(host):
    ruleset = json.loads(host.check_output("nft -j list ruleset"))["nftables"]
    chains = [
        o["chain"]
        for o in ruleset
        if "chain" in o and o["chain"]["table"] == "smbvdc_filter" and o["chain"]["name"] == "input"
    ]
    rules = [
        o["rule"]["expr"]
        for o in ruleset
        if "rule" in o and o["rule"]["table"] == "smbvdc_filter" and o["rule"]["chain"] == "input"
    ]
    return chains, rules


def _accepted_dports(rules):
    """(port, proto) pairs accepted by `tcp|udp dport <n>|{<set>} accept` rules."""
    accepted = set()
    for expr in rules:
        if not any("accept" in e for e in expr):
            continue
        for e in expr:
            match = e.get("match", {})
            left = match.get("left", {})
            payload = left.get("payload", {}) if isinstance(left, dict) else {}
            if payload.get("field") != "dport" or match.get("op") not in ("==", "in"):
                continue
            proto = payload.get("protocol")
            right = match["right"]
            values = right["set"] if isinstance(right, dict) and "set" in right else [right]
            for value in values:
                if isinstance(value, dict) and "range" in value:
                    low, high = value["range"]
                    accepted.update((p, proto) for p in range(low, high + 1))
                else:
                    accepted.add((int(value), proto))
    return accepted


def _address(host):
    return host.interface("eth0").addresses[0]


def _connect(address, port, timeout=2.0):
    """'open', 'refused' (packet reached the host) or 'timeout' (dropped)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        rc = sock.connect_ex((address, port))
    except socket.timeout:
        return "timeout"
    finally:
        sock.close()
    if rc == 0:
        return "open"
    if rc == errno.ECONNREFUSED:
        return "refused"
    if rc in (errno.EAGAIN, errno.ETIMEDOUT, errno.EINPROGRESS):
        return "timeout"
    return "error %d" % rc


# --- firewall -------------------------------------------------------------------


def test_nftables_service(host):
    service = host.service("nftables")
    assert service.is_enabled
    assert service.is_running or host.run("systemctl is-active nftables").stdout.strip() == "active"
    assert host.run("nft -c -f /etc/nftables.conf").rc == 0


def test_input_policy_is_drop(host):
    chains, _ = _input_chain_rules(host)
    assert len(chains) == 1
    assert chains[0]["policy"] == "drop"
    assert chains[0]["hook"] == "input"


def test_exactly_the_expected_ports_are_open(host, hostvars, name):
    _, rules = _input_chain_rules(host)
    accepted = _accepted_dports(rules)
    assert accepted == _expected_ports(hostvars)
    assert SPOT_CHECKS[name] <= accepted
    assert (CLOSED_PORT, "tcp") not in accepted
    assert (CLOSED_PORT, "udp") not in accepted


def test_reload_keeps_other_tables(host):
    # Only the baseline's own table is replaced: tables of docker, libvirt or
    # fail2ban survive a reload.
    host.check_output("nft add table inet smbvdc_probe")
    try:
        host.check_output("systemctl reload nftables")
        tables = host.check_output("nft list tables")
        assert "table inet smbvdc_probe" in tables
        assert "table inet smbvdc_filter" in tables
    finally:
        host.run("nft delete table inet smbvdc_probe")


@contextlib.contextmanager
def _listener(host, port):
    """A TCP listener on `port` in the container, as a transient systemd unit."""
    unit = "smbvdc-probe-%d" % port
    host.run("systemctl stop %s" % unit)
    host.check_output("systemd-run --unit %s --collect python3 -m http.server --bind 0.0.0.0 %d" % (unit, port))
    try:
        ready = "timeout 10 sh -c 'until ss -Hltn sport = :%d | grep -q .; do sleep 0.2; done'" % port
        assert host.run(ready).rc == 0, "listener on %d did not start" % port
        yield
    finally:
        host.run("systemctl stop %s" % unit)


def test_docker_dns_survives_the_firewall(host, name):
    # On a user network docker's embedded DNS lives in NAT rules inside the
    # container; the baseline must not flush them.
    peer = {"common-mail": "common-dns", "common-dns": "common-mail"}[name]
    assert host.run("getent hosts %s" % peer).rc == 0


def test_closed_port_is_dropped_even_with_a_listener(host):
    address = _address(host)
    # SSH is allowed but nothing listens: the kernel answers with a reset.
    assert _connect(address, 22) == "refused"
    with _listener(host, CLOSED_PORT):
        # From inside the host (loopback) the listener answers ...
        probe = "python3 -c \"import socket; socket.create_connection(('127.0.0.1', %d), 2)\"" % CLOSED_PORT
        assert host.run(probe).rc == 0
        # ... from outside the packets are dropped without an answer.
        assert _connect(address, CLOSED_PORT) == "timeout"


def test_allowed_port_with_listener_is_reachable(host, name):
    port = {"common-mail": 4190, "common-dns": 8952}[name]
    with _listener(host, port):
        assert _connect(_address(host), port) == "open"


# --- admins ---------------------------------------------------------------------


def test_alice_is_an_admin_with_her_key(host):
    alice = host.user("alice")
    assert alice.exists
    assert alice.shell == "/bin/bash"
    keys = host.file("/home/alice/.ssh/authorized_keys")
    assert keys.user == "alice"
    assert keys.mode == 0o600
    assert keys.content_string.strip().splitlines() == [ALICE_KEY]


def test_bob_follows_the_layered_lists(host, name):
    bob = host.user("bob")
    if name == "common-dns":
        # common_host_admin_users overrides the group_vars entry with state: absent.
        assert not bob.exists
    else:
        assert bob.exists
        assert host.file("/home/bob/.ssh/authorized_keys").content_string.strip() == BOB_KEY


def test_sudoers_drop_in(host):
    sudoers = host.file("/etc/sudoers.d/smbvdc-admins")
    assert sudoers.exists
    assert sudoers.user == "root"
    assert sudoers.mode == 0o440
    lines = [line for line in sudoers.content_string.splitlines() if line and not line.startswith("#")]
    assert lines == ["alice\tALL=(ALL:ALL) NOPASSWD: ALL"]
    assert host.run("visudo -c").rc == 0
    assert "NOPASSWD: ALL" in host.check_output("sudo -l -U alice")


# --- apt ------------------------------------------------------------------------------


def test_apt_proxy(host, name):
    proxy = host.file("/etc/apt/apt.conf.d/01proxy")
    configured = host.check_output("apt-config dump Acquire::http::Proxy")
    if name == "common-dns":
        assert proxy.exists
        assert 'Acquire::http::Proxy "http://apt-proxy.branch.test:3142";' in configured
    else:
        assert not proxy.exists
        assert "apt-proxy" not in configured


def test_unattended_upgrades_security_only(host):
    assert host.package("unattended-upgrades").is_installed
    periodic = host.check_output("apt-config dump APT::Periodic")
    assert 'APT::Periodic::Unattended-Upgrade "1";' in periodic
    assert 'APT::Periodic::Update-Package-Lists "1";' in periodic
    origins = [
        line.split(" ", 1)[1].strip('";')
        for line in host.check_output("apt-config dump Unattended-Upgrade::Origins-Pattern").splitlines()
        if line.startswith("Unattended-Upgrade::Origins-Pattern:: ")
    ]
    assert origins == [
        "origin=Debian,codename=${distro_codename}-security,label=Debian-Security",
        "origin=Debian,codename=${distro_codename},label=Debian-Security",
    ]


# --- identity and time -----------------------------------------------------------------


def test_etc_hosts_block(host, name):
    hosts = host.file("/etc/hosts").content_string
    assert "# BEGIN smbvdc.datacenter.common" in hosts
    assert "127.0.1.1\t%s.branch.test %s" % (name, name) in hosts
    assert "192.0.2.25\tmx1.branch.test mx1" in hosts
    assert "2001:db8::53\tns1.branch.test ns1" in hosts
    # The runtime's own line for the container is kept.
    assert _address(host) in hosts
    assert host.check_output("getent hosts mx1.branch.test").split()[0] == "192.0.2.25"


def test_hostname_is_the_container_name(host, name):
    assert host.check_output("hostname") == name


def test_timesyncd_configured_and_enabled(host):
    assert host.package("systemd-timesyncd").is_installed
    assert host.file("/etc/systemd/timesyncd.conf.d/50-smbvdc.conf").contains("^\\[Time\\]")
    assert host.service("systemd-timesyncd").is_enabled
