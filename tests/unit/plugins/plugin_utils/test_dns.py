import base64
import copy
import datetime

import dns.rdatatype
import dns.zone
import pytest

from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import dns as dnsgen
from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import model
from ansible_collections.smbvdc.datacenter.plugins.plugin_utils.errors import ModelError

from branch_fixtures import lab

TODAY = datetime.date(2026, 11, 22)
# a real 2048-bit RSA public key's size in base64 (SubjectPublicKeyInfo DER = 294 bytes)
DKIM_PUB = base64.b64encode(bytes(range(256)) + bytes(38)).decode()


def branch_with_dmz():
    b, inv = lab()
    b["networks"].append({"name": "dmz", "ipv4": "198.51.100.128/25"})
    for h in ("ns1", "ns2", "web1"):
        inv["hostvars"][h]["vm_network"] = "lan"
    inv["hostvars"]["mail1"]["vm_network"] = "dmz"
    b["mail_domains"] = ["example.org"]
    return b, inv


def build(b, inv, dkim=None):
    m = model.build_model(b, inv)
    return m, dnsgen.build_zones(m, dkim if dkim is not None else {"lab.smbvdc.test": {"selector": "s1", "public_key": DKIM_PUB}})


def parse(zone, m, previous=None):
    text = dnsgen.render_zone(zone, m, previous_text=previous, today=TODAY)
    return text, dns.zone.from_text(text, origin=zone["origin"] + ".", relativize=False, check_origin=True)


def records_of(parsed):
    """{(owner, type): set(rdata text)} without SOA."""
    out = {}
    for name, node in parsed.nodes.items():
        for rds in node.rdatasets:
            if rds.rdtype == dns.rdatatype.SOA:
                continue
            out.setdefault((name.to_text(), dns.rdatatype.to_text(rds.rdtype)), set()).update(
                r.to_text() for r in rds)
    return out


def expected_of(zone):
    out = {}
    origin = zone["origin"] + "."
    for owner, rtype, _ttl, value, _v in zone["records"]:
        name = origin if owner == "@" else (owner if owner.endswith(".") else "%s.%s" % (owner, origin))
        if rtype == "TXT":
            value = " ".join('"%s"' % c for c in value)
        out.setdefault((name, rtype), set()).add(value)
    return out


def test_round_trip_every_zone_parses_to_the_model_records():
    m, zones = build(*branch_with_dmz())
    assert set(zones) == {"lab.smbvdc.test", "example.org", "10.77.10.in-addr.arpa",
                          "0.0.0.0.0.1.0.0.7.7.0.0.0.0.d.f.ip6.arpa", "128-255.100.51.198.in-addr.arpa"}
    for name, zone in zones.items():
        _text, parsed = parse(zone, m)
        assert records_of(parsed) == expected_of(zone), name


def test_forward_zone_content():
    m, zones = build(*branch_with_dmz())
    _t, p = parse(zones["lab.smbvdc.test"], m)
    r = records_of(p)
    assert r[("lab.smbvdc.test.", "NS")] == {"ns1.lab.smbvdc.test.", "ns2.lab.smbvdc.test."}
    assert r[("ns1.lab.smbvdc.test.", "A")] == {m["vms"]["ns1"]["ipv4"]}   # glue
    assert r[("lab.smbvdc.test.", "MX")] == {"10 mail1.lab.smbvdc.test."}
    assert r[("mail.lab.smbvdc.test.", "CNAME")] == {"mail1.lab.smbvdc.test."}
    assert r[("www.lab.smbvdc.test.", "CNAME")] == {"web1.lab.smbvdc.test."}
    assert r[("mail1.lab.smbvdc.test.", "A")] == {"198.51.100.138"}


def test_spf_and_dmarc_are_valid_records():
    m, zones = build(*branch_with_dmz())
    _t, p = parse(zones["example.org"], m)
    txt = p.find_rdataset("example.org.", "TXT")
    spf = [b"".join(r.strings).decode() for r in txt if r.strings[0].startswith(b"v=spf1")]
    assert spf == ["v=spf1 ip4:198.51.100.138 -all"]
    terms = spf[0].split()
    assert terms[0] == "v=spf1" and terms[-1] in ("-all", "~all")
    dmarc = b"".join(p.find_rdataset("_dmarc.example.org.", "TXT")[0].strings).decode()
    tags = dict(t.strip().split("=", 1) for t in dmarc.split(";"))
    assert tags["v"] == "DMARC1" and tags["p"] == "quarantine" and tags["rua"] == "mailto:postmaster@example.org"
    assert "pct" not in tags      # 100 is the default: not written (DMARCbis drops the tag)
    b, inv = branch_with_dmz()
    b["mail"] = {"dmarc_pct": 50}
    m, zones = build(b, inv)
    _t, p = parse(zones["example.org"], m)
    assert b"pct=50" in p.find_rdataset("_dmarc.example.org.", "TXT")[0].strings[0]


