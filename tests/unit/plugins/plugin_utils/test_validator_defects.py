"""The defects an outside validator found (BIND's named-checkzone, a catalogue of bad inventories).

One test (or parametrised group) per defect class; each fails on the code
before the fix (commit 1bab140) and passes after.
"""

import copy

import dns.rdatatype
import dns.zone
import pytest

from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import dns as dnsgen
from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import mail
from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import model
from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import preflight
from ansible_collections.smbvdc.datacenter.plugins.plugin_utils.errors import ModelError

from branch_fixtures import lab, two_hosts

DKIM = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA" + "A" * 300 + "IDAQAB"


def parent_child():
    """The branch serves branch.example.org and its parent example.org (a mail domain)."""
    b, inv = lab()
    b = copy.deepcopy(b)
    b["domain"] = "branch.example.org"
    b["mail_domains"] = ["example.org"]
    return b, inv


def zones_of(b, inv, dkim=None):
    m = model.build_model(b, inv)
    return m, dnsgen.build_zones(m, dkim or {})


def records(zones, zone):
    """{(absolute owner, type): {rdata text}} of one generated zone, parsed back with dnspython."""
    m_zone = zones[zone]
    text = dnsgen.render_zone(m_zone, {"dns": dnsgen.DEFAULTS, "services": {"dns_primary": []}, "domain": "x.test",
                                       "vms": {}, "kvm_hosts": {}})
    parsed = dns.zone.from_text(text, origin=zone + ".", relativize=False, check_origin=False)
    out = {}
    for name, node in parsed.nodes.items():
        for rds in node.rdatasets:
            out.setdefault((name.to_text(), dns.rdatatype.to_text(rds.rdtype)), set()).update(r.to_text() for r in rds)
    return out


def variables_of(call):
    with pytest.raises(ModelError) as err:
        call()
    return err.value.variables, str(err.value)


# 1. delegation and glue from a served parent -----------------------------------

def test_parent_zone_delegates_the_child_with_glue():
    m, zones = zones_of(*parent_child())
    r = records(zones, "example.org")
    assert r[("branch.example.org.", "NS")] == {"ns1.branch.example.org.", "ns2.branch.example.org."}
    assert r[("ns1.branch.example.org.", "A")] == {m["vms"]["ns1"]["ipv4"]}
    assert r[("ns2.branch.example.org.", "AAAA")] == {m["vms"]["ns2"]["ipv6"]}
    # the child's own data stays in the child
    assert ("mail1.branch.example.org.", "A") not in r


def test_parent_data_hidden_by_the_delegation_is_reported():
    b, inv = parent_child()
    b["dns"] = {"records": [{"zone": "example.org", "name": "www.branch", "type": "A", "value": "192.0.2.1"}]}
    variables, text = variables_of(lambda: zones_of(b, inv))
    assert "smbvdc_branch.dns.records[0]" in variables and "hides it" in text


# 2. DMARC reports to another domain ------------------------------------------

def test_report_authorization_record_when_the_branch_serves_the_receiver():
    b, inv = parent_child()
    b["mail"] = {"dmarc_rua": "mailto:dmarc@example.org"}
    _m, zones = zones_of(b, inv)
    r = records(zones, "example.org")
    assert r[("branch.example.org._report._dmarc.example.org.", "TXT")] == {'"v=DMARC1"'}


def test_report_receiver_outside_the_branch_is_a_warning_with_the_record():
    b, inv = lab()
    b["mail"] = {"dmarc_rua": ["mailto:reports@dmarc.example.net", "mailto:dmarc@lab.smbvdc.test!10m"]}
    m = model.build_model(b, inv)
    assert any("lab.smbvdc.test._report._dmarc.dmarc.example.net" in w for w in m["warnings"]), m["warnings"]
    _m, zones = zones_of(b, inv)
    dmarc = records(zones, "lab.smbvdc.test")[("_dmarc.lab.smbvdc.test.", "TXT")]
    assert "rua=mailto:reports@dmarc.example.net,mailto:dmarc@lab.smbvdc.test!10m" in next(iter(dmarc))


