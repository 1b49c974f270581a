import copy

import pytest

from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import model
from ansible_collections.smbvdc.datacenter.plugins.plugin_utils.errors import ModelError, PlacementError

from branch_fixtures import lab, two_hosts


def build(branch, inv):
    return model.build_model(branch, inv)


def test_lab_model_is_normalised():
    m = build(*lab())
    assert m["domain"] == "lab.smbvdc.test"
    assert m["mail_domains"] == ["lab.smbvdc.test"]
    assert set(m["vms"]) == {"ns1", "ns2", "mail1", "web1"}
    assert {v["kvm_host"] for v in m["vms"].values()} == {"kvm1"}
    assert m["vms"]["mail1"]["fqdn"] == "mail1.lab.smbvdc.test"
    assert m["vms"]["mail1"]["groups"] == ["mail"]
    assert m["vms"]["ns1"]["anti_affinity"] == ["dns"]
    assert m["networks"]["lan"]["gateway4"] == "10.77.10.1"
    assert m["networks"]["lan"]["gateway6"] == "fd00:77:10::1"
    assert m["services"]["dns_primary"] == ["ns1"]
    # the single-host lab cannot separate ns1 and ns2: it says so
    assert any("only one KVM host" in w and "'dns'" in w for w in m["warnings"])


def test_addresses_are_assigned_in_name_order_from_pool_start():
    m = build(*lab())
    assert [m["vms"][h]["ipv4"] for h in ("mail1", "ns1", "ns2", "web1")] == [
        "10.77.10.10", "10.77.10.11", "10.77.10.12", "10.77.10.13"]
    assert m["vms"]["ns1"]["ipv6"] == "fd00:77:10::b"
    assert m["vms"]["ns1"]["ptr4"] == "11.10.77.10.in-addr.arpa"


def test_explicit_address_is_kept_and_skipped_by_the_pool():
    branch, inv = lab()
    inv["hostvars"]["web1"]["vm_address"] = "10.77.10.10"
    m = build(branch, inv)
    assert m["vms"]["web1"]["ipv4"] == "10.77.10.10"
    assert m["vms"]["mail1"]["ipv4"] == "10.77.10.11"
    assert len({v["ipv4"] for v in m["vms"].values()}) == 4


def test_budget_reported_per_host():
    m = build(*lab())
    b = m["budgets"]["kvm1"]
    # default reserve: 1024 + 5 % of 16384
    assert b["reserved_mb"] == 1024 + 820
    assert b["available_mb"] == 16384 - 1844
    assert b["allocated_mb"] == 512 + 512 + 2048 + 1024 + 4 * 200
    assert b["free_mb"] == b["capacity_mb"] - b["allocated_mb"]
    assert b["ok"]


def test_two_hosts_split_dns_pair():
    m = build(*two_hosts())
    assert m["vms"]["ns1"]["kvm_host"] != m["vms"]["ns2"]["kvm_host"]
    assert not any("only one KVM host" in w for w in m["warnings"])


def test_external_dns_primary_in_other_branch_is_accepted():
    branch, inv = lab()
    inv["hostvars"]["ns1"] = {"ansible_host": "192.0.2.53"}
    m = build(branch, inv)
    assert "ns1" in m["external_hosts"]
    assert "ns1" not in m["vms"]
    assert m["services"]["dns_primary"] == ["ns1"]


def test_vms_group_without_service():
    branch, inv = lab()
    inv["groups"]["vms"] = ["spare"]
    inv["hostvars"]["spare"] = {"vm_memory_mb": 256}
    m = build(branch, inv)
    assert m["vms"]["spare"]["groups"] == []


def test_model_accepts_hostvars_like_objects():
    class LazyVars(dict):
        pass

    branch, inv = lab()
    inv["hostvars"] = {h: LazyVars(v) for h, v in inv["hostvars"].items()}
    assert build(branch, inv)["vms"]["ns1"]["memory_mb"] == 512


# --- bad inputs: each must name the offending variable ---------------------

def _mutate(fn, base=lab):
    branch, inv = base()
    branch, inv = copy.deepcopy(branch), copy.deepcopy(inv)
    fn(branch, inv)
    return branch, inv


