"""The generated zones under peer validators: BIND's named-checkzone, pyspf and checkdmarc.

For the lab, the example branch and a large test branch (3 KVM hosts, 31
VMs, a /22 with IPv6, two /27s with classless reverse, a parent of the
branch domain among the mail domains):

- every zone passes ``named-checkzone -k fail -m fail -M fail -n fail -S fail
  -i full`` with no warning (tests/zonecheck.py: out-of-zone names resolve
  through the branch's own zones only);
- the SPF records are evaluated by pyspf (RFC 7208) and the DMARC records
  parsed by checkdmarc (RFC 7489, including the external report destination
  check), both asking a DNS server on loopback that serves the generated
  zones over real UDP.
"""

import ipaddress
import os
import pathlib
import socket
import sys
import threading

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.resolver
import dns.zone
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[4]
sys.path.insert(0, str(ROOT / "tests"))
import zonecheck  # noqa: E402

INVENTORIES = ["inventories/lab", "inventories/example-branch", "tests/inventories/large-branch"]


@pytest.fixture(scope="module", params=INVENTORIES)
def branch(request):
    os.environ.setdefault("ANSIBLE_CONFIG", str(ROOT / "ansible.cfg"))
    m, zones = zonecheck.model_and_zones(str(ROOT / request.param))
    return request.param, m, zones, zonecheck.render_all(m, zones)


def test_named_checkzone_strict_accepts_every_zone(branch, tmp_path):
    name, _m, _zones, texts = branch
    assert zonecheck.checker(), "named-checkzone is missing: apt-get install bind9-utils (make setup installs it)"
    assert zonecheck.can_unshare(), "the BIND check runs in a private mount namespace: run the tests as root"
    results = zonecheck.check(texts, str(tmp_path))
    assert set(results) == set(texts)
    bad = {z: out for z, (rc, out) in results.items() if rc != 0 or zonecheck.warnings(out)}
    assert not bad, "%s: named-checkzone complains:\n%s" % (name, "\n".join("%s: %s" % kv for kv in bad.items()))


def test_named_checkzone_can_fail(tmp_path):
    """The checker is live: a parent zone without the delegation's glue is refused (the defect it found)."""
    text = ("$ORIGIN example.org.\n$TTL 3600\n@ IN SOA ns1.branch.example.org. hostmaster.example.org. 1 14400 3600 "
            "1209600 3600\n@ IN NS ns1.branch.example.org.\n")
    rc, out = zonecheck.check({"example.org": text}, str(tmp_path))["example.org"]
    assert rc != 0 and "has no address records" in out, out


def test_large_branch_has_the_shapes_the_validator_asked_for():
    os.environ.setdefault("ANSIBLE_CONFIG", str(ROOT / "ansible.cfg"))
    m, zones = zonecheck.model_and_zones(str(ROOT / "tests/inventories/large-branch"))
    assert len(m["kvm_hosts"]) == 3 and len(m["vms"]) >= 30
    assert "example.edu" in m["mail_domains"] and m["domain"].endswith(".example.edu")
    assert m["networks"]["lan"]["prefix4"] == 22 and m["networks"]["lan"]["ipv6"]
    assert {z for z, v in zones.items() if v.get("classless")} == {"0-31.50.168.192.in-addr.arpa",
                                                                   "32-63.100.51.198.in-addr.arpa"}
    assert "50.168.192.in-addr.arpa" in zones          # private: the branch serves the RFC 2317 parent
    assert "100.51.198.in-addr.arpa" not in zones       # public: the ISP does, and the model says what to send


# --- a DNS server on loopback that serves the generated zones ----------------