# 3. targets that do not resolve through the branch's zones --------------------

@pytest.mark.parametrize("record,why", [
    ({"name": "@", "type": "MX", "value": "20 nohost"}, "no A or AAAA"),
    ({"name": "@", "type": "MX", "value": "20 intranet"}, "is a CNAME"),
    ({"name": "_imap._tcp", "type": "SRV", "value": "0 1 143 nohost"}, "no A or AAAA"),
    ({"name": "docs", "type": "CNAME", "value": "nohost"}, "does not have"),
])
def test_targets_inside_the_branch_must_resolve(record, why):
    b, inv = lab()
    b["dns"] = {"records": [{"name": "intranet", "type": "CNAME", "value": "web1"}, record]}
    variables, text = variables_of(lambda: zones_of(b, inv))
    assert "smbvdc_branch.dns.records[1]" in variables and why in text, text


def test_mx_of_a_mail_domain_resolves_through_the_branch_zone():
    b, inv = parent_child()
    _m, zones = zones_of(b, inv)
    assert records(zones, "example.org")[("example.org.", "MX")] == {"10 mail1.branch.example.org."}


# 4. RFC 2317 classless reverse on private space --------------------------------

def test_private_classless_network_gets_its_parent_zone_with_cnames():
    b, inv = lab()
    b["networks"][0]["ipv4"] = "10.20.1.0/25"
    m, zones = zones_of(b, inv)
    assert "1.20.10.in-addr.arpa" in zones
    r = records(zones, "1.20.10.in-addr.arpa")
    assert r[("0-127.1.20.10.in-addr.arpa.", "NS")] == {"ns1.lab.smbvdc.test.", "ns2.lab.smbvdc.test."}
    last = m["vms"]["mail1"]["ipv4"].split(".")[-1]
    assert r[("%s.1.20.10.in-addr.arpa." % last, "CNAME")] == {"%s.0-127.1.20.10.in-addr.arpa." % last}


def test_public_classless_network_prints_the_records_for_the_isp():
    b, inv = lab()
    b["networks"][0]["ipv4"] = "198.51.100.128/25"
    m, zones = zones_of(b, inv)
    assert "100.51.198.in-addr.arpa" not in zones
    text = " ".join(m["warnings"])
    assert "128-255.100.51.198.in-addr.arpa. NS ns1.lab.smbvdc.test." in text
    assert "$GENERATE 128-255 $ CNAME $.128-255.100.51.198.in-addr.arpa." in text
    b["networks"][0]["reverse_parent"] = True
    _m, zones = zones_of(b, inv)
    assert "100.51.198.in-addr.arpa" in zones


# 5. zone content that was never validated ---------------------------------------

BAD_CONTENT = [
    ("space in name", {"records": [{"name": "my host", "type": "A", "value": "10.77.10.99"}]},
     "smbvdc_branch.dns.records[0].name"),
    ("label over 63", {"records": [{"name": "x" * 64, "type": "A", "value": "10.77.10.99"}]},
     "smbvdc_branch.dns.records[0].name"),
    ("name over 253", {"records": [{"name": ".".join(["y" * 60] * 4), "type": "A", "value": "10.77.10.99"}]},
     "smbvdc_branch.dns.records[0].name"),
    ("negative ttl", {"records": [{"name": "x", "type": "A", "value": "10.77.10.99", "ttl": -5}]},
     "smbvdc_branch.dns.records[0].ttl"),
    ("txt control characters", {"records": [{"name": "x", "type": "TXT", "value": "line1\nline2"}]},
     "smbvdc_branch.dns.records[0].value"),
    ("mx at an ip", {"records": [{"name": "@", "type": "MX", "value": "10 192.0.2.25"}]},
     "smbvdc_branch.dns.records[0].value"),
    ("mx at a cname", {"records": [{"name": "@", "type": "MX", "value": "20 mail"}]}, "smbvdc_branch.dns.records[0]"),
]