BAD = [
    ("branch not a mapping", lambda b, i: i.update(_b=None), "smbvdc_branch", True),
    ("branch name", lambda b, i: b.update(name="Lab Office"), "smbvdc_branch.name", False),
    ("branch domain", lambda b, i: b.update(domain="localhost"), "smbvdc_branch.domain", False),
    ("domain trailing dot", lambda b, i: b.update(domain="lab.example.org."), "smbvdc_branch.domain", False),
    ("unknown branch key", lambda b, i: b.update(domian="x.org"), "smbvdc_branch.domian", False),
    ("mail domain", lambda b, i: b.update(mail_domains=["not a domain"]), "smbvdc_branch.mail_domains[0]", False),
    ("no networks", lambda b, i: b.update(networks=[]), "smbvdc_branch.networks", False),
    ("bad ipv4", lambda b, i: b["networks"][0].update(ipv4="10.77.300.0/24"), "smbvdc_branch.networks['lan'].ipv4", False),
    ("host bits", lambda b, i: b["networks"][0].update(ipv4="10.77.10.5/24"), "smbvdc_branch.networks['lan'].ipv4", False),
    ("v6 in v4", lambda b, i: b["networks"][0].update(ipv4="fd00::/64"), "smbvdc_branch.networks['lan'].ipv4", False),
    ("gateway outside", lambda b, i: b["networks"][0].update(gateway4="10.77.11.1"),
     "smbvdc_branch.networks['lan'].gateway4", False),
    ("overlap", lambda b, i: b["networks"].append({"name": "dmz", "ipv4": "10.77.10.128/25"}),
     "smbvdc_branch.networks['dmz'].ipv4", False),
    ("duplicate network", lambda b, i: b["networks"].append({"name": "lan", "ipv4": "10.1.0.0/24"}),
     "smbvdc_branch.networks['lan'].name", False),
    ("unknown site", lambda b, i: b["networks"][0].update(site="branch2"), "smbvdc_branch.networks['lan'].site", False),
    ("bad mode", lambda b, i: b["networks"][0].update(mode="routed"), "smbvdc_branch.networks['lan'].mode", False),
    ("long bridge", lambda b, i: b["networks"][0].update(bridge="br-much-too-long-name"),
     "smbvdc_branch.networks['lan'].bridge", False),
    ("budget typo", lambda b, i: b.update(budget={"vm_overhead": 100}), "smbvdc_branch.budget.vm_overhead", False),
    ("budget ratio", lambda b, i: b.update(budget={"ram_allocation_ratio": 0}),
     "smbvdc_branch.budget.ram_allocation_ratio", False),
    ("no kvm host", lambda b, i: i["groups"].update(kvm_hosts=[]), "groups['kvm_hosts']", False),
    ("kvm memory missing", lambda b, i: i["hostvars"]["kvm1"].pop("kvm_memory_mb"), "hostvars['kvm1'].kvm_memory_mb", False),
    ("kvm memory text", lambda b, i: i["hostvars"]["kvm1"].update(kvm_memory_mb="lots"),
     "hostvars['kvm1'].kvm_memory_mb", False),
    ("kvm vcpus zero", lambda b, i: i["hostvars"]["kvm1"].update(kvm_vcpus=0), "hostvars['kvm1'].kvm_vcpus", False),
    ("reserve too big", lambda b, i: i["hostvars"]["kvm1"].update(kvm_os_reserve_mb=20000),
     "hostvars['kvm1'].kvm_os_reserve_mb", False),
    ("kvm site", lambda b, i: i["hostvars"]["kvm1"].update(kvm_site="nowhere"), "hostvars['kvm1'].kvm_site", False),
    ("vm memory negative", lambda b, i: i["hostvars"]["web1"].update(vm_memory_mb=-5), "hostvars['web1'].vm_memory_mb", False),
    ("vm memory bool", lambda b, i: i["hostvars"]["web1"].update(vm_memory_mb=True), "hostvars['web1'].vm_memory_mb", False),
    ("vm vcpus text", lambda b, i: i["hostvars"]["web1"].update(vm_vcpus="two"), "hostvars['web1'].vm_vcpus", False),
    ("vm disk tiny", lambda b, i: i["hostvars"]["web1"].update(vm_disk_gb=1), "hostvars['web1'].vm_disk_gb", False),
    ("vm network", lambda b, i: i["hostvars"]["web1"].update(vm_network="dmz"), "hostvars['web1'].vm_network", False),
    ("vm address outside", lambda b, i: i["hostvars"]["web1"].update(vm_address="10.77.11.5"),
     "hostvars['web1'].vm_address", False),
    ("vm address is gateway", lambda b, i: i["hostvars"]["web1"].update(vm_address="10.77.10.1"),
     "hostvars['web1'].vm_address", False),
    ("vm address broadcast", lambda b, i: i["hostvars"]["web1"].update(vm_address="10.77.10.255"),
     "hostvars['web1'].vm_address", False),
    ("vm address garbage", lambda b, i: i["hostvars"]["web1"].update(vm_address="ten"), "hostvars['web1'].vm_address", False),
    ("duplicate address", lambda b, i: (i["hostvars"]["web1"].update(vm_address="10.77.10.50"),
                                        i["hostvars"]["mail1"].update(vm_address="10.77.10.50")),
     "hostvars['web1'].vm_address", False),
    ("vm6 outside", lambda b, i: i["hostvars"]["web1"].update(vm_address6="fd00:99::5"), "hostvars['web1'].vm_address6", False),
    ("service host with nothing", lambda b, i: i["hostvars"].update(web1={}), "hostvars['web1'].vm_memory_mb", False),
    ("vms member without memory", lambda b, i: (i["groups"].update(vms=["x1"]), i["hostvars"].update(x1={})),
     "hostvars['x1'].vm_memory_mb", False),
    ("host is kvm and vm", lambda b, i: i["groups"]["web"].append("kvm1"), "inventory host 'kvm1'", False),
    ("bad host label", lambda b, i: (i["groups"]["web"].append("web_2"), i["hostvars"].update(web_2={"vm_memory_mb": 256})),
     "inventory host 'web_2'", False),
    ("host named like a group", lambda b, i: (i["groups"].update(vms=["web"])), "inventory host 'web'", False),
    ("two primaries", lambda b, i: i["groups"]["dns_primary"].append("ns2"), "groups['dns_primary']", False),
    ("secondary without primary", lambda b, i: i["groups"].update(dns_primary=[]), "groups['dns_secondary']", False),
    ("pin unknown host", lambda b, i: i["hostvars"]["web1"].update(vm_host="kvm9"), "hostvars['web1'].vm_host", False),
    ("pool exhausted", lambda b, i: b["networks"][0].update(ipv4="10.77.10.0/28", pool_start=13),
     "hostvars['ns2'].vm_address", False),
    ("anti affinity not list", lambda b, i: i["hostvars"]["web1"].update(vm_anti_affinity={"a": 1}),
     "hostvars['web1'].vm_anti_affinity", False),
    ("data disks not a list", lambda b, i: i["hostvars"]["web1"].update(vm_data_disks={"name": "x", "size_gb": 1}),
     "hostvars['web1'].vm_data_disks", False),
    ("data disk not a mapping", lambda b, i: i["hostvars"]["web1"].update(vm_data_disks=["vtapes"]),
     "hostvars['web1'].vm_data_disks[0]", False),
    ("data disk name upper case", lambda b, i: i["hostvars"]["web1"].update(vm_data_disks=[{"name": "Vtapes",
                                                                                          "size_gb": 8}]),
     "hostvars['web1'].vm_data_disks[0].name", False),
    ("data disk name too long for the serial", lambda b, i: i["hostvars"]["web1"].update(
        vm_data_disks=[{"name": "a" * 14, "size_gb": 8}]), "hostvars['web1'].vm_data_disks[0].name", False),
    ("data disk without name", lambda b, i: i["hostvars"]["web1"].update(vm_data_disks=[{"size_gb": 8}]),
     "hostvars['web1'].vm_data_disks[0].name", False),
    ("data disk size 0", lambda b, i: i["hostvars"]["web1"].update(vm_data_disks=[{"name": "data", "size_gb": 0}]),
     "hostvars['web1'].vm_data_disks[0].size_gb", False),
    ("data disk key typo", lambda b, i: i["hostvars"]["web1"].update(vm_data_disks=[{"name": "data", "size": 8}]),
     "hostvars['web1'].vm_data_disks[0].size", False),
    ("duplicate data disk", lambda b, i: i["hostvars"]["web1"].update(vm_data_disks=[
        {"name": "data", "size_gb": 1}, {"name": "data", "size_gb": 2}]), "hostvars['web1'].vm_data_disks[1].name",
     False),
    ("data disk file is another vm's disk", lambda b, i: (
        i["groups"]["web"].append("web1-data"), i["hostvars"].update({"web1-data": {"vm_memory_mb": 256}}),
        i["hostvars"]["web1"].update(vm_data_disks=[{"name": "data", "size_gb": 1}])),
     "hostvars['web1'].vm_data_disks", False),
]


