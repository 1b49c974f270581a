# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smbvdc.datacenter developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Converge one libvirt domain: disks, definition, live RAM, run state, snapshots.

The logic of the ``smbvdc.datacenter.vm_domain`` module, written against an
open libvirt connection (real or fake) and a command runner, so the unit tests
need neither a daemon nor qemu-img. :class:`DomainConverger` records what it
did (``actions``) and, in check mode, only what it would do.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import shutil
import time

from ansible_collections.smbvdc.datacenter.plugins.module_utils import domain_xml

STATES = ("running", "defined", "shutdown", "destroyed", "paused", "saved", "undefined")
COMMANDS = ("reboot", "reset", "restart")
SNAPSHOT_STATES = ("present", "absent", "reverted")

GIB = 1024 ** 3

# virDomainState values (stable libvirt ABI); libvirt-python is not needed to read them.
_RUNNING, _BLOCKED, _PAUSED, _SHUTDOWN, _SHUTOFF, _CRASHED, _PMSUSPENDED = 1, 2, 3, 4, 5, 6, 7
# Flags (stable ABI): VIR_DOMAIN_XML_INACTIVE, VIR_DOMAIN_AFFECT_LIVE,
# VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA,
# VIR_DOMAIN_SNAPSHOT_CREATE_ATOMIC.
XML_INACTIVE = 2
AFFECT_LIVE = 1
UNDEFINE_FLAGS = 1 | 2
SNAPSHOT_ATOMIC = 128


def _gib_text(size):
    """Bytes as GiB for a message: 8, 7.5."""
    return ("%.2f" % (size / float(GIB))).rstrip("0").rstrip(".")


class DomainError(Exception):
    """A failure the module reports with fail_json (message names the fix)."""


def state_name(code):
    if code in (_RUNNING, _BLOCKED):
        return "running"
    if code in (_PAUSED, _PMSUSPENDED):
        return "paused"
    if code == _SHUTDOWN:
        return "in shutdown"
    return "shut off"