@pytest.mark.parametrize("case", BAD_CONTENT, ids=[c[0] for c in BAD_CONTENT])
def test_bad_zone_content_names_the_variable(case):
    _n, settings, variable = case
    b, inv = lab()
    b["dns"] = settings
    variables, text = variables_of(lambda: zones_of(b, inv))
    assert variable in variables, text


BAD_SETTINGS = [
    ("hostmaster without @", {"dns": {"hostmaster": "hostmaster.lab.smbvdc.test"}}, "smbvdc_branch.dns.hostmaster"),
    ("expire below refresh+retry", {"dns": {"refresh": 86400, "retry": 7200, "expire": 86400}},
     "smbvdc_branch.dns.expire"),
    ("spf invalid ip4", {"mail": {"spf_extra": ["ip4:999.1.1.1"]}}, "smbvdc_branch.mail.spf_extra[0]"),
    ("spf ip6 in ip4", {"mail": {"spf_extra": ["ip4:2001:db8::1"]}}, "smbvdc_branch.mail.spf_extra[0]"),
    ("spf all in extra", {"mail": {"spf_extra": ["~all"]}}, "smbvdc_branch.mail.spf_extra[0]"),
    ("spf too many lookups", {"mail": {"spf_extra": ["include:s%d.example.net" % i for i in range(11)]}},
     "smbvdc_branch.mail.spf_extra"),
    ("dmarc rua not mailto", {"mail": {"dmarc_rua": "https://example.org/dmarc"}}, "smbvdc_branch.mail.dmarc_rua"),
    ("dmarc rua mailto without domain", {"mail": {"dmarc_rua": "mailto:dmarc"}}, "smbvdc_branch.mail.dmarc_rua"),
]


@pytest.mark.parametrize("case", BAD_SETTINGS, ids=[c[0] for c in BAD_SETTINGS])
def test_bad_dns_and_mail_settings_name_the_variable(case):
    _n, settings, variable = case
    b, inv = lab()
    b.update(copy.deepcopy(settings))
    variables, text = variables_of(lambda: model.build_model(b, inv))
    assert variable in variables, text


def test_good_spf_terms_pass():
    for term in ("ip4:192.0.2.0/24", "ip6:2001:db8::/32", "include:_spf.example.net", "a", "mx:example.org/24",
                 "a//64", "exists:%{i}.spf.example.org", "redirect=_spf.example.org", "-ip4:192.0.2.1"):
        assert mail.spf_term_problem(term)[0] is None, term


# 6. non-ASCII TXT on the 255-byte boundary ------------------------------------------

def test_split_txt_never_cuts_a_character():
    text = "a" * 254 + "ü" + "b" * 10          # 'ü' is 2 bytes, at bytes 254-255
    chunks = dnsgen.split_txt(text)
    assert "".join(chunks) == text
    assert all(len(c.encode("utf-8")) <= 255 for c in chunks)
    assert chunks[0] == "a" * 254
    euro = "€" * 200                             # 3-byte characters throughout
    assert "".join(dnsgen.split_txt(euro)) == euro


def test_non_ascii_txt_record_renders_and_parses():
    b, inv = lab()
    b["dns"] = {"records": [{"name": "motto", "type": "TXT", "value": "x" * 254 + "ößen"}]}   # ö on bytes 254-255
    m, zones = zones_of(b, inv)
    text = dnsgen.render_zone(zones["lab.smbvdc.test"], m)
    dns.zone.from_text(text, origin="lab.smbvdc.test.", relativize=False)


# 7. wrong types end in a message, not a traceback ------------------------------------

@pytest.mark.parametrize("var,value", [("vm_network", ["lan"]), ("vm_host", ["kvm1"]), ("vm_address", ["10.77.10.5"]),
                                       ("vm_address6", {"a": 1})])
def test_list_where_a_string_is_expected(var, value):
    b, inv = lab()
    inv["hostvars"]["web1"][var] = value
    variables, text = variables_of(lambda: model.build_model(b, inv))
    assert "hostvars['web1'].%s" % var in variables and "single value" in text


