"""budget.live_check: the model's plan for a KVM host against kvm_host_info's live facts."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.smbvdc.datacenter.plugins.filter.kvm_capacity_check import kvm_capacity_check
from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import budget

MODEL = {
    "budget_settings": {"vm_overhead_mb": 300, "disk_allocation_ratio": 1.0},
    "kvm_hosts": {"kvm1": {"memory_mb": 16000, "vcpus": 4, "disk_gb": 100}},
    "vms": {n: {"name": n, "kvm_host": "kvm1", "memory_mb": m, "disk_gb": 10}
            for n, m in (("ns1", 512), ("mail1", 2048), ("web1", 1024))},
}


def live(available=8000, domains=(), total=16384, cpus=4, pool_free=80.0):
    return {"memory_total_mb": total, "memory_available_mb": available, "cpus": cpus,
            "domains": [{"name": n, "state": "running", "max_memory_mb": 512} for n in domains],
            "storage_pools": [{"name": "smbvdc", "path": "/p", "active": True, "capacity_gb": 100.0,
                               "available_gb": pool_free}]}


def test_fits():
    out = budget.live_check(MODEL, "kvm1", live(), "smbvdc")
    assert out["problems"] == [] and out["new_vms_mb"] == 512 + 2048 + 1024 + 3 * 300 and out["new_vms_gb"] == 30


def test_defined_vms_do_not_count_again_and_missing_memory_is_named():
    out = budget.live_check(MODEL, "kvm1", live(available=2000, domains=("ns1", "mail1", "old")), "smbvdc")
    # only web1 is still to create: 1324 MiB + 512 margin > 2000? no: fits
    assert out["new_vms"] == ["web1"] and out["problems"] == []
    assert out["foreign"] == ["old"] and "not in the branch model: old (running, 512 MiB)" in out["warnings"][0]
    out = budget.live_check(MODEL, "kvm1", live(available=1500, domains=("ns1", "mail1", "old")), "smbvdc")
    assert len(out["problems"]) == 1
    assert "need 1324 MiB with overhead" in out["problems"][0] and "336 MiB are missing" in out["problems"][0]
    assert "Domains not in the model use memory: old" in out["problems"][0] and "Fix:" in out["problems"][0]


def test_declared_host_bigger_than_real_and_pool_too_small():
    out = budget.live_check(MODEL, "kvm1", live(total=8000, cpus=2, pool_free=20.0), "smbvdc")
    text = " ".join(out["problems"])
    assert "hostvars['kvm1'] declares kvm_memory_mb=16000 and kvm_vcpus=4" in text and "kvm_memory_mb <= 8400" in text
    assert "need 30 GiB" in text and "kvm_disk_gb" in text


def test_data_disks_count_until_the_vm_has_them():
    model = {"budget_settings": MODEL["budget_settings"], "kvm_hosts": MODEL["kvm_hosts"],
             "vms": dict(MODEL["vms"], bak1={"name": "bak1", "kvm_host": "kvm1", "memory_mb": 512, "disk_gb": 4,
                                             "data_disks": [{"name": "vtapes", "size_gb": 8}]})}
    # a new VM: its system and data disks
    out = budget.live_check(model, "kvm1", live(domains=("ns1", "mail1", "web1")), "smbvdc")
    assert out["new_vms"] == ["bak1"] and out["new_vms_gb"] == 12 and out["new_data_disks"] == []
    # defined before it had the data disk (no data_disks in its metadata): the data disk is still to create
    state = live(domains=("ns1", "mail1", "web1", "bak1"), pool_free=7.0)
    out = budget.live_check(model, "kvm1", state, "smbvdc")
    assert out["new_vms"] == [] and out["new_vms_gb"] == 8 and out["new_data_disks"] == ["bak1:vtapes"]
    assert len(out["problems"]) == 1 and "data disks: bak1:vtapes" in out["problems"][0]
    assert "need 8 GiB" in out["problems"][0] and "vm_data_disks" in out["problems"][0]
    # defined with it: nothing to create
    state["domains"][-1]["smbvdc"] = {"name": "bak1", "data_disks": "vtapes"}
    out = budget.live_check(model, "kvm1", state, "smbvdc")
    assert out["new_vms_gb"] == 0 and out["new_data_disks"] == [] and out["problems"] == []


def test_filter_wraps_bad_input():
    with pytest.raises(AnsibleFilterError) as exc:
        kvm_capacity_check({}, "kvm1", live(), "smbvdc")
    assert "smbvdc.datacenter.kvm_capacity_check: input must be the branch model" in str(exc.value)
    with pytest.raises(AnsibleFilterError):
        kvm_capacity_check(MODEL, "kvm9", live(), "smbvdc")