def test_dkim_2048_bit_key_split_into_255_byte_strings():
    m, zones = build(*branch_with_dmz())
    _t, p = parse(zones["lab.smbvdc.test"], m)
    rd = p.find_rdataset("s1._domainkey.lab.smbvdc.test.", "TXT")[0]
    assert len(rd.strings) >= 2 and all(len(s) <= 255 for s in rd.strings)
    assert b"".join(rd.strings).decode() == "v=DKIM1; k=rsa; p=" + DKIM_PUB


def test_classless_reverse_zone_uses_last_octet():
    m, zones = build(*branch_with_dmz())
    z = zones["128-255.100.51.198.in-addr.arpa"]
    assert z["classless"] and z["parent"] == "100.51.198.in-addr.arpa"
    _t, p = parse(z, m)
    assert records_of(p)[("138.128-255.100.51.198.in-addr.arpa.", "PTR")] == {"mail1.lab.smbvdc.test."}


def test_every_address_has_a_ptr():
    m, zones = build(*branch_with_dmz())
    ptrs = {}
    for z in zones.values():
        if z["kind"] == "reverse":
            for owner, rtype, _t, value, _v in z["records"]:
                if rtype == "PTR":
                    ptrs.setdefault(value, []).append(owner)
    for vm in m["vms"].values():
        assert vm["fqdn"] + "." in ptrs


def test_serial_changes_only_with_content():
    m, zones = build(*branch_with_dmz())
    z = zones["lab.smbvdc.test"]
    first = dnsgen.render_zone(z, m, today=TODAY)
    again = dnsgen.render_zone(z, m, previous_text=first, today=datetime.date(2026, 12, 1))
    assert again == first
    b, inv = branch_with_dmz()
    inv["hostvars"]["web1"]["vm_address"] = "10.77.10.99"
    m2, zones2 = build(b, inv)
    changed = dnsgen.render_zone(zones2["lab.smbvdc.test"], m2, previous_text=first, today=TODAY)
    assert dnsgen.parse_previous(first)[0] == 2026112200
    assert dnsgen.parse_previous(changed)[0] == 2026112201
    later = dnsgen.render_zone(zones["lab.smbvdc.test"], m, previous_text=changed, today=datetime.date(2026, 12, 1))
    assert dnsgen.parse_previous(later)[0] == 2026120100


@pytest.mark.parametrize("prev,h_prev,h_new,expected", [
    (None, None, "a", 2026112200),
    (2026112205, "a", "a", 2026112205),
    (2026112205, "a", "b", 2026112206),
    (2026010100, "a", "b", 2026112200),
    (2026112299, "a", "b", 2026112300),
])
def test_next_serial(prev, h_prev, h_new, expected):
    assert dnsgen.next_serial(prev, h_prev, h_new, TODAY) == expected


def test_user_records_and_verification_and_caa():
    b, inv = branch_with_dmz()
    b["dns"] = {"records": [{"name": "intranet", "type": "CNAME", "value": "web1"},
                            {"name": "_sip._tcp", "type": "SRV", "value": "10 5 5060 pbx.example.net."},
                            {"name": "x", "type": "TXT", "value": "hello \"world\""}],
                "verification": ["google-site-verification=abc123"],
                "caa": ['0 issue "letsencrypt.org"']}
    m, zones = build(b, inv)
    _t, p = parse(zones["lab.smbvdc.test"], m)
    r = records_of(p)
    assert r[("intranet.lab.smbvdc.test.", "CNAME")] == {"web1.lab.smbvdc.test."}
    assert r[("_sip._tcp.lab.smbvdc.test.", "SRV")] == {"10 5 5060 pbx.example.net."}
    assert '"google-site-verification=abc123"' in r[("lab.smbvdc.test.", "TXT")]
    assert r[("lab.smbvdc.test.", "CAA")] == {'0 issue "letsencrypt.org"'}
    assert r[("x.lab.smbvdc.test.", "TXT")] == {'"hello \\"world\\""'}


# --- bad inputs, each naming its variable ------------------------------------

def _bad_model(change):
    b, inv = branch_with_dmz()
    b, inv = copy.deepcopy(b), copy.deepcopy(inv)
    change(b, inv)
    return b, inv