@pytest.mark.parametrize("case", BAD, ids=[c[0] for c in BAD])
def test_bad_input_names_the_variable(case):
    _name, fn, variable, whole_branch = case
    branch, inv = _mutate(fn)
    if whole_branch:
        branch = ["not", "a", "mapping"]
    with pytest.raises(ModelError) as err:
        build(branch, inv)
    assert variable in err.value.variables, str(err.value)
    assert variable in str(err.value)
    assert "Fix:" in str(err.value)


def test_at_least_twenty_distinct_bad_inputs():
    assert len({c[2] for c in BAD}) >= 20


def test_all_problems_are_reported_together():
    branch, inv = lab()
    branch["domain"] = "nodots"
    inv["hostvars"]["web1"]["vm_memory_mb"] = "x"
    inv["hostvars"]["kvm1"]["kvm_vcpus"] = -1
    with pytest.raises(ModelError) as err:
        build(branch, inv)
    assert {"smbvdc_branch.domain", "hostvars['web1'].vm_memory_mb", "hostvars['kvm1'].kvm_vcpus"} <= set(err.value.variables)


def test_secondary_pinned_with_primary_on_two_hosts():
    branch, inv = two_hosts()
    inv["hostvars"]["ns1"]["vm_host"] = "kvm2"
    inv["hostvars"]["ns2"]["vm_host"] = "kvm2"
    with pytest.raises(ModelError) as err:
        build(branch, inv)
    assert "hostvars['ns2'].vm_host" in err.value.variables