def test_kvm_site_as_list():
    b, inv = lab()
    inv["hostvars"]["kvm1"]["kvm_site"] = ["hq"]
    variables, _t = variables_of(lambda: model.build_model(b, inv))
    assert "hostvars['kvm1'].kvm_site" in variables


# 8. IPv6 address on a network without IPv6 ----------------------------------------

def test_ipv6_address_on_a_network_without_ipv6():
    b, inv = lab()
    del b["networks"][0]["ipv6"]
    inv["hostvars"]["ns1"]["vm_address6"] = "fd00:77:10::53"
    variables, text = variables_of(lambda: model.build_model(b, inv))
    assert "hostvars['ns1'].vm_address6" in variables and "no IPv6 subnet" in text


# 9. outside machines in service groups ---------------------------------------------

def test_outside_machine_in_a_service_group_under_vms():
    b, inv = lab()
    # as Ansible flattens `vms: children: dns_secondary:` the host is in both groups
    inv["groups"]["dns_secondary"] = ["ns2", "ns-hq"]
    inv["groups"]["vms"] = ["mail1", "ns1", "ns2", "ns-hq", "web1"]
    inv["hostvars"]["ns-hq"] = {"ansible_host": "192.0.2.53"}
    m = model.build_model(b, inv)
    assert m["external_hosts"]["ns-hq"]["groups"] == ["dns_secondary"]
    assert "ns-hq" not in m["vms"]
    zones = dnsgen.build_zones(m, {})
    assert ("ns-hq", "A", None, "192.0.2.53", "hostvars['ns-hq']") in zones["lab.smbvdc.test"]["records"]


def test_host_in_vms_only_without_memory_is_told_to_set_it():
    b, inv = lab()
    inv["groups"]["vms"] = ["spare"]
    inv["hostvars"]["spare"] = {"ansible_host": "192.0.2.9"}
    variables, text = variables_of(lambda: model.build_model(b, inv))
    assert "hostvars['spare'].vm_memory_mb" in variables and "no service group" in text


# 10. unknown groups, VMs without a service, clashing services -------------------------

def test_misspelt_service_group_is_an_error_with_a_suggestion():
    b, inv = lab()
    inv["groups"]["webserver"] = ["web2"]
    inv["groups"]["vms"] = ["mail1", "ns1", "ns2", "web1", "web2"]
    inv["hostvars"]["web2"] = {"vm_memory_mb": 512}
    variables, text = variables_of(lambda: model.build_model(b, inv))
    assert "groups['webserver']" in variables and "did you mean 'web'" in text


def test_vm_with_model_variables_in_no_known_group_is_a_warning():
    b, inv = lab()
    inv["groups"]["office"] = ["desk1"]
    inv["hostvars"]["desk1"] = {"vm_memory_mb": 512}
    m = model.build_model(b, inv)
    assert any("desk1" in w and "no VM is built" in w for w in m["warnings"]), m["warnings"]


def test_vm_without_a_service_says_so():
    b, inv = lab()
    inv["groups"]["vms"] = ["spare1"]
    inv["hostvars"]["spare1"] = {"vm_memory_mb": 512}
    m = model.build_model(b, inv)
    assert any("spare1" in w and "no service" in w for w in m["warnings"]), m["warnings"]


def test_clashing_service_groups_warn_naming_both():
    b, inv = lab()
    inv["groups"]["mail"] = ["mail1", "web1"]
    m = model.build_model(b, inv)
    assert any("web1" in w and "groups['mail']" in w and "groups['web']" in w for w in m["warnings"]), m["warnings"]


# 11. duplicates ------------------------------------------------------------------------

def test_mail_domain_listed_twice():
    b, inv = lab()
    b["mail_domains"] = ["example.org", "Example.org"]
    variables, _t = variables_of(lambda: model.build_model(b, inv))
    assert "smbvdc_branch.mail_domains[1]" in variables


