import pytest

from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import budget


def test_default_reserve_grows_with_ram_and_is_capped():
    assert budget.default_os_reserve_mb(4096) == 1024 + 205
    assert budget.default_os_reserve_mb(65536) == 1024 + 3277
    assert budget.default_os_reserve_mb(1024 * 1024) == 8192


def test_seed_rule_is_strict():
    # y_a > sum(y_si): exactly zero headroom does not fit
    assert budget.ram_fits(0, 999, 1000)
    assert not budget.ram_fits(0, 1000, 1000)
    assert not budget.ram_fits(500, 500, 1000)


def test_host_budget_figures():
    host = {"memory_mb": 32768, "os_reserve_mb": 2048, "vcpus": 8, "disk_gb": 500}
    vms = [{"memory_mb": 4096, "vcpus": 2, "disk_gb": 50}, {"memory_mb": 2048, "vcpus": 1, "disk_gb": 20}]
    b = budget.host_budget(host, vms, {"vm_overhead_mb": 256}, vm_size={"memory_mb": 1024, "vcpus": 1, "disk_gb": 10})
    assert b["available_mb"] == 30720          # y_a = y - y_os
    assert b["capacity_mb"] == 30720           # ratio 1.0
    assert b["allocated_mb"] == 4096 + 2048 + 2 * 256
    assert b["free_mb"] == 30720 - 6656
    assert b["vcpu_capacity"] == 32 and b["vcpus_allocated"] == 3
    assert b["disk_capacity_gb"] == 500 and b["disk_allocated_gb"] == 70
    # more 1024+256 MiB VMs: largest n with n*1280 < 24064 -> 18
    assert b["more_vms"] == 18
    assert b["seed_estimate"] == 30720 // 1024
    assert b["ok"]


def test_data_disks_count_with_the_system_disk():
    host = {"memory_mb": 32768, "os_reserve_mb": 2048, "vcpus": 8, "disk_gb": 40}
    vms = [{"memory_mb": 512, "disk_gb": 4, "data_disks": [{"name": "vtapes", "size_gb": 8}]},
           {"memory_mb": 512, "disk_gb": 20, "data_disks": []}]
    assert budget.vm_disk_gb(vms[0]) == 12 and budget.vm_disk_gb({"memory_mb": 1}) == 0
    b = budget.host_budget(host, vms, vm_size={"memory_mb": 512, "disk_gb": 2, "data_disks": [{"size_gb": 2}]})
    assert b["disk_allocated_gb"] == 32 and b["disk_ok"]
    assert b["more_vms"] == 2               # (40 - 32) // (2 + 2)
    vms[1]["data_disks"] = [{"name": "big", "size_gb": 9}]
    b = budget.host_budget(host, vms)
    assert b["disk_allocated_gb"] == 41 and not b["disk_ok"] and not b["ok"]


def test_more_vms_limited_by_vcpus_and_disk():
    host = {"memory_mb": 65536, "os_reserve_mb": 1024, "vcpus": 2, "disk_gb": 30}
    b = budget.host_budget(host, [], {"cpu_allocation_ratio": 2.0}, vm_size={"memory_mb": 512, "vcpus": 1, "disk_gb": 10})
    assert b["more_vms"] == 3   # disk: 30 GiB / 10
    b = budget.host_budget(host, [], {"cpu_allocation_ratio": 1.0}, vm_size={"memory_mb": 512, "vcpus": 1})
    assert b["more_vms"] == 2   # vCPUs: 2 threads x 1.0


def test_ram_ratio_overcommit():
    host = {"memory_mb": 10240, "os_reserve_mb": 240}
    b = budget.host_budget(host, [], {"ram_allocation_ratio": 1.5})
    assert b["capacity_mb"] == 15000


def test_over_budget_flags_ram():
    b = budget.host_budget({"memory_mb": 4096, "os_reserve_mb": 1024}, [{"memory_mb": 3000}], {"vm_overhead_mb": 100})
    assert b["allocated_mb"] == 3100 and b["capacity_mb"] == 3072
    assert not b["ram_ok"] and not b["ok"]
    assert b["free_mb"] == -28


@pytest.mark.parametrize("free,size,expected", [(0, 100, 0), (100, 100, 0), (101, 100, 1), (1000, 100, 9), (-5, 10, 0)])
def test_more_fit(free, size, expected):
    assert budget.more_fit(free, size) == expected


def test_more_fit_rejects_zero_size():
    with pytest.raises(ValueError):
        budget.more_fit(100, 0)