class ZoneServer(object):
    """Authoritative answers from dnspython zones over UDP on 127.0.0.1 (an ephemeral port)."""

    def __init__(self, texts):
        self.zones = {dns.name.from_text(n + "."): dns.zone.from_text(t, origin=n + ".", relativize=False,
                                                                     check_origin=False)
                      for n, t in texts.items()}
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.queries = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _zone_for(self, qname):
        best = None
        for origin in self.zones:
            if qname.is_subdomain(origin) and (best is None or len(origin) > len(best)):
                best = origin
        return best

    def _serve(self):
        while not self.stop.is_set():
            try:
                wire, peer = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            query = dns.message.from_wire(wire)
            self.queries += 1
            response = dns.message.make_response(query)
            q = query.question[0]
            origin = self._zone_for(q.name)
            if origin is None:
                response.set_rcode(dns.rcode.REFUSED)
            else:
                response.flags |= dns.flags.AA
                zone = self.zones[origin]
                node = zone.get_node(q.name)
                if node is None:
                    response.set_rcode(dns.rcode.NXDOMAIN)
                else:
                    rds = node.get_rdataset(dns.rdataclass.IN, q.rdtype)
                    if rds is not None:
                        rrset = response.find_rrset(response.answer, q.name, dns.rdataclass.IN, q.rdtype, create=True)
                        rrset.update(rds)
            self.sock.sendto(response.to_wire(), peer)

    def resolver(self):
        r = dns.resolver.Resolver(configure=False)
        r.nameservers = ["127.0.0.1"]
        r.port = self.port
        r.lifetime = 3
        return r

    def close(self):
        self.stop.set()
        self.thread.join()
        self.sock.close()


@pytest.fixture
def server(branch):
    s = ZoneServer(branch[3])
    yield s
    s.close()


def test_pyspf_evaluates_every_spf_record(branch, server, monkeypatch):
    import spf
    _n, m, _zones, _texts = branch
    monkeypatch.setattr(dns.resolver, "default_resolver", server.resolver())
    mail_host = m["services"]["mail"][0]
    mail_ip = m["vms"][mail_host]["ipv4"]
    helo = m["vms"][mail_host]["fqdn"]
    for domain in m["mail_domains"]:
        result, explanation = spf.check2(i=mail_ip, s="someone@%s" % domain, h=helo)
        assert result == "pass", (domain, result, explanation)
        result, _e = spf.check2(i="192.0.2.199", s="someone@%s" % domain, h="stranger.example")
        assert result in ("fail", "softfail"), (domain, result)
    for term in m["mail"]["spf_extra"]:
        if term.startswith("include:"):
            # the include resolves through the branch's own zone: an address only the included
            # record lists (not the mail host, not spf_extra's own ip4:) passes
            included = b"".join(next(iter(server.resolver().resolve(term.split(":", 1)[1], "TXT"))).strings).decode()
            nets = [ipaddress.ip_network(t.split(":", 1)[1]) for t in included.split() if t.startswith("ip4:")]
            own = [ipaddress.ip_network(t.split(":", 1)[1]) for t in m["mail"]["spf_extra"] if t.startswith("ip4:")]
            sender = next(a for n in nets for a in n.hosts() if not any(a in o for o in own))
            result, _e = spf.check2(i=str(sender), s="someone@%s" % m["mail_domains"][0], h="relay.example")
            assert result == "pass", (term, str(sender), result)
    assert server.queries > 0


def test_checkdmarc_parses_every_dmarc_record(branch, server):
    from checkdmarc import dmarc as checkdmarc_dmarc

    _n, m, _zones, _texts = branch
    resolver = server.resolver()
    for domain in m["mail_domains"]:
        answer = resolver.resolve("_dmarc.%s" % domain, "TXT")
        record = b"".join(next(iter(answer)).strings).decode()
        parsed = checkdmarc_dmarc.parse_dmarc_record(record, domain, resolver=resolver)
        tags = parsed["tags"]
        assert tags["p"]["value"] == m["mail"]["dmarc_policy"], parsed
        assert tags["rua"]["value"], parsed
        # no warning at all, in particular not the external destination check of RFC 7489 7.1
        # ("<rua domain> does not indicate that it accepts DMARC reports about <domain>")
        assert parsed.get("warnings", []) == [], parsed["warnings"]