def test_duplicate_yaml_key_and_syntax_error_name_file_and_line(tmp_path):
    (tmp_path / "group_vars" / "all").mkdir(parents=True)
    (tmp_path / "hosts.yml").write_text("all:\n  hosts:\n    ns1:\n      vm_memory_mb: 384\n      vm_memory_mb: 512\n")
    (tmp_path / "group_vars" / "all" / "branch.yml").write_text("smbvdc_branch:\n  name: [lab\n")
    (tmp_path / "group_vars" / "all" / "secret.yml").write_text("pw: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  6162\n")
    problems = preflight.lint_inventory([str(tmp_path)])
    assert any(p.startswith(str(tmp_path / "hosts.yml") + ":5:") and "'vm_memory_mb' is given twice" in p
               for p in problems), problems
    assert any(p.startswith(str(tmp_path / "group_vars" / "all" / "branch.yml") + ":") and "syntax" in p
               for p in problems), problems
    assert len(problems) == 2


# 12. messages that pointed the wrong way ------------------------------------------------

def test_too_many_vcpus_names_vm_vcpus():
    b, inv = lab()
    inv["hostvars"]["web1"]["vm_vcpus"] = 8          # kvm1 has 4 threads
    variables, text = variables_of(lambda: model.build_model(b, inv))
    assert "hostvars['web1'].vm_vcpus" in variables and "add RAM" not in text, text


def test_too_large_disk_names_vm_disk_gb():
    b, inv = two_hosts()
    inv["hostvars"]["web1"]["vm_disk_gb"] = 5000
    variables, _t = variables_of(lambda: model.build_model(b, inv))
    assert "hostvars['web1'].vm_disk_gb" in variables


# 13. the preflight sees every layer's errors ---------------------------------------------

@pytest.mark.parametrize("hostvars,variable", [
    ({"ns1": {"nsd_tsig_secret": "not base64!"}}, "hostvars['ns1'].nsd_tsig_secret"),
    ({"ns1": {"nsd_tsig_secret": "c2hvcnQ="}}, "hostvars['ns1'].nsd_tsig_secret"),
    ({"mail1": {"mail_mailboxes": "notalist", "mail_postmaster": "a@lab.smbvdc.test"}},
     "hostvars['mail1'].mail_mailboxes"),
    ({"mail1": {"mail_mailboxes": [{"address": "a@other.test"}], "mail_postmaster": "x@lab.smbvdc.test"}},
     "hostvars['mail1'].mail_mailboxes[0].address"),
])
def test_layer_inputs_fail_in_preflight(hostvars, variable):
    b, inv = lab()
    m = model.build_model(b, inv)
    hv = copy.deepcopy(inv["hostvars"])
    for h, extra in hostvars.items():
        hv[h].update(extra)
    variables, text = variables_of(lambda: preflight.check_layers(m, hv))
    assert variable in variables, text
    assert "not base64!" not in text        # a secret is never repeated


def test_zone_errors_fail_in_preflight():
    b, inv = lab()
    b["dns"] = {"service_names": {"web": ["ns2"]}}
    m = model.build_model(b, inv)
    variables, _t = variables_of(lambda: preflight.check_layers(m, inv["hostvars"]))
    assert "smbvdc_branch.dns.service_names.web" in variables


def test_good_layers_pass_preflight():
    b, inv = lab()
    m = model.build_model(b, inv)
    hv = copy.deepcopy(inv["hostvars"])
    hv["mail1"].update(mail_postmaster="admin@lab.smbvdc.test", mail_mailboxes=[{"address": "admin@lab.smbvdc.test"}])
    hv["ns1"]["nsd_tsig_secret"] = "K2tf3TRjvQkVCmJF3/Z9vA=="
    out = preflight.check_layers(m, hv)
    assert "lab.smbvdc.test" in out["zones"]


def test_a_branch_without_dns_servers_passes_the_layer_preflight():
    b, inv = lab()
    inv["groups"]["dns_primary"] = []
    inv["groups"]["dns_secondary"] = []
    inv["groups"]["mail"] = []
    m = model.build_model(b, inv)
    out = preflight.check_layers(m, inv["hostvars"])
    assert out["zones"] == [] and "dns zones" not in out["checked"]
