"""Several branches validated together (plugins/plugin_utils/branches.py, docs/multi-branch.md)."""

import copy
import pathlib

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.smbvdc.datacenter.plugins.filter import branch_set as branch_set_filter
from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import branches, dns, model
from ansible_collections.smbvdc.datacenter.plugins.plugin_utils.errors import ModelError

ROOT = pathlib.Path(__file__).resolve().parents[4]
INV = ROOT / "tests" / "inventories"


@pytest.fixture(scope="module")
def loaded():
    """(branch, inventory) of the two test branches, read with Ansible's inventory machinery."""
    return {name: branches.load_branch(str(INV / name)) for name in ("branch-a", "branch-b", "branch-b-overlap")}


def build(loaded, name, change=None):
    branch, inv = copy.deepcopy(loaded[name])
    if change:
        change(branch, inv)
    return model.build_model(branch, inv)


def entries(*models):
    return [{"model": m, "source": "inventories/%s" % m["name"]} for m in models]


def variables(exc):
    return [p.variable for p in exc.value.problems]


# --- loading and the single-branch model -------------------------------------------------

def test_load_branch_reads_group_vars_and_hosts(loaded):
    branch, inv = loaded["branch-a"]
    assert branch["name"] == "branch-a"
    assert branch["dns"]["remote_secondaries"] == [{"branch": "branch-b", "host": "ns2"}]
    assert inv["groups"]["dns_primary"] == ["ns1"]
    assert inv["hostvars"]["ns1"]["vm_address"] == "10.31.0.10"


def test_load_branch_of_a_missing_directory_names_it(tmp_path):
    with pytest.raises(ModelError) as exc:
        branches.load_branch(str(tmp_path / "nope"))
    assert "is not a directory" in str(exc.value)


def test_remote_secondary_without_address_waits_with_a_warning(loaded):
    m = build(loaded, "branch-a")
    assert m["external_hosts"]["ns2.branch-b"]["remote_branch"] == "branch-b"
    assert m["external_hosts"]["ns2.branch-b"]["ansible_host"] is None
    assert m["services"]["dns_secondary"] == []
    assert any("remote_secondaries" in w and "ns2 of branch branch-b has no address" in w for w in m["warnings"])


def test_remote_secondary_with_address_is_an_outside_secondary(loaded):
    m = build(loaded, "branch-a",
              lambda b, i: b["dns"]["remote_secondaries"][0].update(address="10.32.0.11"))
    assert m["services"]["dns_secondary"] == ["ns2.branch-b"]
    servers = dns.server_addresses(m)
    assert servers["secondaries"] == [{"name": "ns2.branch-b", "fqdn": "ns2.branch-b.a.smbvdc.test",
                                       "ipv4": ["10.32.0.11"], "ipv6": []}]
    zone = dns.build_zones(m)["a.smbvdc.test"]["records"]
    assert ("@", "NS", None, "ns2.branch-b.a.smbvdc.test.", "groups['dns_primary']") in zone
    assert any(r[0] == "ns2.branch-b" and r[1] == "A" and r[3] == "10.32.0.11" for r in zone)


@pytest.mark.parametrize("entry, variable", [
    ({"branch": "branch-b"}, "smbvdc_branch.dns.remote_secondaries[0].host"),
    ({"branch": "Branch B", "host": "ns2"}, "smbvdc_branch.dns.remote_secondaries[0].branch"),
    ({"branch": "branch-a", "host": "ns2"}, "smbvdc_branch.dns.remote_secondaries[0].branch"),
    ({"branch": "branch-b", "host": "ns2", "address": "10.32.0.999"}, "smbvdc_branch.dns.remote_secondaries[0].address"),
    ({"branch": "branch-b", "host": "ns2", "port": 53}, "smbvdc_branch.dns.remote_secondaries[0]"),
    ("branch-b/ns2", "smbvdc_branch.dns.remote_secondaries[0]"),
])
def test_bad_remote_secondary_is_named(loaded, entry, variable):
    with pytest.raises(ModelError) as exc:
        build(loaded, "branch-a", lambda b, i: b["dns"].update(remote_secondaries=[entry]))
    assert variable in variables(exc)


def test_remote_secondary_listed_twice(loaded):
    with pytest.raises(ModelError) as exc:
        build(loaded, "branch-a", lambda b, i: b["dns"].update(
            remote_secondaries=[{"branch": "branch-b", "host": "ns2"}, {"branch": "branch-b", "host": "ns2"}]))
    assert "smbvdc_branch.dns.remote_secondaries[1]" in variables(exc)


# --- validated together ---------------------------------------------------------------

def test_two_good_branches_fit(loaded):
    out = branches.validate(entries(build(loaded, "branch-a"), build(loaded, "branch-b")))
    assert out["branches"] == ["branch-a", "branch-b"]
    [link] = out["remote_secondaries"]
    assert link["secondary_branch"] == "branch-b" and link["host"] == "ns2"
    assert link["address"] == "10.32.0.11" and not link["address_given"]
    assert link["primaries"] == ["10.31.0.10", "fd00:31::a"]
    assert "a.smbvdc.test" in link["zones"] and "0.31.10.in-addr.arpa" in link["zones"]
    assert link["tsig_key_name"] == "smbvdc-xfr.branch-a.branch-b"
    assert out["tsig_keys"] == [{"name": "smbvdc-xfr.branch-a.branch-b", "branches": ["branch-a", "branch-b"]}]
    assert any("VRRP" in n for n in out["notes"])


