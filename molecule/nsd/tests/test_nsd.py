"""Verify the NSD primary/secondary pair with dnspython (molecule verify -s nsd).

Every check queries the real NSD daemons in the two containers from this
machine (the containers' addresses on the scenario's docker network). The
expected records come from the collection's own model code run on the
scenario inventory, so "every record of the model" is checked on both.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import dns.exception
import dns.flags
import dns.reversename
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.resolver
import dns.tsig
import dns.tsigkeyring
import dns.zone
import pytest

PROJECT = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", Path(__file__).resolve().parents[3]))
SCENARIO = Path(__file__).resolve().parents[1]
EPHEMERAL = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"])
# the inventory directory: generated hosts plus the scenario's extra hosts and vars
INVENTORY = str(Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent)
PRIMARY, SECONDARY = "172.30.53.10", "172.30.53.11"
BIN = Path(sys.executable).parent

sys.path.insert(0, str(PROJECT / "tests"))
import conftest  # noqa: E402,F401  (ansible_collections.smbvdc.datacenter importable)
import inventory_groups  # noqa: E402

from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import dns as dnsgen  # noqa: E402
from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import model as modelmod  # noqa: E402


def ansible_env():
    return inventory_groups.molecule_env(EPHEMERAL)


def inventory():
    return inventory_groups.load(BIN / "ansible-inventory", INVENTORY, env=ansible_env())


def build_model(extra_records=None):
    hostvars, groups = inventory()
    branch = json.loads(json.dumps(hostvars["nsd1"]["smbvdc_branch"]))
    branch["dns"]["records"] = extra_records or []
    dkim = hostvars["nsd1"]["nsd_dkim_keys"]
    m = modelmod.build_model(branch, {"groups": groups, "hostvars": hostvars})
    return m, dnsgen.build_zones(m, dkim)


@pytest.fixture(scope="module")
def model_and_zones():
    return build_model()


@pytest.fixture(scope="module")
def keyring():
    hostvars, _ = inventory()
    name = "smbvdc-molecule-xfr"
    raw = (EPHEMERAL / "secrets" / (name + ".tsig")).read_text().strip()
    secret = base64.b64encode(raw.encode()).decode()
    return name, dns.tsigkeyring.from_text({name: ("hmac-sha256", secret)})


def query(server, name, rdtype, tcp=False):
    q = dns.message.make_query(name, rdtype)
    fn = dns.query.tcp if tcp else dns.query.udp
    return fn(q, server, timeout=3)


def answer_set(resp, name, rdtype):
    for rrset in resp.answer:
        if rrset.name.to_text() == name and rrset.rdtype == dns.rdatatype.from_text(rdtype):
            return {r.to_text() for r in rrset}
    return set()


def expected_records(zones):
    out = {}
    for zone in zones.values():
        origin = zone["origin"] + "."
        for owner, rtype, _ttl, value, _v in zone["records"]:
            name = origin if owner == "@" else "%s.%s" % (owner, origin)
            if rtype == "TXT":
                value = " ".join('"%s"' % c.replace('"', '\\"') for c in value)
            out.setdefault((name, rtype), set()).add(value)
    return out


def soa_serial(server, zone):
    resp = query(server, zone + ".", "SOA")
    return [r.serial for rrset in resp.answer for r in rrset][0]


def wait_for(predicate, timeout=20.0, step=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def test_both_servers_answer_every_record_of_the_model(model_and_zones):
    _m, zones = model_and_zones
    expected = expected_records(zones)
    assert len(expected) > 20
    for (name, rtype), values in sorted(expected.items()):
        for server in (PRIMARY, SECONDARY):
            resp = query(server, name, rtype)
            assert resp.rcode() == dns.rcode.NOERROR, (server, name, rtype)
            assert resp.flags & dns.flags.AA, (server, name, "not authoritative")
            assert answer_set(resp, name, rtype) == values, (server, name, rtype)


def test_soa_serials_match(model_and_zones):
    _m, zones = model_and_zones
    for zone in zones:
        primary = soa_serial(PRIMARY, zone)
        assert wait_for(lambda: soa_serial(SECONDARY, zone) == primary, 10), zone
        assert re.match(r"^20\d{8}$", str(primary))


def test_axfr_refused_without_key_and_served_with_it(model_and_zones, keyring):
    _m, zones = model_and_zones
    name, ring = keyring
    for zone in zones:
        for server in (PRIMARY, SECONDARY):
            with pytest.raises(dns.query.TransferError) as err:
                dns.zone.from_xfr(dns.query.xfr(server, zone, timeout=5))
            assert err.value.rcode == dns.rcode.REFUSED
        z = dns.zone.from_xfr(dns.query.xfr(PRIMARY, zone, keyring=ring, keyname=name, keyalgorithm="hmac-sha256",
                                            timeout=5))
        assert z.origin.to_text() == zone + "."
        with pytest.raises(dns.exception.DNSException):
            bad = dns.tsigkeyring.from_text({name: ("hmac-sha256", base64.b64encode(b"x" * 32).decode())})
            dns.zone.from_xfr(dns.query.xfr(PRIMARY, zone, keyring=bad, keyname=name, timeout=5))


def test_reverse_lookup_for_every_address(model_and_zones):
    m, _zones = model_and_zones
    hosts = [(v["fqdn"], v["ipv4"]) for v in m["vms"].values()] + [
        (k["fqdn"], a["ipv4"]) for k in m["kvm_hosts"].values() for a in k["addresses"].values()]
    assert len(hosts) >= 4
    for fqdn, address in hosts:
        for server in (PRIMARY, SECONDARY):
            res = dns.resolver.Resolver(configure=False)
            res.nameservers = [server]
            # the classless /25 is found through the RFC 2317 zone: ask it directly
            name = dns.reversename.from_address(address).to_text()
            if address.startswith("198.51.100."):
                name = "%s.128-255.100.51.198.in-addr.arpa." % address.split(".")[-1]
            answer = res.resolve(name, "PTR", raise_on_no_answer=True)
            assert {r.to_text() for r in answer} == {fqdn + "."}, (server, address)


def test_spf_dmarc_dkim_parse(model_and_zones):
    for server in (PRIMARY, SECONDARY):
        for domain in ("nsd.smbvdc.test.", "mail-domain.test."):
            txt = [b"".join(r.strings).decode() for rrset in query(server, domain, "TXT").answer for r in rrset]
            spf = [t for t in txt if t.startswith("v=spf1 ")]
            assert len(spf) == 1, txt
            terms = spf[0].split()
            assert terms[-1] in ("-all", "~all") and "ip4:198.51.100.140" in terms
            assert all(re.match(r"^(v=spf1|[-~?+]?(all|ip4:[\d./]+|ip6:[0-9a-f:./]+|include:\S+|a|mx))$", t) for t in terms)
            dmarc = [b"".join(r.strings).decode() for rrset in query(server, "_dmarc." + domain, "TXT").answer
                     for r in rrset]
            tags = dict(t.strip().split("=", 1) for t in dmarc[0].split(";"))
            assert tags["v"] == "DMARC1" and tags["p"] in ("none", "quarantine", "reject")
            assert tags["rua"].startswith("mailto:")
        resp = query(server, "molecule._domainkey.nsd.smbvdc.test.", "TXT", tcp=True)
        rdata = [r for rrset in resp.answer for r in rrset][0]
        assert all(len(s) <= 255 for s in rdata.strings) and len(rdata.strings) >= 2
        record = b"".join(rdata.strings).decode()
        assert record.startswith("v=DKIM1; k=rsa; p=MIIBIjAN")
        base64.b64decode(record.split("p=", 1)[1])


def _playbook(*args):
    cmd = [str(BIN / "ansible-playbook"), "-i", INVENTORY, str(SCENARIO / "converge.yml"), *args]
    proc = subprocess.run(cmd, env=ansible_env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    return proc.stdout


def _recap(out):
    out = re.sub(r"\x1b\[[0-9;]*m", "", out)
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\S+)\s+:\s+ok=\d+\s+changed=(\d+)", out, re.M)}


def test_check_diff_on_converged_pair_reports_no_change():
    recap = _recap(_playbook("--check", "--diff"))
    assert recap.get("nsd1") == 0 and recap.get("nsd2") == 0, recap


def test_model_change_reaches_the_secondary():
    zone = "nsd.smbvdc.test"
    before = soa_serial(PRIMARY, zone)
    record = {"name": "added", "type": "A", "value": "172.30.53.99"}
    recap = _recap(_playbook("-e", json.dumps({"nsd_test_records": [record]})))
    assert recap.get("nsd1", 0) >= 1
    after = soa_serial(PRIMARY, zone)
    assert after > before
    assert wait_for(lambda: soa_serial(SECONDARY, zone) == after, 15), "secondary still serves %s" % before
    assert answer_set(query(SECONDARY, "added.%s." % zone, "A"), "added.%s." % zone, "A") == {"172.30.53.99"}
    # the other zones did not change, so their serials did not either
    m, zones = build_model([record])
    for other in zones:
        if other != zone:
            assert soa_serial(PRIMARY, other) == soa_serial(SECONDARY, other)


def test_secondary_answers_with_primary_stopped(host):
    subprocess.run(["docker", "exec", "nsd1", "systemctl", "stop", "nsd"], check=True)
    try:
        with pytest.raises(dns.exception.Timeout):
            query(PRIMARY, "nsd1.nsd.smbvdc.test.", "A")
        resp = query(SECONDARY, "nsd1.nsd.smbvdc.test.", "A")
        assert answer_set(resp, "nsd1.nsd.smbvdc.test.", "A") == {PRIMARY}
        assert resp.flags & dns.flags.AA
    finally:
        subprocess.run(["docker", "exec", "nsd1", "systemctl", "start", "nsd"], check=True)


def test_nsd_runs_beside_a_resolver_stub_on_127_0_0_53():
    """prepare.yml holds 127.0.0.53:53 on the primary (as systemd-resolved does
    on a Debian guest); NSD must run beside it, bound to its own addresses,
    and still answer on them (the test before this one also restarted it)."""
    def active(unit):
        return subprocess.run(["docker", "exec", "nsd1", "systemctl", "is-active", unit],
                               capture_output=True, text=True).stdout.strip()
    assert active("smbvdc-fake-resolved-stub") == "active"
    assert active("nsd") == "active"
    conf = subprocess.run(["docker", "exec", "nsd1", "cat", "/etc/nsd/nsd.conf"], check=True,
                          capture_output=True, text=True).stdout
    assert "ip-address: %s" % PRIMARY in conf and "ip-address: 127.0.0.1" in conf
    resp = query(PRIMARY, "nsd1.nsd.smbvdc.test.", "A")
    assert answer_set(resp, "nsd1.nsd.smbvdc.test.", "A") == {PRIMARY}
