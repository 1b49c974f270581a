# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smbvdc.datacenter developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Capacity figures of a branch model: the data (for the HTML report) and the plain-text table (playbooks/capacity.yml)."""

from __future__ import annotations


def _table(headers, rows):
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(str(cell)))
    fmt = "  ".join("{:<%d}" % w if i == 0 else "{:>%d}" % w for i, w in enumerate(widths))
    lines = [fmt.format(*headers), "  ".join("-" * w for w in widths)]
    lines += [fmt.format(*[str(c) for c in row]) for row in rows]
    return lines


def capacity_data(model, vm_size_mb=1024):
    """The capacity figures of a branch model, once, for every report (text and HTML).

    ``hosts``: one mapping per KVM host, ``budget.host_budget`` of the VMs
    placed there with ``more_vms`` for VMs of ``vm_size_mb``, plus ``name``
    and ``site``. ``vms``: one mapping per VM (sorted by host, then name)
    with its size, its host RAM demand (memory + overhead), disks, network,
    addresses and services.
    """
    from .budget import host_budget, vm_demand_mb
    settings = model.get("budget_settings", {})
    overhead = settings.get("vm_overhead_mb") or 0
    hosts = []
    for name, host in sorted(model["kvm_hosts"].items()):
        on_host = [model["vms"][v] for v in host["vms"]]
        b = host_budget(host, on_host, settings, {"memory_mb": vm_size_mb})
        b.update({"name": name, "site": host.get("site"), "vms": list(host["vms"])})
        hosts.append(b)
    vms = []
    for name, vm in sorted(model["vms"].items(), key=lambda kv: (kv[1]["kvm_host"], kv[0])):
        vms.append({"name": name, "kvm_host": vm["kvm_host"], "pinned": bool(vm.get("pinned")),
                    "placed_by": vm.get("placed_by"), "memory_mb": vm["memory_mb"],
                    "demand_mb": vm_demand_mb(vm["memory_mb"], overhead), "vcpus": vm["vcpus"],
                    # system disk, then each data disk: [4, 8]
                    "disks_gb": [vm["disk_gb"]] + [d["size_gb"] for d in vm.get("data_disks") or []],
                    "network": vm["network"], "ipv4": vm.get("ipv4"), "ipv6": vm.get("ipv6"),
                    "services": list(vm["groups"])})
    plan = model.get("placement", {})
    return {"name": model["name"], "domain": model["domain"], "vm_size_mb": vm_size_mb,
            "settings": {k: settings.get(k) for k in ("vm_overhead_mb", "ram_allocation_ratio",
                                                     "cpu_allocation_ratio", "disk_allocation_ratio")},
            "hosts": hosts, "vms": vms,
            "placement": {k: plan.get(k) for k in ("method", "hosts_used", "optimal")},
            "warnings": list(model.get("warnings", []))}


def capacity_lines(model, vm_size_mb=1024):
    """Lines of text: one row per KVM host, then the VM plan."""
    data = capacity_data(model, vm_size_mb)
    settings = data["settings"]
    lines = ["Branch %s (%s): %d KVM host(s), %d VM(s); overhead %s MiB/VM, RAM ratio %s, vCPU ratio %s"
             % (data["name"], data["domain"], len(data["hosts"]), len(data["vms"]),
                settings.get("vm_overhead_mb"), settings.get("ram_allocation_ratio"),
                settings.get("cpu_allocation_ratio")), ""]
    rows = []
    for b in data["hosts"]:
        rows.append([b["name"], b["total_mb"], b["reserved_mb"], b["available_mb"], b["allocated_mb"], b["free_mb"],
                     "%d/%s" % (b["vcpus_allocated"], b["vcpu_capacity"]),
                     "%d/%s" % (b["disk_allocated_gb"], b["disk_capacity_gb"]), b["vm_count"], b["more_vms"],
                     "ok" if b["ok"] else "OVER"])
    lines += _table(["host", "y MiB", "y_os", "y_a", "VMs MiB", "free", "vCPU", "disk GiB", "VMs",
                     "+%dM" % vm_size_mb, "state"], rows)
    lines.append("")
    vm_rows = []
    for vm in data["vms"]:
        vm_rows.append([vm["name"], vm["kvm_host"] + (" (pinned)" if vm["pinned"] else ""), vm["memory_mb"],
                        vm["vcpus"], "+".join(str(g) for g in vm["disks_gb"]), vm["network"], vm["ipv4"] or "-",
                        ",".join(vm["services"]) or "-"])
    lines += _table(["vm", "kvm host", "MiB", "vCPU", "GiB", "network", "ipv4", "services"], vm_rows)
    plan = data["placement"]
    lines.append("")
    lines.append("placement: method=%s hosts_used=%s optimal=%s"
                 % (plan.get("method"), plan.get("hosts_used"), plan.get("optimal")))
    for w in data["warnings"]:
        lines.append("WARNING: %s" % w)
    return lines