def test_overlapping_subnets_are_named_with_both_branches(loaded):
    with pytest.raises(ModelError) as exc:
        branches.validate(entries(build(loaded, "branch-a"), build(loaded, "branch-b-overlap")))
    assert "inventories/branch-b: smbvdc_branch.networks['lan'].ipv4" in variables(exc)
    assert "10.31.0.0/16 overlaps 10.31.0.0/24" in str(exc.value)
    assert exc.value.title == branches.TITLE


def test_cross_branch_secondary_whose_branch_is_not_given(loaded):
    with pytest.raises(ModelError) as exc:
        branches.validate(entries(build(loaded, "branch-a")))
    assert variables(exc) == ["inventories/branch-a: smbvdc_branch.dns.remote_secondaries[0].branch"]
    assert "branch-b, which is not among the branches given (branch-a)" in str(exc.value)


def test_secondary_host_missing_or_not_a_dns_server(loaded):
    a_missing = build(loaded, "branch-a", lambda b, i: b["dns"]["remote_secondaries"][0].update(host="ns9"))
    with pytest.raises(ModelError) as exc:
        branches.validate(entries(a_missing, build(loaded, "branch-b")))
    assert "branch branch-b (inventories/branch-b) has no host ns9" in str(exc.value)

    def web_not_dns(b, i):
        i["groups"]["web"] = ["web9"]
        i["hostvars"]["web9"] = {"vm_memory_mb": 512}
    a_web = build(loaded, "branch-a", lambda b, i: b["dns"]["remote_secondaries"][0].update(host="web9"))
    with pytest.raises(ModelError) as exc:
        branches.validate(entries(a_web, build(loaded, "branch-b", web_not_dns)))
    assert "web9 is not a DNS server in branch branch-b" in str(exc.value)


def test_typed_address_must_match_the_other_branch(loaded):
    a = build(loaded, "branch-a", lambda b, i: b["dns"]["remote_secondaries"][0].update(address="10.32.0.99"))
    with pytest.raises(ModelError) as exc:
        branches.validate(entries(a, build(loaded, "branch-b")))
    assert variables(exc) == ["inventories/branch-a: smbvdc_branch.dns.remote_secondaries[0].address"]
    assert "set address: 10.32.0.11" in str(exc.value)


def test_same_zone_and_same_name_in_two_branches_all_reported(loaded):
    def same(b, i):
        b["domain"] = "a.smbvdc.test"
        b["name"] = "branch-a"
    with pytest.raises(ModelError) as exc:
        branches.validate(entries(build(loaded, "branch-a"), build(loaded, "branch-b", same)))
    assert "inventories/branch-a: smbvdc_branch.name" in variables(exc)


def test_zone_served_twice_and_subzone_warning(loaded):
    b_same = build(loaded, "branch-b", lambda b, i: b.update(mail_domains=["a.smbvdc.test"]))
    with pytest.raises(ModelError) as exc:
        branches.validate(entries(build(loaded, "branch-a"), b_same))
    assert "inventories/branch-b: smbvdc_branch.domain" not in variables(exc)
    assert "inventories/branch-b: smbvdc_branch.mail_domains" in variables(exc)
    assert "zone a.smbvdc.test is also served by branch branch-a" in str(exc.value)

    b_sub = build(loaded, "branch-b", lambda b, i: b.update(domain="b.a.smbvdc.test"))
    out = branches.validate(entries(build(loaded, "branch-a"), b_sub))
    assert any("zone b.a.smbvdc.test of branch branch-b lies inside zone a.smbvdc.test" in w for w in out["warnings"])


def test_pair_key_name_is_symmetric_and_unambiguous():
    assert branches.pair_key_name("b", "a") == branches.pair_key_name("a", "b") == "smbvdc-xfr.a.b"
    assert branches.pair_key_name("a-b", "c") != branches.pair_key_name("a", "b-c")
    assert dns_name_ok(branches.pair_key_name("hq-vienna", "branch-graz"))


def dns_name_ok(name):
    from ansible_collections.smbvdc.datacenter.plugins.plugin_utils.preflight import TSIG_NAME
    return bool(TSIG_NAME.match(name))


def test_validate_inventories_reports_every_branch_problem(tmp_path, loaded):
    with pytest.raises(ModelError) as exc:
        branches.validate_inventories([str(INV / "branch-a"), str(tmp_path)])
    assert any(v.startswith(str(tmp_path)) for v in variables(exc))


# --- the filter ----------------------------------------------------------------------

def test_filter_validates_models_and_inventories(loaded):
    f = branch_set_filter.FilterModule().filters()["branch_set"]
    out = f(entries(build(loaded, "branch-a"), build(loaded, "branch-b")))
    assert out["remote_secondaries"][0]["address"] == "10.32.0.11"
    out = f("%s,%s" % (INV / "branch-a", INV / "branch-b"))
    assert set(out["models"]) == {"branch-a", "branch-b"}
    assert out["inventory_dirs"]["branch-b"] == str(INV / "branch-b")


def test_filter_errors_are_ansible_filter_errors(loaded):
    f = branch_set_filter.FilterModule().filters()["branch_set"]
    with pytest.raises(AnsibleFilterError, match="10.31.0.0/16 overlaps"):
        f([str(INV / "branch-a"), str(INV / "branch-b-overlap")])
    with pytest.raises(AnsibleFilterError, match="smbvdc.datacenter.branch_set: input must be a list"):
        f(42)
