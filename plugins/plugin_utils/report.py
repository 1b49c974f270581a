# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smbvdc.datacenter developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Plain-text capacity report of a branch model (for playbooks/capacity.yml)."""

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


def capacity_lines(model, vm_size_mb=1024):
    """Lines of text: one row per KVM host, then the VM plan."""
    settings = model.get("budget_settings", {})
    lines = ["Branch %s (%s): %d KVM host(s), %d VM(s); overhead %s MiB/VM, RAM ratio %s, vCPU ratio %s"
             % (model["name"], model["domain"], len(model["kvm_hosts"]), len(model["vms"]),
                settings.get("vm_overhead_mb"), settings.get("ram_allocation_ratio"),
                settings.get("cpu_allocation_ratio")), ""]
    from .budget import host_budget
    rows = []
    for name, host in sorted(model["kvm_hosts"].items()):
        on_host = [model["vms"][v] for v in host["vms"]]
        b = host_budget(host, on_host, settings, {"memory_mb": vm_size_mb})
        rows.append([name, b["total_mb"], b["reserved_mb"], b["available_mb"], b["allocated_mb"], b["free_mb"],
                     "%d/%s" % (b["vcpus_allocated"], b["vcpu_capacity"]),
                     "%d/%s" % (b["disk_allocated_gb"], b["disk_capacity_gb"]), b["vm_count"], b["more_vms"],
                     "ok" if b["ok"] else "OVER"])
    lines += _table(["host", "y MiB", "y_os", "y_a", "VMs MiB", "free", "vCPU", "disk GiB", "VMs",
                     "+%dM" % vm_size_mb, "state"], rows)
    lines.append("")
    vm_rows = []
    for name, vm in sorted(model["vms"].items(), key=lambda kv: (kv[1]["kvm_host"], kv[0])):
        # system disk, then each data disk: 4+8
        disks = "+".join(str(g) for g in [vm["disk_gb"]] + [d["size_gb"] for d in vm.get("data_disks") or []])
        vm_rows.append([name, vm["kvm_host"] + (" (pinned)" if vm.get("pinned") else ""), vm["memory_mb"], vm["vcpus"],
                        disks, vm["network"], vm["ipv4"] or "-", ",".join(vm["groups"]) or "-"])
    lines += _table(["vm", "kvm host", "MiB", "vCPU", "GiB", "network", "ipv4", "services"], vm_rows)
    plan = model.get("placement", {})
    lines.append("")
    lines.append("placement: method=%s hosts_used=%s optimal=%s"
                 % (plan.get("method"), plan.get("hosts_used"), plan.get("optimal")))
    for w in model.get("warnings", []):
        lines.append("WARNING: %s" % w)
    return lines
