# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smbvdc.datacenter developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The memory-budget calculator.

The seed rule: a KVM host with physical RAM ``y`` keeps ``y_os`` for its own
operating system; the rest, ``y_a = y - y_os``, is what VMs may use, and the
host holds a set of VMs while ``y_a > sum(y_si)``. For VMs of one size ``y_s``
that gives ``N ~ y_a / y_s``.

On top of the seed rule we count what a real hypervisor spends:

* ``vm_overhead_mb`` per VM: the QEMU process, its page tables, device
  emulation and (under TCG) the translation cache. 200 MiB is what a 1-vCPU
  Debian guest's QEMU process costs beyond guest RAM on KVM; with software
  emulation and a 128 MiB TB cache, plan ~300 MiB (the lab inventory does).
* ``ram_allocation_ratio``: 1.0 (no over-commit) by default. Values above 1
  only make sense with KSM/ballooning and are the admin's explicit choice.
* vCPUs against ``cpu_allocation_ratio`` x host threads (default 4.0: SMB
  service VMs are mostly idle), and no single VM may have more vCPUs than
  the host has threads.
* disk against the storage pool's size x ``disk_allocation_ratio`` (1.0:
  linked clones are thin, but a full disk stops every VM on the host).

Default host reserve ``y_os`` = 1024 MiB + 5 % of RAM, at most 8192 MiB:
1 GiB keeps the kernel, systemd, libvirtd/virtlogd, sshd and monitoring
agents out of swap; the 5 % covers page tables, slab and the page cache the
host needs for qcow2 backing images, which grow with the machine. Past
~160 GiB the 8 GiB cap applies. Override with ``kvm_os_reserve_mb``.
"""

from __future__ import annotations

import math

DEFAULT_OS_RESERVE_BASE_MB = 1024
DEFAULT_OS_RESERVE_FRACTION = 0.05
DEFAULT_OS_RESERVE_MAX_MB = 8192
DEFAULT_VM_OVERHEAD_MB = 200
DEFAULT_RAM_ALLOCATION_RATIO = 1.0
DEFAULT_CPU_ALLOCATION_RATIO = 4.0
DEFAULT_DISK_ALLOCATION_RATIO = 1.0

BUDGET_DEFAULTS = {
    "vm_overhead_mb": DEFAULT_VM_OVERHEAD_MB,
    "ram_allocation_ratio": DEFAULT_RAM_ALLOCATION_RATIO,
    "cpu_allocation_ratio": DEFAULT_CPU_ALLOCATION_RATIO,
    "disk_allocation_ratio": DEFAULT_DISK_ALLOCATION_RATIO,
    "os_reserve_base_mb": DEFAULT_OS_RESERVE_BASE_MB,
    "os_reserve_fraction": DEFAULT_OS_RESERVE_FRACTION,
    "os_reserve_max_mb": DEFAULT_OS_RESERVE_MAX_MB,
}


def default_os_reserve_mb(total_mb, base_mb=DEFAULT_OS_RESERVE_BASE_MB,
                          fraction=DEFAULT_OS_RESERVE_FRACTION,
                          max_mb=DEFAULT_OS_RESERVE_MAX_MB):
    """y_os for a host with ``total_mb`` of RAM (see module docstring)."""
    return int(min(max_mb, base_mb + math.ceil(total_mb * fraction)))


def vm_demand_mb(memory_mb, overhead_mb=DEFAULT_VM_OVERHEAD_MB):
    """Host RAM one VM costs: its memory plus the hypervisor overhead."""
    return int(memory_mb) + int(overhead_mb)


def vm_disk_gb(vm):
    """GiB one VM takes from the storage pool: its system disk plus its data disks (``data_disks``)."""
    return int(vm.get("disk_gb") or 0) + sum(int(d["size_gb"]) for d in vm.get("data_disks") or [])


def ram_capacity_mb(total_mb, os_reserve_mb, ram_ratio=DEFAULT_RAM_ALLOCATION_RATIO):
    """RAM VMs may be given on a host: y_a x allocation ratio."""
    return int(math.floor((int(total_mb) - int(os_reserve_mb)) * float(ram_ratio)))


def ram_fits(allocated_mb, demand_mb, capacity_mb):
    """The seed rule, y_a > sum(y_si): strictly more than what is allocated.

    A host is never planned to exactly zero headroom.
    """
    return allocated_mb + demand_mb < capacity_mb


def more_fit(free_mb, size_mb):
    """How many more VMs costing ``size_mb`` each fit in ``free_mb``, strictly."""
    if size_mb <= 0:
        raise ValueError("size_mb must be positive, got %r" % size_mb)
    if free_mb <= 0:
        return 0
    # largest n with n * size < free
    return int(math.ceil(free_mb / float(size_mb))) - 1


def host_budget(host, vms=(), settings=None, vm_size=None):
    """Budget of one KVM host.

    :param host: mapping with ``memory_mb`` and optionally ``os_reserve_mb``,
        ``vcpus``, ``disk_gb``.
    :param vms: the VMs on it, mappings with ``memory_mb``, optional ``vcpus``,
        ``disk_gb``, ``data_disks`` (``[{size_gb}]``, counted with ``disk_gb``).
    :param settings: budget settings (see ``BUDGET_DEFAULTS``).
    :param vm_size: optional mapping (``memory_mb``, ``vcpus``, ``disk_gb``) for
        "how many more VMs of this size fit".
    :returns: a dict of figures, all in MiB / vCPUs / GiB.
    """
    s = dict(BUDGET_DEFAULTS)
    s.update({k: v for k, v in (settings or {}).items() if v is not None})
    total = int(host["memory_mb"])
    reserve = host.get("os_reserve_mb")
    if reserve is None:
        reserve = default_os_reserve_mb(total, s["os_reserve_base_mb"], s["os_reserve_fraction"], s["os_reserve_max_mb"])
    reserve = int(reserve)
    overhead = int(s["vm_overhead_mb"])
    available = total - reserve
    capacity = ram_capacity_mb(total, reserve, s["ram_allocation_ratio"])
    vm_ram = sum(int(v["memory_mb"]) for v in vms)
    allocated = sum(vm_demand_mb(v["memory_mb"], overhead) for v in vms)
    free = capacity - allocated
    threads = host.get("vcpus")
    vcpu_capacity = int(math.floor(threads * float(s["cpu_allocation_ratio"]))) if threads else None
    vcpus_allocated = sum(int(v.get("vcpus", 1)) for v in vms)
    disk = host.get("disk_gb")
    disk_capacity = int(math.floor(disk * float(s["disk_allocation_ratio"]))) if disk else None
    disk_allocated = sum(vm_disk_gb(v) for v in vms)

    result = {
        "total_mb": total,
        "reserved_mb": reserve,
        "available_mb": available,
        "capacity_mb": capacity,
        "vm_memory_mb": vm_ram,
        "overhead_mb": overhead * len(vms),
        "allocated_mb": allocated,
        "free_mb": free,
        "ram_ok": (not vms) or allocated < capacity,
        "vm_count": len(vms),
        "vcpus": threads,
        "vcpu_capacity": vcpu_capacity,
        "vcpus_allocated": vcpus_allocated,
        "vcpu_ok": vcpu_capacity is None or vcpus_allocated <= vcpu_capacity,
        "disk_gb": disk,
        "disk_capacity_gb": disk_capacity,
        "disk_allocated_gb": disk_allocated,
        "disk_ok": disk_capacity is None or disk_allocated <= disk_capacity,
    }
    result["ok"] = result["ram_ok"] and result["vcpu_ok"] and result["disk_ok"]
    if vm_size:
        size_mem = int(vm_size["memory_mb"])
        n = more_fit(free, vm_demand_mb(size_mem, overhead))
        if vcpu_capacity is not None:
            n = min(n, max(0, (vcpu_capacity - vcpus_allocated) // max(1, int(vm_size.get("vcpus", 1)))))
        if disk_capacity is not None and vm_disk_gb(vm_size) > 0:
            n = min(n, max(0, (disk_capacity - disk_allocated) // vm_disk_gb(vm_size)))
        result["more_vms"] = max(0, n)
        # The seed equation on the bare figures, for comparison: N ~ y_a / y_s.
        result["seed_estimate"] = available // size_mem if size_mem > 0 else 0
    return result


def live_check(model, host, live, pool_name, margin_mb=512, tolerance_pct=5):
    """The model's plan for ``host`` against what the host really has (kvm_host_info's ``kvm_host``).

    Returns ``{problems, warnings, new_vms, new_vms_mb, new_vms_gb, new_data_disks, foreign}``;
    each problem names the variable to change and the fix. Only VMs not yet
    defined on the host count against its available memory, and only disks
    not yet created against its pool space: the disks of new VMs, and the
    data disks a defined VM does not have yet (its domain's metadata lists
    the data disks it was defined with).
    """
    entry = model["kvm_hosts"][host]
    overhead = (model.get("budget_settings") or {}).get("vm_overhead_mb", DEFAULT_VM_OVERHEAD_MB)
    disk_ratio = (model.get("budget_settings") or {}).get("disk_allocation_ratio", DEFAULT_DISK_ALLOCATION_RATIO)
    defined = set(d["name"] for d in live.get("domains") or [])
    planned = [v for v in model["vms"].values() if v["kvm_host"] == host]
    new = [v for v in planned if v["name"] not in defined]
    new_mb = sum(vm_demand_mb(v["memory_mb"], overhead) for v in new)
    new_gb = sum(vm_disk_gb(v) for v in new)
    meta = dict((d["name"], d.get("smbvdc") or {}) for d in live.get("domains") or [])
    new_data = []
    for v in planned:
        if v["name"] in defined:
            have = set((meta[v["name"]].get("data_disks") or "").split(","))
            new_data += [("%s:%s" % (v["name"], d["name"]), int(d["size_gb"])) for d in v.get("data_disks") or []
                         if d["name"] not in have]
    new_gb += sum(size for _n, size in new_data)
    foreign = [d for d in live.get("domains") or [] if d["name"] not in model["vms"]]
    problems, warnings = [], []
    var = "hostvars['%s']" % host
    allowed_mb = int(live["memory_total_mb"] * (100 + tolerance_pct) / 100)
    if entry["memory_mb"] > allowed_mb or entry["vcpus"] > live["cpus"]:
        problems.append(
            "%s declares kvm_memory_mb=%d and kvm_vcpus=%d, but the host has %d MiB (MemTotal) and %d CPUs, so the "
            "placement over-commits it. Fix: set kvm_memory_mb <= %d and kvm_vcpus <= %d in the inventory."
            % (var, entry["memory_mb"], entry["vcpus"], live["memory_total_mb"], live["cpus"], allowed_mb, live["cpus"]))
    pool = next((p for p in live.get("storage_pools") or [] if p["name"] == pool_name), None)
    if pool and pool.get("active"):
        if entry["disk_gb"] > pool["capacity_gb"] or new_gb > pool["available_gb"] * disk_ratio:
            problems.append(
                "Storage pool '%s' (%s) has %s GiB, %s GiB free; the inventory declares kvm_disk_gb=%d and the disks "
                "still to create here (VMs: %s; data disks: %s) need %d GiB. Fix: lower %s.kvm_disk_gb or the VMs' "
                "vm_disk_gb or vm_data_disks, or give the pool directory more space."
                % (pool_name, pool.get("path"), pool["capacity_gb"], pool["available_gb"], entry["disk_gb"],
                   ", ".join(v["name"] for v in new) or "none", ", ".join(n for n, _s in new_data) or "none", new_gb,
                   var))
    if new and new_mb + margin_mb > live["memory_available_mb"]:
        text = ("The VMs still to create on %s (%s) need %d MiB with overhead; the host has %d MiB available and keeps "
                "%d MiB free, %d MiB are missing. " % (host, ", ".join(v["name"] for v in new), new_mb,
                                                       live["memory_available_mb"], margin_mb,
                                                       new_mb + margin_mb - live["memory_available_mb"]))
        if foreign:
            text += "Domains not in the model use memory: %s. " % ", ".join(d["name"] for d in foreign)
        problems.append(text + "Fix: stop what else runs on the host, move VMs to another KVM host (vm_host), or "
                               "lower their vm_memory_mb.")
    if foreign:
        warnings.append("%s runs libvirt domains that are not in the branch model: %s. The model's budget does not "
                        "count them." % (host, ", ".join("%s (%s, %s MiB)" % (d["name"], d["state"], d["max_memory_mb"])
                                                        for d in foreign)))
    return {"problems": problems, "warnings": warnings, "new_vms": [v["name"] for v in new], "new_vms_mb": new_mb,
            "new_vms_gb": new_gb, "new_data_disks": [n for n, _s in new_data], "foreign": [d["name"] for d in foreign]}