def test_over_budget_names_host_and_missing_mib():
    branch, inv = lab()
    inv["hostvars"]["mail1"]["vm_memory_mb"] = 16000
    with pytest.raises(PlacementError) as err:
        build(branch, inv)
    text = str(err.value)
    assert "hostvars['mail1'].vm_memory_mb" in err.value.variables
    assert "kvm1" in text
    # capacity 14540 MiB; the other three VMs + overheads use 2048+600=2648, mail needs 16200
    assert "%d MiB missing" % (2648 + 16200 - 14540 + 1) in text


def test_nat_network_spanning_two_hosts_is_rejected():
    branch, inv = two_hosts()
    branch["networks"][0]["mode"] = "nat"
    with pytest.raises(ModelError) as err:
        build(branch, inv)
    assert "smbvdc_branch.networks['lan'].mode" in err.value.variables


def test_pinned_vm_over_capacity():
    branch, inv = two_hosts()
    inv["hostvars"]["mail1"].update(vm_host="kvm2", vm_memory_mb=7000)
    with pytest.raises(PlacementError) as err:
        build(branch, inv)
    assert "hostvars['mail1'].vm_host" in err.value.variables
    assert "kvm2" in str(err.value)


# --- data disks -------------------------------------------------------------

def test_data_disks_are_normalised_and_count_in_the_disk_budget():
    branch, inv = lab()
    inv["hostvars"]["web1"].update(vm_disk_gb=4, vm_data_disks=[{"name": "vtapes", "size_gb": "8"},
                                                                {"name": "drbd0", "size_gb": 2}])
    m = build(branch, inv)
    assert m["vms"]["web1"]["data_disks"] == [{"name": "vtapes", "size_gb": 8}, {"name": "drbd0", "size_gb": 2}]
    assert m["vms"]["ns1"]["data_disks"] == []
    # lab(): 3 VMs of 10 GiB, web1 4 + 8 + 2
    assert m["budgets"]["kvm1"]["disk_allocated_gb"] == 3 * 10 + 14
    assert m["placement"]["hosts"]["kvm1"]["disk_used_gb"] == 3 * 10 + 14


def test_data_disks_that_do_not_fit_the_pool_stop_the_run():
    branch, inv = lab()
    inv["hostvars"]["kvm1"]["kvm_disk_gb"] = 45
    inv["hostvars"]["web1"].update(vm_disk_gb=4, vm_data_disks=[{"name": "vtapes", "size_gb": 12}])
    with pytest.raises(PlacementError) as err:
        build(branch, inv)
    assert "1 GiB disk missing" in str(err.value)      # 30 + 16 > 45
    # the last VM placed finds RAM but no pool space: the disk is named, not its RAM
    assert err.value.variables == ["hostvars['ns2'].vm_disk_gb"] and "vm_data_disks" in str(err.value)
    inv["hostvars"]["web1"]["vm_data_disks"][0]["size_gb"] = 11
    assert build(branch, inv)["budgets"]["kvm1"]["disk_allocated_gb"] == 45