BAD_MODEL = [
    ("unknown dns key", lambda b, i: b.update(dns={"tll": 60}), "smbvdc_branch.dns.tll"),
    ("ttl too small", lambda b, i: b.update(dns={"ttl": 5}), "smbvdc_branch.dns.ttl"),
    ("retry >= refresh", lambda b, i: b.update(dns={"refresh": 600, "retry": 900}), "smbvdc_branch.dns.retry"),
    ("records not list", lambda b, i: b.update(dns={"records": "www CNAME web1"}), "smbvdc_branch.dns.records"),
    ("bad selector", lambda b, i: b.update(mail={"dkim_selector": "Bad_Selector"}), "smbvdc_branch.mail.dkim_selector"),
    ("selector without mail host", lambda b, i: (b.update(mail={"dkim_selector": "s1"}), i["groups"].update(mail=[])),
     "smbvdc_branch.mail.dkim_selector"),
    ("spf policy", lambda b, i: b.update(mail={"spf_policy": "+all"}), "smbvdc_branch.mail.spf_policy"),
    ("spf extra", lambda b, i: b.update(mail={"spf_extra": ["v=spf1"]}), "smbvdc_branch.mail.spf_extra[0]"),
    ("dmarc policy", lambda b, i: b.update(mail={"dmarc_policy": "block"}), "smbvdc_branch.mail.dmarc_policy"),
    ("dmarc rua", lambda b, i: b.update(mail={"dmarc_rua": "dmarc@example.org"}), "smbvdc_branch.mail.dmarc_rua"),
    ("dmarc pct", lambda b, i: b.update(mail={"dmarc_pct": 150}), "smbvdc_branch.mail.dmarc_pct"),
    ("unknown mail key", lambda b, i: b.update(mail={"dkim": "x"}), "smbvdc_branch.mail.dkim"),
]


@pytest.mark.parametrize("case", BAD_MODEL, ids=[c[0] for c in BAD_MODEL])
def test_bad_dns_settings_name_the_variable(case):
    _n, change, variable = case
    with pytest.raises(ModelError) as err:
        model.build_model(*_bad_model(change))
    assert variable in err.value.variables, str(err.value)


BAD_ZONES = [
    ("cname beside A", {"records": [{"name": "ns1", "type": "CNAME", "value": "web1"}]}, "smbvdc_branch.dns.records[0]"),
    ("cname at apex", {"records": [{"name": "@", "type": "CNAME", "value": "web1"}]}, "smbvdc_branch.dns.records[0]"),
    ("duplicate ptr", {"records": [{"zone": "10.77.10.in-addr.arpa", "name": "10", "type": "PTR",
                                    "value": "other.lab.smbvdc.test."}]}, "smbvdc_branch.dns.records[0]"),
    ("bad A value", {"records": [{"name": "x", "type": "A", "value": "10.0.0.300"}]}, "smbvdc_branch.dns.records[0].value"),
    ("bad type", {"records": [{"name": "x", "type": "SPF", "value": "v=spf1"}]}, "smbvdc_branch.dns.records[0].type"),
    ("outside zone", {"records": [{"name": "www.example.net.", "type": "A", "value": "10.0.0.1"}]},
     "smbvdc_branch.dns.records[0].name"),
    ("record not mapping", {"records": ["www A 10.0.0.1"]}, "smbvdc_branch.dns.records[0]"),
    ("bad caa", {"caa": ["issue letsencrypt.org"]}, "smbvdc_branch.dns.caa[0].value"),
    ("empty verification", {"verification": [{"name": "@"}]}, "smbvdc_branch.dns.verification[0]"),
    ("service name is another host", {"service_names": {"web": ["ns2"]}}, "smbvdc_branch.dns.service_names.web"),
]


@pytest.mark.parametrize("case", BAD_ZONES, ids=[c[0] for c in BAD_ZONES])
def test_bad_records_name_the_variable(case):
    _n, dns_settings, variable = case
    b, inv = branch_with_dmz()
    b["dns"] = dns_settings
    with pytest.raises(ModelError) as err:
        build(b, inv)
    assert variable in err.value.variables, str(err.value)


def test_dkim_for_foreign_domain_and_bad_key():
    with pytest.raises(ModelError) as err:
        build(*branch_with_dmz(), dkim={"other.net": {"selector": "s", "public_key": "AAAA"}})
    assert "dkim_keys['other.net']" in err.value.variables
    with pytest.raises(ModelError) as err:
        build(*branch_with_dmz(), dkim={"example.org": {"selector": "s", "public_key": "-----BEGIN KEY-----"}})
    assert "dkim_keys['example.org'].public_key" in err.value.variables


def test_at_least_ten_distinct_bad_dns_inputs():
    assert len({c[2] for c in BAD_MODEL} | {c[2] for c in BAD_ZONES}) >= 10


def test_split_txt():
    assert dnsgen.split_txt("") == [""]
    assert [len(c) for c in dnsgen.split_txt("x" * 600)] == [255, 255, 90]
