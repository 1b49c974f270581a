#!/usr/bin/env python3
"""Reboot drill on a running branch (default: the lab): does everything come back by itself?

1. Note every VM's boot id (/proc/sys/kernel/random/boot_id) and check that
   libvirt autostarts it.
2. Shut every VM down at once (ACPI, as libvirt-guests does when the host
   goes down) and wait until all are off; then restart libvirtd the way the
   host does at boot (systemd where it is PID 1, scripts/start-libvirtd.sh
   otherwise), so that libvirt's autostart, not this script, starts them.
3. Every VM comes back: it answers SSH with a new boot id (bounded wait).
4. Every unit the monitoring plan watches on it (postfix, dovecot, nsd,
   apache2, amavis, mariadb, nagios4, NRPE, ...: from the model, nothing
   typed twice) is active, and systemd lists no failed unit, with no manual
   step (bounded wait: units may start late under emulation).
5. With --converge: the next site.yml run reports changed=0 on every host.
6. With --check: playbooks/status.yml passes on the branch.

Prints one line per check with its time, and `reboot-drill: N passed, N
failed` last; exits 1 on any failure. Only the branch's own KVM host and VMs
are touched.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from labcommon import ROOT, Branch  # noqa: E402

RESULTS = []


def report(name, ok, detail=""):
    RESULTS.append(bool(ok))
    print("reboot-drill: %-4s %s%s" % ("ok" if ok else "FAIL", name, (" (%s)" % detail) if detail else ""), flush=True)


def virsh(*args, timeout=120):
    return subprocess.run(["virsh", "-c", "qemu:///system", *args], capture_output=True, text=True, timeout=timeout)


def boot_id(branch, vm):
    try:
        res = branch.ssh(vm, "cat /proc/sys/kernel/random/boot_id", timeout=60)
    except subprocess.TimeoutExpired:
        return None
    return res.stdout.strip() if res.returncode == 0 else None


def domain_state(vm):
    return virsh("domstate", vm).stdout.strip()


AUTOSTART_MARKER = Path("/run/libvirt/qemu/autostarted")


def restart_libvirtd():
    """Restart libvirtd as the host does at boot; autostart then starts the VMs.

    libvirtd autostarts domains once per host boot: it leaves the marker
    /run/libvirt/qemu/autostarted and skips autostart while the marker exists.
    A reboot empties /run (a tmpfs), so the drill removes the marker as the
    reboot would; a plain restart of libvirtd starts no VM at all."""
    AUTOSTART_MARKER.unlink(missing_ok=True)
    if subprocess.run(["ps", "-p", "1", "-o", "comm="], capture_output=True, text=True).stdout.strip() == "systemd":
        subprocess.run(["systemctl", "restart", "libvirtd"], check=True, timeout=300)
        return "systemctl restart libvirtd"
    # without systemd (the build machines): stop the daemon and start it as the
    # start script does; autostart runs when libvirtd starts
    subprocess.run(["pkill", "-x", "libvirtd"], check=False)
    for _ in range(60):
        if subprocess.run(["pgrep", "-x", "libvirtd"], capture_output=True).returncode != 0:
            break
        time.sleep(1)
    subprocess.run([str(ROOT / "scripts" / "start-libvirtd.sh")], check=True, timeout=300,
                   stdout=subprocess.DEVNULL)
    return "libvirtd stopped and started by scripts/start-libvirtd.sh"


def units_of(branch, vm):
    units = {s["unit"] for s in branch.monitoring["services"] if s["host"] == vm and s.get("unit")}
    return sorted(units)


def wait_units(branch, vm, units, limit):
    """(seconds until all units are active and none failed, or None; last detail)."""
    start, detail = time.monotonic(), ""
    script = ("for u in %s; do printf '%%s=%%s\\n' \"$u\" \"$(systemctl is-active \"$u\")\"; done; "
              "systemctl list-units --state=failed --no-legend --plain | awk '{print \"failed=\" $1}'"
              % " ".join(units))
    while time.monotonic() - start < limit:
        try:
            res = branch.ssh(vm, script, timeout=60)
            rc, lines = res.returncode, res.stdout.split()
        except subprocess.TimeoutExpired:
            rc, lines = None, ["ssh=timeout"]
        bad = [ln for ln in lines if not ln.endswith("=active")]
        if rc == 0 and not bad and len(lines) == len(units):
            return time.monotonic() - start, ""
        detail = " ".join(bad) or "ssh exit %s" % rc
        time.sleep(10)
    return None, detail


def converge(inventory):
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    t0 = time.monotonic()
    res = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory),
                          str(ROOT / "playbooks" / "site.yml")], capture_output=True, text=True, env=env, cwd=ROOT)
    took = time.monotonic() - t0
    log = ROOT / "build" / "reboot-drill-converge.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(res.stdout + res.stderr)
    recap = re.findall(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", res.stdout, re.M)
    changed = {h: int(c) for h, c, _u, _f in recap if int(c)}
    broken = {h: "unreachable=%s failed=%s" % (u, f) for h, _c, u, f in recap if int(u) or int(f)}
    return res.returncode, took, recap, changed, broken, log


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-i", "--inventory", default=str(ROOT / "inventories" / "lab"))
    ap.add_argument("--off-timeout", type=float, default=600.0, help="seconds for every VM to shut down")
    ap.add_argument("--back-timeout", type=float, default=1200.0, help="seconds for every VM to answer SSH again")
    ap.add_argument("--unit-timeout", type=float, default=600.0, help="seconds for a VM's units to be active")
    ap.add_argument("--converge", action="store_true", help="then run site.yml and require changed=0")
    ap.add_argument("--check", action="store_true", help="then run playbooks/status.yml")
    args = ap.parse_args()
    branch = Branch(args.inventory)
    # state None: the inventory sets no vm_state, and the vm role's default is running
    vms = sorted(v for v, vm in branch.model["vms"].items() if (vm.get("state") or "running") == "running")
    report("the branch has VMs that should be running", vms, ", ".join(vms) or "none: nothing to drill")
    if not vms:
        print("reboot-drill: 0 passed, 1 failed")
        return 1

    before = {}
    for vm in vms:
        before[vm] = boot_id(branch, vm)
        auto = virsh("dominfo", vm).stdout
        report("%s is up and set to autostart" % vm, before[vm] and re.search(r"^Autostart:\s+enable", auto, re.M),
               "boot id %s" % (before[vm] or "?")[:8])

    t0 = time.monotonic()
    for vm in vms:
        virsh("shutdown", vm)
    off_deadline = time.monotonic() + args.off_timeout
    while time.monotonic() < off_deadline and any(domain_state(vm) != "shut off" for vm in vms):
        time.sleep(5)
    still = [vm for vm in vms if domain_state(vm) != "shut off"]
    report("every VM shut down at once (ACPI)", not still,
           "%.0f s" % (time.monotonic() - t0) if not still else "still running: %s" % ", ".join(still))
    if still:   # a guest that ignores ACPI is pulled, as the host's shutdown would at its timeout
        for vm in still:
            virsh("destroy", vm)

    how = restart_libvirtd()
    t_start = time.monotonic()
    report("libvirtd restarted", True, how)

    back = {}
    deadline = time.monotonic() + args.back_timeout
    pending = set(vms)
    while pending and time.monotonic() < deadline:
        for vm in sorted(pending):
            new = boot_id(branch, vm) if domain_state(vm) == "running" else None
            if new:
                back[vm] = (time.monotonic() - t_start, new)
                pending.discard(vm)
        if pending:
            time.sleep(10)
    for vm in vms:
        took, new = back.get(vm, (None, None))
        report("%s came back by autostart" % vm, new is not None and new != before.get(vm),
               "SSH in %.0f s, new boot id %s" % (took, new[:8]) if new else "state %s after %d s"
               % (domain_state(vm), args.back_timeout))

    for vm in vms:
        if vm not in back:
            continue
        units = units_of(branch, vm)
        took, detail = wait_units(branch, vm, units, args.unit_timeout)
        report("%s: %d watched units active, no failed unit" % (vm, len(units)), took is not None,
               "%.0f s after SSH: %s" % (took, ", ".join(units)) if took is not None else detail)

    if args.converge:
        rc, took, recap, changed, broken, log = converge(args.inventory)
        report("converge after the reboot: changed=0 on every host", rc == 0 and recap and not changed and not broken,
               "%.0f s, %d hosts%s%s; log %s" % (took, len(recap),
                                                 ", changed: %s" % changed if changed else "",
                                                 ", %s" % broken if broken else "", log.relative_to(ROOT)))
    if args.check:
        res = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(args.inventory),
                              str(ROOT / "playbooks" / "status.yml")], capture_output=True, text=True, cwd=str(ROOT),
                             env=dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0"))
        # the summary line of the table: "status: N passed, N failed, N not checked"
        last = ([ln.strip() for ln in res.stdout.splitlines() if ln.strip().startswith("status: ")] or ["no output"])[-1]
        report("status.yml after the reboot", res.returncode == 0, last)

    failed = RESULTS.count(False)
    print("reboot-drill: %d passed, %d failed (%.0f s)" % (len(RESULTS) - failed, failed, time.monotonic() - t0))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