class DomainConverger(object):
    """One domain towards the wanted definition and state.

    :param conn: an open libvirt connection.
    :param params: the module parameters (see the module's DOCUMENTATION).
    :param run_command: ``f(argv) -> (rc, stdout, stderr)`` (AnsibleModule.run_command).
    :param check_mode: report, change nothing.
    :param sleep: ``time.sleep``, replaceable in tests.
    :param clock: ``time.monotonic``, replaceable in tests.
    """

    def __init__(self, conn, params, run_command, check_mode=False, sleep=None, clock=None):
        self.conn = conn
        self.p = params
        self.run_command = run_command
        self.check = check_mode
        self.sleep = sleep or time.sleep
        self.clock = clock or time.monotonic
        self.actions = []
        # for module.warn(): what the module reports but does not change
        self.warnings = []
        self.result = {"changed": False, "actions": self.actions, "name": params["name"], "created": False,
                       "disk_created": False, "disk_removed": False, "data_disks_created": [],
                       "data_disks_removed": [], "restart_needed": False, "pending": [],
                       "diff": {"before": "", "after": ""}}

    # -- helpers ---------------------------------------------------------------------------

    def _do(self, text, func=None, *args):
        """Record an action and run it unless in check mode."""
        self.actions.append(text)
        self.result["changed"] = True
        if not self.check and func is not None:
            return func(*args)
        return None

    def lookup(self):
        try:
            return self.conn.lookupByName(self.p["name"])
        except Exception as exc:  # libvirtError: no such domain
            if "not found" in str(exc).lower() or "no domain" in str(exc).lower():
                return None
            raise

    def state(self, dom):
        if dom is None:
            return "undefined"
        return state_name(dom.info()[0])

    # -- disk ---------------------------------------------------------------------------------

    def _qemu_img(self, argv):
        rc, out, err = self.run_command(argv)
        if rc != 0:
            raise DomainError("%s failed (rc=%s): %s" % (" ".join(argv[:2]), rc, (err or out).strip()))
        return out

    def image_info(self, path):
        """``qemu-img info`` of ``path`` as a dict."""
        # qemu-img has no module; read-only, --force-share because the disk may be in use.
        return json.loads(self._qemu_img(["qemu-img", "info", "--output=json", "--force-share", path]))

    def backing_of(self, path):
        """The backing file qcow2 ``path`` was cloned from (None without one)."""
        info = self.image_info(path)
        return info.get("full-backing-filename") or info.get("backing-filename")

    def converge_disk(self):
        """Create the linked clone when missing; returns the backing image the VM boots from."""
        disk = self.p.get("disk")
        if not disk:
            return None
        path, base = disk["path"], disk.get("base")
        base_real = os.path.realpath(base) if base else None
        if os.path.exists(path):
            return self.backing_of(path) if base else None
        if not base_real or not os.path.exists(base_real):
            raise DomainError("%s: the disk %s is missing and its base image %s does not exist. Fix: run the "
                              "smbvdc.datacenter.kvm_host role first (it builds the base image)." % (
                                  self.p["name"], path, base))
        # A linked clone names the real image file (the kvm_host role moves a
        # "current" link when it builds a newer image). qemu-img has no module.
        argv = ["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", base_real, path,
                "%dG" % int(disk["size_gb"])]
        self.result["disk_created"] = True
        self._do("disk %s created (%d GiB, backing %s)" % (path, int(disk["size_gb"]), base_real),
                 self._qemu_img, argv)
        return base_real

    def converge_data_disks(self):
        """Create the missing data disks, empty. An existing one is never recreated, resized or shrunk."""
        for disk in self.p.get("data_disks") or []:
            path, size_gb = disk["path"], int(disk["size_gb"])
            if os.path.exists(path):
                have = int(self.image_info(path).get("virtual-size") or 0)
                if have < size_gb * GIB:
                    # Growing is an explicit operation (the guest's file system must follow); larger stays as it is.
                    self.warnings.append(
                        "%s: the data disk %s has %s GiB, less than the %d GiB the inventory (vm_data_disks) asks for; "
                        "an existing disk is never resized here. Fix: grow it while the VM is shut off (qemu-img "
                        "resize %s %dG), then its file system in the guest (resize2fs), or set size_gb to what it "
                        "has." % (self.p["name"], path, _gib_text(have), size_gb, path, size_gb))
                continue
            # An empty qcow2 (no backing file) with qemu-img, as the system disk: the module creates the disk
            # and defines the domain in one call, and community.libvirt.virt_volume needs a libvirt storage
            # pool holding the path plus lxml and pycdlib on the KVM host. qemu-img has no module.
            argv = ["qemu-img", "create", "-q", "-f", "qcow2", path, "%dG" % size_gb]
            self.result["data_disks_created"].append(path)
            self._do("data disk %s created (%d GiB, empty)" % (path, size_gb), self._qemu_img, argv)

    def boot_files(self, backing):
        """Kernel and initrd of the image the disk was cloned from.

        The kvm_host role keeps each image's kernel and initrd beside it, so a
        VM keeps booting the kernel whose modules are in its own disk when a
        newer image has been built since.
        """
        disk = self.p.get("disk") or {}
        base = disk.get("base")
        info = domain_xml.parse_domain(self.p["xml"])
        kernel, initrd = info["kernel"], info["initrd"]
        if not backing or not base or not kernel or not initrd:
            return kernel, initrd
        kernel_real, initrd_real, base_real = (os.path.realpath(x) for x in (kernel, initrd, base))
        here = os.path.dirname(base_real)
        if os.path.dirname(kernel_real) != here or os.path.dirname(initrd_real) != here:
            return kernel, initrd
        there = os.path.dirname(backing)
        return os.path.join(there, os.path.basename(kernel_real)), os.path.join(there, os.path.basename(initrd_real))

    # -- definition ---------------------------------------------------------------------------

    def converge_definition(self, dom):
        xml = self.p["xml"]
        backing = self.converge_disk()
        self.converge_data_disks()
        kernel, initrd = self.boot_files(backing)
        info = domain_xml.parse_domain(xml)
        if (kernel, initrd) != (info["kernel"], info["initrd"]):
            xml = domain_xml.set_boot_files(xml, kernel, initrd)
        before = dom.XMLDesc(XML_INACTIVE) if dom is not None else ""
        if dom is not None:
            # Without its uuid libvirt takes the definition for another domain of the same name.
            xml = domain_xml.set_uuid(xml, dom.UUIDString())
        changes = domain_xml.definition_changes(before, xml)
        if dom is None:
            self.result["created"] = True
            self.result["diff"] = {"before": "", "after": xml}
            self._do("defined", self.conn.defineXML, xml)
            dom = None if self.check else self.lookup()
        elif self.check:
            if changes:
                self.result["diff"] = {"before": before, "after": xml}
                self._do("definition changed: " + "; ".join(changes))
        else:
            dom = self.conn.defineXML(xml)
            after = dom.XMLDesc(XML_INACTIVE)
            if after != before:
                self.result["diff"] = {"before": before, "after": after}
                self._do("definition changed: " + ("; ".join(changes) or "libvirt's canonical form differs"))
        if dom is not None and self.p.get("autostart") is not None:
            want = bool(self.p["autostart"])
            if bool(dom.autostart()) != want:
                self._do("autostart %s" % ("on" if want else "off"), dom.setAutostart, 1 if want else 0)
        return dom, info

    def converge_live(self, dom, info):
        """RAM, vCPUs and disks of a running domain against its (new) definition.

        Disks are never hot-plugged: a disk added to (or left out of) the
        definition is attached (detached) at the next start, and reported in
        ``pending`` until then.
        """
        if dom is None or self.state(dom) not in ("running", "paused"):
            return
        _state, max_kib, cur_kib, vcpus, _t = dom.info()
        live_max, live_cur = int(max_kib) // 1024, int(cur_kib) // 1024
        want_mb, want_vcpus = info["memory_mb"], info["vcpus"]
        pending = []
        if want_mb != live_cur:
            if want_mb <= live_max:
                # The balloon gives memory back or takes it, up to the boot-time maximum.
                note = "; its maximum stays %d MiB until the next restart" % live_max if want_mb < live_max else ""
                self._do("RAM %d -> %d MiB applied live (balloon)%s" % (live_cur, want_mb, note),
                         dom.setMemoryFlags, want_mb * 1024, AFFECT_LIVE)
            else:
                pending.append("RAM %d -> %d MiB needs a restart (above the running maximum of %d MiB)"
                               % (live_cur, want_mb, live_max))
        if want_vcpus != int(vcpus):
            pending.append("vCPUs %d -> %d need a restart" % (int(vcpus), want_vcpus))
        live = domain_xml.parse_domain(dom.XMLDesc(0))
        live_files = set(d["file"] for d in live["disks"] if d["file"])
        want_files = set(d["file"] for d in info["disks"] if d["file"])
        for d in info["disks"]:
            if d["file"] and d["file"] not in live_files:
                pending.append("disk %s (%s) is attached at the next restart" % (d["file"], d["target"]))
        for d in live["disks"]:
            if d["file"] and d["file"] not in want_files:
                pending.append("disk %s (%s) is detached at the next restart (its file is kept)"
                               % (d["file"], d["target"]))
        if pending:
            self.result["pending"] = pending
            if self.p.get("restart_on_change"):
                self.actions.append("restart to apply: " + "; ".join(pending))
                self.restart(dom)
            else:
                self.result["restart_needed"] = True

    # -- run state ------------------------------------------------------------------------------

    def start(self, dom):
        now = self.state(dom)
        if now == "running":
            return
        if now == "paused":
            self._do("resumed", dom.resume)
        elif dom is not None and not self.check and dom.hasManagedSaveImage(0):
            self._do("restored from its saved memory", dom.create)
            if self.state(dom) == "paused":  # it was saved while paused
                self._do("resumed", dom.resume)
        else:
            self._do("started", dom.create if dom is not None else None)

    def shutdown(self, dom):
        """ACPI shutdown, wait; after shutdown_timeout destroy (shutdown_force) or fail."""
        if self.state(dom) not in ("running", "paused", "in shutdown"):
            return
        if self.state(dom) == "paused":
            self._do("resumed (to see the shutdown request)", dom.resume)
        self._do("shut down (ACPI)", dom.shutdown)
        if self.check:
            return
        deadline = self.clock() + int(self.p.get("shutdown_timeout") or 180)
        while self.state(dom) != "shut off":
            if self.clock() >= deadline:
                if self.p.get("shutdown_force", True):
                    self._do("powered off after %ss without shutting down" % self.p.get("shutdown_timeout"),
                             dom.destroy)
                    return
                raise DomainError(
                    "%s did not shut down within %s s. Fix: check the guest (ACPI, a hung service), raise "
                    "vm_role_shutdown_timeout, set vm_role_shutdown_force: true, or use vm_action=destroy."
                    % (self.p["name"], self.p.get("shutdown_timeout")))
            # Re-send the request: a guest early in boot may miss the first one.
            try:
                if self.state(dom) == "running":
                    dom.shutdown()
            except Exception:  # pylint: disable=broad-except
                pass
            self.sleep(2)

    def destroy(self, dom):
        if self.state(dom) in ("running", "paused", "in shutdown"):
            self._do("powered off", dom.destroy)

    def pause(self, dom):
        if self.state(dom) == "paused":
            return
        if self.state(dom) != "running":
            self.start(dom)
        self._do("paused", dom.suspend if dom is not None else None)

    def save(self, dom):
        if self.state(dom) in ("running", "paused"):
            self._do("saved (managed save, restored at the next start)", dom.managedSave, 0)

    def restart(self, dom):
        self.shutdown(dom)
        self._do("started", dom.create)

    def converge_state(self, dom, state):
        if state == "running":
            self.start(dom)
        elif state == "paused":
            self.pause(dom)
        elif state == "shutdown":
            self.shutdown(dom)
        elif state == "destroyed":
            self.destroy(dom)
        elif state == "saved":
            self.save(dom)
        # defined: leave the run state alone

    # -- removal ----------------------------------------------------------------------------------

    def undefine(self, dom):
        if dom is None:
            return
        info = domain_xml.parse_domain(dom.XMLDesc(XML_INACTIVE))
        files = dict((d["target"], d["file"]) for d in info["disks"] if d["file"])
        self.result["diff"] = {"before": dom.XMLDesc(XML_INACTIVE), "after": ""}
        self.destroy(dom)
        self._do("undefined (with its saved memory and snapshot metadata)", dom.undefineFlags, UNDEFINE_FLAGS)
        seed = files.get("vdb")
        if seed:
            seed_dir = os.path.join(os.path.dirname(seed), "seed", self.p["name"])
            if os.path.exists(seed):
                self._do("seed %s deleted" % seed, os.remove, seed)
            if os.path.isdir(seed_dir):
                self._do("seed files %s deleted" % seed_dir, shutil.rmtree, seed_dir)
        disk = files.get("vda")
        if self.p.get("remove_disks") and disk and os.path.exists(disk):
            self.result["disk_removed"] = True
            self._do("system disk %s deleted" % disk, os.remove, disk)
        # Data disks: the ones the definition names by their serial (smbvdc-<name>); a disk attached by
        # hand, without that serial, is never deleted here.
        for d in info["disks"]:
            serial = d.get("serial") or ""
            if (self.p.get("remove_disks") and serial.startswith(domain_xml.DATA_DISK_SERIAL_PREFIX) and d["file"]
                    and os.path.exists(d["file"])):
                self.result["data_disks_removed"].append(d["file"])
                self._do("data disk %s deleted" % d["file"], os.remove, d["file"])

    # -- snapshots --------------------------------------------------------------------------------

    def converge_snapshot(self, dom):
        name, want = self.p.get("snapshot"), self.p.get("snapshot_state") or "present"
        if not name:
            return
        if dom is None:
            raise DomainError("%s is not defined; it has no snapshots. Fix: build it first (run without vm_action)."
                              % self.p["name"])
        have = list(dom.snapshotListNames(0))
        if want == "present" and name not in have:
            xml = ("<domainsnapshot><name>%s</name><description>smbvdc.datacenter vm_action=snapshot</description>"
                   "</domainsnapshot>" % name)
            self._do("snapshot %s taken" % name, dom.snapshotCreateXML, xml, SNAPSHOT_ATOMIC)
        elif want == "absent" and name in have:
            self._do("snapshot %s deleted" % name, lambda: dom.snapshotLookupByName(name, 0).delete(0))
        elif want == "reverted":
            if name not in have:
                raise DomainError("%s has no snapshot '%s' (it has: %s). Fix: take one first (vm_action=snapshot) "
                                  "or set vm_role_snapshot_name." % (self.p["name"], name, ", ".join(have) or "none"))
            self._do("reverted to snapshot %s" % name,
                     lambda: dom.revertToSnapshot(dom.snapshotLookupByName(name, 0), 0))

    # -- entry --------------------------------------------------------------------------------------

    def run(self):
        p = self.p
        dom = self.lookup()
        self.result["state_before"] = self.state(dom)
        if p["state"] == "undefined":
            self.undefine(dom)
        else:
            if p.get("xml"):
                dom, info = self.converge_definition(dom)
            elif dom is None:
                raise DomainError("%s is not defined here and no xml was given. Fix: build it first (run the "
                                  "smbvdc.datacenter.vm role without vm_action)." % p["name"])
            else:
                info = domain_xml.parse_domain(dom.XMLDesc(XML_INACTIVE))
            command = p.get("command")
            if command in ("reboot", "reset"):
                if self.state(dom) == "running":
                    self._do("%s sent" % command, getattr(dom, command), 0)
            elif command == "restart":
                self.restart(dom)
            elif p.get("xml"):
                self.converge_live(dom, info)
            self.converge_snapshot(dom)
            if command != "restart":
                self.converge_state(dom, p["state"])
        final = self.lookup() if not self.check else dom
        self.result["state"] = self.state(final) if not self.check else p["state"]
        if not self.result["diff"]["before"] and not self.result["diff"]["after"]:
            self.result.pop("diff")
        return self.result
