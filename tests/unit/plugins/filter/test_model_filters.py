"""The thin FQCN filters over plugin_utils: same answers as the model, clear errors."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.smbvdc.datacenter.plugins.filter.branch_model import branch_model
from ansible_collections.smbvdc.datacenter.plugins.filter.capacity_report import capacity_report
from ansible_collections.smbvdc.datacenter.plugins.filter.ip_plan import ip_plan
from ansible_collections.smbvdc.datacenter.plugins.filter.memory_budget import memory_budget
from ansible_collections.smbvdc.datacenter.plugins.filter.service_ports import service_ports
from ansible_collections.smbvdc.datacenter.plugins.filter.vm_placement import vm_placement

from branch_fixtures import lab, two_hosts


@pytest.fixture
def model():
    b, inv = two_hosts()
    inv["hostvars"]["web1"]["vm_host"] = "kvm2"
    return branch_model(b, inv["groups"], inv["hostvars"])


def test_placement_filter_reproduces_the_model(model):
    again = vm_placement(model)
    assert again["placement"] == model["placement"]["placement"]
    assert again["placement"]["web1"] == "kvm2"       # the pin survives the round trip


def test_budget_filter_matches_model(model):
    budgets = memory_budget(model, vm_size={"memory_mb": 512})
    for host, b in budgets.items():
        assert b["allocated_mb"] == model["budgets"][host]["allocated_mb"]
        assert b["more_vms"] >= 0


def test_budget_filter_single_host_and_errors():
    b = memory_budget({"memory_mb": 4096, "os_reserve_mb": 1024}, vms=[{"memory_mb": 1024}],
                      settings={"vm_overhead_mb": 0})
    assert b["free_mb"] == 2048
    with pytest.raises(AnsibleFilterError, match="memory_mb"):
        memory_budget({"ram": 1})
    with pytest.raises(AnsibleFilterError, match=r"vms\[0\]"):
        memory_budget({"memory_mb": 4096}, vms=[{"ram": 1}])
    with pytest.raises(AnsibleFilterError, match="vm_size"):
        memory_budget({"memory_mb": 4096}, vm_size={"memory_mb": 0})


def test_ip_plan_filter(model):
    plan = ip_plan(model)
    assert plan["hosts"]["ns1"]["ipv4"] == model["vms"]["ns1"]["ipv4"]
    assert ip_plan("10.0.0.0/23")[1]["zone"] == "1.0.10.in-addr.arpa"
    with pytest.raises(AnsibleFilterError):
        ip_plan("10.0.0.0/33")


def test_branch_model_filter_error_lists_problems():
    b, inv = lab()
    b["domain"] = "x"
    with pytest.raises(AnsibleFilterError, match=r"smbvdc_branch\.domain"):
        branch_model(b, inv["groups"], inv["hostvars"])


def test_capacity_report(model):
    text = "\n".join(capacity_report(model, vm_size_mb=512))
    assert "kvm1" in text and "kvm2" in text and "placement: method=" in text
    with pytest.raises(AnsibleFilterError, match="vm_size_mb"):
        capacity_report(model, vm_size_mb="big")


def test_service_ports_filter():
    ports = {(p["port"], p["proto"]) for p in service_ports(["dns_primary", "web"])}
    assert ports == {(22, "tcp"), (53, "tcp"), (53, "udp"), (80, "tcp"), (443, "tcp")}
    with pytest.raises(AnsibleFilterError, match=r"extra\[0\]\.port"):
        service_ports(["web"], extra=[{"port": 70000}])
