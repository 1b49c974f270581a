# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smbvdc.datacenter developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""smbvdc.datacenter.vm_domain against a stateful fake libvirt (community.libvirt's test style).

The fake keeps each domain's definition and run state, so a test can converge,
converge again and see changed=False, and watch the calls the module made.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import re

import xml.etree.ElementTree as ET

import pytest

from ansible.module_utils import _internal as ansible_module_internal
from ansible.module_utils.common import warnings as ansible_warnings

from ansible_collections.smbvdc.datacenter.plugins.module_utils import domain_xml as domain_xml_mod
from ansible_collections.smbvdc.datacenter.plugins.module_utils import libvirt_info
from ansible_collections.smbvdc.datacenter.plugins.module_utils import vm_domain as core
from ansible_collections.smbvdc.datacenter.plugins.modules import vm_domain

RUNNING, PAUSED, SHUTOFF = 1, 3, 5


class NoDomain(Exception):
    def get_error_message(self):
        return str(self)


class Domain(object):
    def __init__(self, conn, xml):
        self.conn = conn
        self.xml = xml
        self.state = SHUTOFF
        self.auto = 0
        self.managed_save = False
        self.snapshots = []
        self.live_max_kib = self.live_cur_kib = None
        self.live_vcpus = None
        # what the running QEMU process has (a redefinition changes only self.xml)
        self.live_xml = None
        self.shutdown_ignored = False
        self.calls = []

    def _defined(self, what):
        return int(re.search(r"<%s[^>]*>(\d+)</%s>" % (what, what), self.xml).group(1))

    def name(self):
        return re.search(r"<name>([^<]+)</name>", self.xml).group(1)

    def UUIDString(self):
        return "00000000-0000-4000-8000-%012d" % (abs(hash(self.name())) % 10 ** 12)

    def info(self):
        if self.state in (RUNNING, PAUSED):
            return [self.state, self.live_max_kib, self.live_cur_kib, self.live_vcpus, 0]
        return [self.state, self._defined("memory") * 1024, self._defined("memory") * 1024, self._defined("vcpu"), 0]

    def XMLDesc(self, flags=0):
        if self.state in (RUNNING, PAUSED) and not flags & core.XML_INACTIVE:
            return self.live_xml
        return self.xml

    def autostart(self):
        return self.auto

    def setAutostart(self, value):
        self.calls.append(("autostart", value))
        self.auto = value

    def create(self):
        self.calls.append(("create",))
        assert self.state == SHUTOFF
        # a managed save comes back in the state it was saved in
        self.state = getattr(self, "saved_state", RUNNING) if self.managed_save else RUNNING
        self.managed_save = False
        self.live_max_kib = self.live_cur_kib = self._defined("memory") * 1024
        self.live_vcpus = self._defined("vcpu")
        self.live_xml = self.xml

    def hasManagedSaveImage(self, flags=0):
        return 1 if self.managed_save else 0

    def managedSave(self, flags=0):
        self.calls.append(("managedSave",))
        self.saved_state = self.state
        self.state = SHUTOFF
        self.managed_save = True

    def shutdown(self):
        self.calls.append(("shutdown",))
        if not self.shutdown_ignored:
            self.state = SHUTOFF

    def destroy(self):
        self.calls.append(("destroy",))
        self.state = SHUTOFF

    def suspend(self):
        self.calls.append(("suspend",))
        self.state = PAUSED

    def resume(self):
        self.calls.append(("resume",))
        self.state = RUNNING

    def reboot(self, flags=0):
        self.calls.append(("reboot",))

    def reset(self, flags=0):
        self.calls.append(("reset",))

    def setMemoryFlags(self, kib, flags):
        self.calls.append(("setMemoryFlags", kib, flags))
        self.live_cur_kib = kib

    def undefineFlags(self, flags):
        self.calls.append(("undefineFlags", flags))
        del self.conn.domains[self.name()]

    def snapshotListNames(self, flags=0):
        return list(self.snapshots)

    def snapshotCreateXML(self, xml, flags):
        self.calls.append(("snapshotCreateXML", flags))
        self.snapshots.append(re.search(r"<name>([^<]+)</name>", xml).group(1))

    def snapshotLookupByName(self, name, flags=0):
        dom = self

        class Snap(object):
            def delete(self, flags=0):
                dom.calls.append(("snapshot-delete", name))
                dom.snapshots.remove(name)

        return Snap()

    def revertToSnapshot(self, snap, flags=0):
        self.calls.append(("revert",))


def canonical(xml, uuid):
    return ET.tostring(ET.fromstring(domain_xml_mod.set_uuid(xml, uuid)), encoding="unicode")


class Conn(object):
    def __init__(self):
        self.domains = {}
        self.closed = False

    def lookupByName(self, name):
        if name not in self.domains:
            raise NoDomain("Domain not found: no domain with matching name '%s'" % name)
        return self.domains[name]

    def defineXML(self, xml):
        name = re.search(r"<name>([^<]+)</name>", xml).group(1)
        uuid = re.search(r"<uuid>([^<]+)</uuid>", xml)
        if name in self.domains:
            if not uuid or uuid.group(1) != self.domains[name].UUIDString():
                # what libvirt says when the uuid of a redefinition is missing or differs
                raise NoDomain("operation failed: domain '%s' already exists with uuid %s"
                               % (name, self.domains[name].UUIDString()))
            self.domains[name].xml = canonical(xml, uuid.group(1))
        else:
            self.domains[name] = Domain(self, xml)
            # libvirt adds a uuid to a new definition and keeps its own canonical form
            self.domains[name].xml = canonical(xml, uuid.group(1) if uuid else self.domains[name].UUIDString())
        return self.domains[name]

    def close(self):
        self.closed = True


class FakeLibvirt(object):
    libvirtError = NoDomain

    def __init__(self):
        self.conn = Conn()

    def registerErrorHandler(self, handler, ctx):
        return None

    def open(self, uri=None):
        return self.conn

    def openReadOnly(self, uri=None):
        raise NoDomain("not used")


def domain_xml(name="web1", memory=512, vcpus=1, kernel="/img/current/vmlinuz", initrd="/img/current/initrd.img",
               disk="/pool/web1.qcow2"):
    return ("<domain type='qemu'>\n  <name>%s</name>\n  <title>%s.branch.example</title>\n"
            "  <memory unit='MiB'>%d</memory>\n  <currentMemory unit='MiB'>%d</currentMemory>\n"
            "  <vcpu placement='static'>%d</vcpu>\n  <os><type arch='x86_64'>hvm</type><kernel>%s</kernel>"
            "<initrd>%s</initrd><cmdline>root=LABEL=root</cmdline></os>\n"
            "  <devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='%s'/>"
            "<target dev='vda' bus='virtio'/></disk>"
            "<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='%s'/>"
            "<target dev='vdb' bus='virtio'/><readonly/></disk></devices>\n</domain>\n"
            % (name, name, memory, memory, vcpus, kernel, initrd, disk, disk.replace(".qcow2", "-seed.iso")))


@pytest.fixture
def lv(monkeypatch):
    fake = FakeLibvirt()
    monkeypatch.setattr(libvirt_info, "libvirt", fake)
    monkeypatch.setattr(libvirt_info, "HAS_LIBVIRT", True)
    return fake


@pytest.fixture
def images(tmp_path):
    """A pool with a versioned base image, its kernel and initrd, and a 'current' link."""
    v1 = tmp_path / "img" / "v1"
    v1.mkdir(parents=True)
    for f in ("disk.qcow2", "vmlinuz", "initrd.img"):
        (v1 / f).write_text(f)
    os.symlink(str(v1), str(tmp_path / "img" / "current"))
    (tmp_path / "pool").mkdir()
    return tmp_path


class QemuImg(object):
    """Stands in for qemu-img: create writes a file recording its backing file and virtual size; info reads it."""

    def __init__(self):
        self.calls = []

    def __call__(self, argv, **kwargs):
        self.calls.append(argv)
        if argv[1] == "create":
            # ... [-b <backing>] <path> <size>G
            info = {"virtual-size": int(argv[-1].rstrip("G")) * core.GIB}
            if "-b" in argv:
                info["full-backing-filename"] = argv[argv.index("-b") + 1]
            with open(argv[-2], "w") as handle:
                handle.write(json.dumps(info))
            return 0, "", ""
        if argv[1] == "info":
            with open(argv[-1]) as handle:
                return 0, handle.read(), ""
        return 1, "", "unexpected"


def run(run_module, monkeypatch, qemu, args, check=False, diff=False):
    monkeypatch.setattr(vm_domain.AnsibleModule, "run_command", lambda self, argv, **kw: qemu(argv))
    # one module run per process in real life: no warnings of an earlier run in this one, and module
    # warnings go into the result (once controller code is imported, ansible-core 2.19 displays them instead)
    monkeypatch.setattr(ansible_warnings, "_global_warnings", type(ansible_warnings._global_warnings)())
    monkeypatch.setattr(ansible_module_internal, "is_controller", False, raising=False)
    if diff:
        args = dict(args, _ansible_diff=True)
    return run_module(vm_domain.main, args, check_mode=check)


def build_args(images, **kw):
    base = str(images / "img" / "current" / "disk.qcow2")
    xml = domain_xml(kernel=str(images / "img" / "current" / "vmlinuz"),
                     initrd=str(images / "img" / "current" / "initrd.img"),
                     disk=str(images / "pool" / "web1.qcow2"), **kw)
    return {"name": "web1", "xml": xml, "disk": {"path": str(images / "pool" / "web1.qcow2"), "base": base,
                                                 "size_gb": 10}, "state": "running", "autostart": True}


def test_new_vm_gets_disk_definition_autostart_and_starts_then_nothing_changes(lv, images, run_module, monkeypatch):
    qemu = QemuImg()
    rc, res = run(run_module, monkeypatch, qemu, build_args(images))
    assert rc == 0, res
    assert res["changed"] and res["created"] and res["disk_created"]
    v1 = os.path.realpath(str(images / "img" / "v1"))
    assert qemu.calls[0][:9] == ["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", v1 + "/disk.qcow2"]
    dom = lv.conn.domains["web1"]
    # the definition boots the kernel beside the real image the disk was cloned from
    assert "<kernel>%s/vmlinuz</kernel>" % v1 in dom.xml
    assert dom.state == RUNNING and dom.auto == 1
    assert res["state_before"] == "undefined" and res["state"] == "running"

    rc, res = run(run_module, monkeypatch, qemu, build_args(images))
    assert rc == 0 and res["changed"] is False, res["actions"]
    rc, res = run(run_module, monkeypatch, qemu, build_args(images), check=True)
    assert rc == 0 and res["changed"] is False, res["actions"]


def test_vm_keeps_the_kernel_of_its_own_image_after_a_newer_one(lv, images, run_module, monkeypatch):
    qemu = QemuImg()
    run(run_module, monkeypatch, qemu, build_args(images))
    v2 = images / "img" / "v2"
    v2.mkdir()
    for f in ("disk.qcow2", "vmlinuz", "initrd.img"):
        (v2 / f).write_text(f)
    os.unlink(str(images / "img" / "current"))
    os.symlink(str(v2), str(images / "img" / "current"))
    rc, res = run(run_module, monkeypatch, qemu, build_args(images))
    assert rc == 0 and res["changed"] is False, res["actions"]
    assert os.path.realpath(str(images / "img" / "v1")) + "/vmlinuz" in lv.conn.domains["web1"].xml


def test_check_mode_on_a_new_vm_changes_nothing_and_says_what_it_would_do(lv, images, run_module, monkeypatch):
    qemu = QemuImg()
    rc, res = run(run_module, monkeypatch, qemu, build_args(images), check=True, diff=True)
    assert rc == 0 and res["changed"]
    assert lv.conn.domains == {} and qemu.calls == []
    assert not os.path.exists(str(images / "pool" / "web1.qcow2"))
    assert res["actions"][0].startswith("disk ") and "defined" in res["actions"] and "started" in res["actions"]
    assert res["diff"]["before"] == "" and "<name>web1</name>" in res["diff"]["after"]


def test_lower_ram_goes_live_more_ram_waits_for_a_restart(lv, images, run_module, monkeypatch):
    qemu = QemuImg()
    run(run_module, monkeypatch, qemu, build_args(images, memory=512))
    rc, res = run(run_module, monkeypatch, qemu, build_args(images, memory=384), diff=True)
    dom = lv.conn.domains["web1"]
    assert rc == 0 and res["changed"]
    assert ("setMemoryFlags", 384 * 1024, core.AFFECT_LIVE) in dom.calls
    assert any(a.startswith("RAM 512 -> 384 MiB applied live (balloon)") for a in res["actions"]), res["actions"]
    assert res["restart_needed"] is False
    assert "512" in res["diff"]["before"] and "384" in res["diff"]["after"]

    rc, res = run(run_module, monkeypatch, qemu, build_args(images, memory=1024, vcpus=2))
    assert res["restart_needed"] is True
    assert res["pending"] == ["RAM 384 -> 1024 MiB needs a restart (above the running maximum of 512 MiB)",
                              "vCPUs 1 -> 2 need a restart"]
    assert dom.state == RUNNING and dom.info()[1] == 512 * 1024  # not restarted

    rc, res = run(run_module, monkeypatch, qemu, dict(build_args(images, memory=1024, vcpus=2), restart_on_change=True))
    assert res["restart_needed"] is False and dom.info()[1] == 1024 * 1024 and dom.info()[3] == 2
    assert ("shutdown",) in dom.calls and dom.calls[-1] == ("create",)


@pytest.mark.parametrize("state, expect, calls", [
    ("paused", PAUSED, [("suspend",)]),
    ("shutdown", SHUTOFF, [("shutdown",)]),
    ("destroyed", SHUTOFF, [("destroy",)]),
    ("saved", SHUTOFF, [("managedSave",)]),
])
def test_states_from_running_and_idempotent(lv, images, run_module, monkeypatch, state, expect, calls):
    qemu = QemuImg()
    run(run_module, monkeypatch, qemu, build_args(images))
    dom = lv.conn.domains["web1"]
    dom.calls = []
    rc, res = run(run_module, monkeypatch, qemu, {"name": "web1", "state": state})
    assert rc == 0 and res["changed"] and dom.state == expect and dom.calls == calls, res
    rc, res = run(run_module, monkeypatch, qemu, {"name": "web1", "state": state})
    assert res["changed"] is False, res["actions"]


def test_saved_vm_is_restored_and_paused_vm_resumed(lv, images, run_module, monkeypatch):
    qemu = QemuImg()
    run(run_module, monkeypatch, qemu, build_args(images))
    dom = lv.conn.domains["web1"]
    run(run_module, monkeypatch, qemu, {"name": "web1", "state": "saved"})
    rc, res = run(run_module, monkeypatch, qemu, {"name": "web1", "state": "running"})
    assert res["actions"] == ["restored from its saved memory"] and dom.state == RUNNING
    run(run_module, monkeypatch, qemu, {"name": "web1", "state": "paused"})
    rc, res = run(run_module, monkeypatch, qemu, {"name": "web1", "state": "running"})
    assert res["actions"] == ["resumed"] and dom.state == RUNNING
    # saved while paused: restored, then resumed
    run(run_module, monkeypatch, qemu, {"name": "web1", "state": "paused"})
    run(run_module, monkeypatch, qemu, {"name": "web1", "state": "saved"})
    rc, res = run(run_module, monkeypatch, qemu, {"name": "web1", "state": "running"})
    assert res["actions"] == ["restored from its saved memory", "resumed"] and dom.state == RUNNING


def test_shutdown_that_hangs_is_forced_or_fails_naming_the_fix(lv, images, run_module, monkeypatch):
    qemu = QemuImg()
    run(run_module, monkeypatch, qemu, build_args(images))
    dom = lv.conn.domains["web1"]
    dom.shutdown_ignored = True
    ticks = iter(range(0, 10000, 5))
    monkeypatch.setattr(core.time, "monotonic", lambda: next(ticks))
    monkeypatch.setattr(core.time, "sleep", lambda s: None)
    rc, res = run(run_module, monkeypatch, qemu, {"name": "web1", "state": "shutdown", "shutdown_timeout": 20,
                                                  "shutdown_force": False})
    assert rc == 1 and "did not shut down within 20 s" in res["msg"] and "vm_role_shutdown_timeout" in res["msg"]
    assert dom.state == RUNNING
    rc, res = run(run_module, monkeypatch, qemu, {"name": "web1", "state": "shutdown", "shutdown_timeout": 20})
    assert rc == 0 and dom.state == SHUTOFF and res["actions"][-1].startswith("powered off after 20s")


def test_snapshot_revert_delete(lv, images, run_module, monkeypatch):
    qemu = QemuImg()
    run(run_module, monkeypatch, qemu, build_args(images))
    snap = {"name": "web1", "state": "defined", "snapshot": "smbvdc"}
    rc, res = run(run_module, monkeypatch, qemu, dict(snap, snapshot_state="reverted"))
    assert rc == 1 and "has no snapshot 'smbvdc'" in res["msg"] and "vm_action=snapshot" in res["msg"]
    rc, res = run(run_module, monkeypatch, qemu, snap)
    assert res["changed"] and lv.conn.domains["web1"].snapshots == ["smbvdc"]
    rc, res = run(run_module, monkeypatch, qemu, snap)
    assert res["changed"] is False
    rc, res = run(run_module, monkeypatch, qemu, dict(snap, snapshot_state="reverted"))
    assert res["changed"] and ("revert",) in lv.conn.domains["web1"].calls
    rc, res = run(run_module, monkeypatch, qemu, dict(snap, snapshot_state="absent"))
    assert res["changed"] and lv.conn.domains["web1"].snapshots == []


def test_reboot_only_a_running_vm(lv, images, run_module, monkeypatch):
    qemu = QemuImg()
    run(run_module, monkeypatch, qemu, build_args(images))
    rc, res = run(run_module, monkeypatch, qemu, {"name": "web1", "state": "defined", "command": "reboot"})
    assert res["changed"] and ("reboot",) in lv.conn.domains["web1"].calls
    run(run_module, monkeypatch, qemu, {"name": "web1", "state": "destroyed"})
    rc, res = run(run_module, monkeypatch, qemu, {"name": "web1", "state": "defined", "command": "reboot"})
    assert res["changed"] is False


def test_undefine_keeps_the_disk_unless_asked(lv, images, run_module, monkeypatch):
    qemu = QemuImg()
    run(run_module, monkeypatch, qemu, build_args(images))
    seed = images / "pool" / "web1-seed.iso"
    seed.write_text("iso")
    rc, res = run(run_module, monkeypatch, qemu, {"name": "web1", "state": "undefined"})
    assert rc == 0 and res["changed"] and "web1" not in lv.conn.domains
    assert (images / "pool" / "web1.qcow2").exists() and not seed.exists() and res["disk_removed"] is False
    rc, res = run(run_module, monkeypatch, qemu, {"name": "web1", "state": "undefined"})
    assert res["changed"] is False
    run(run_module, monkeypatch, qemu, build_args(images))
    rc, res = run(run_module, monkeypatch, qemu, {"name": "web1", "state": "undefined", "remove_disks": True})
    assert res["disk_removed"] and not (images / "pool" / "web1.qcow2").exists()


def test_missing_base_image_and_unknown_domain_fail_with_the_fix(lv, images, run_module, monkeypatch):
    qemu = QemuImg()
    args = build_args(images)
    args["disk"]["base"] = str(images / "nowhere.qcow2")
    rc, res = run(run_module, monkeypatch, qemu, args)
    assert rc == 1 and "base image" in res["msg"] and "kvm_host role first" in res["msg"]
    assert lv.conn.domains == {}
    rc, res = run(run_module, monkeypatch, qemu, {"name": "ghost", "state": "paused"})
    assert rc == 1 and "ghost is not defined here" in res["msg"]


# --- data disks (vm_data_disks) ------------------------------------------------------------------

def with_data_disks(xml, disks):
    """``xml`` with data disks ``[(path, target, name)]`` after the seed, as plugin_utils/vmconfig.py renders them."""
    extra = "".join("<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='%s'/>"
                    "<target dev='%s' bus='virtio'/><serial>smbvdc-%s</serial></disk>" % d for d in disks)
    return xml.replace("</devices>", extra + "</devices>")


def data_args(images, disks=(("vtapes", 8),), **kw):
    args = build_args(images, **kw)
    paths = [str(images / "pool" / ("web1-%s.qcow2" % name)) for name, _size in disks]
    args["xml"] = with_data_disks(args["xml"], [(p, "vd" + "cdefgh"[i], name)
                                                for i, (p, (name, _size)) in enumerate(zip(paths, disks))])
    args["data_disks"] = [{"path": p, "size_gb": size} for p, (_name, size) in zip(paths, disks)]
    return args


def creates(qemu):
    return [argv for argv in qemu.calls if argv[1] == "create"]


def warnings_of(res):
    """The module's warnings as text (ansible-core 2.19 returns each as a WarningSummary)."""
    return [w if isinstance(w, str) else w["event"]["msg"] for w in res.get("warnings") or []]


def test_missing_data_disk_is_created_empty_then_nothing_changes(lv, images, run_module, monkeypatch):
    qemu = QemuImg()
    path = str(images / "pool" / "web1-vtapes.qcow2")
    rc, res = run(run_module, monkeypatch, qemu, data_args(images))
    assert rc == 0 and res["changed"] and res["data_disks_created"] == [path], res
    # empty (no backing file), after the system disk's clone
    assert creates(qemu)[1] == ["qemu-img", "create", "-q", "-f", "qcow2", path, "8G"]
    assert "data disk %s created (8 GiB, empty)" % path in res["actions"]
    assert "<serial>smbvdc-vtapes</serial>" in lv.conn.domains["web1"].xml
    for check in (False, True):
        rc, res = run(run_module, monkeypatch, qemu, data_args(images), check=check)
        assert rc == 0 and res["changed"] is False and res["data_disks_created"] == [], res["actions"]
        assert res["pending"] == [] and res["restart_needed"] is False and warnings_of(res) == []
    assert len(creates(qemu)) == 2


@pytest.mark.parametrize("have_gb, warned", [(4, True), (8, False), (16, False)])
def test_existing_data_disk_is_never_recreated_and_a_smaller_one_is_reported(lv, images, run_module, monkeypatch,
                                                                             have_gb, warned):
    qemu = QemuImg()
    disk = images / "pool" / "web1-vtapes.qcow2"
    content = json.dumps({"virtual-size": have_gb * core.GIB, "data": "backups"})
    disk.write_text(content)
    rc, res = run(run_module, monkeypatch, qemu, data_args(images))
    assert rc == 0 and res["data_disks_created"] == [] and disk.read_text() == content
    assert [argv[-2] for argv in creates(qemu)] == [str(images / "pool" / "web1.qcow2")]   # the system disk only
    assert ["qemu-img", "info", "--output=json", "--force-share", str(disk)] in qemu.calls
    warnings = [w for w in warnings_of(res) if "web1-vtapes" in w]
    if warned:
        assert len(warnings) == 1, res.get("warnings")
        assert "has 4 GiB, less than the 8 GiB" in warnings[0] and "vm_data_disks" in warnings[0]
        assert "qemu-img resize %s 8G" % disk in warnings[0]
    else:
        assert warnings == []


def test_data_disk_added_to_a_running_vm_waits_for_a_restart_and_is_not_hot_plugged(lv, images, run_module,
                                                                                    monkeypatch):
    qemu = QemuImg()
    run(run_module, monkeypatch, qemu, build_args(images))
    dom = lv.conn.domains["web1"]
    path = str(images / "pool" / "web1-vtapes.qcow2")
    pending = ["disk %s (vdc) is attached at the next restart" % path]

    # check mode: says what it would do, does nothing
    rc, res = run(run_module, monkeypatch, qemu, data_args(images), check=True)
    assert rc == 0 and res["changed"] and not os.path.exists(path) and len(creates(qemu)) == 1
    assert "data disk %s created (8 GiB, empty)" % path in res["actions"]
    assert "definition changed: disk vdc added (%s)" % path in res["actions"], res["actions"]
    assert res["pending"] == pending and "smbvdc-vtapes" not in dom.xml

    dom.calls = []
    rc, res = run(run_module, monkeypatch, qemu, data_args(images))
    assert rc == 0 and res["changed"] and res["data_disks_created"] == [path] and os.path.exists(path)
    assert "definition changed: disk vdc added (%s)" % path in res["actions"], res["actions"]
    assert "smbvdc-vtapes" in dom.xml and "smbvdc-vtapes" not in dom.live_xml   # saved, not hot-plugged
    assert res["pending"] == pending and res["restart_needed"] is True
    assert dom.state == RUNNING and dom.calls == []

    # the same inventory again: nothing to change, still waiting for the restart
    for check in (False, True):
        rc, res = run(run_module, monkeypatch, qemu, data_args(images), check=check)
        assert rc == 0 and res["changed"] is False, res["actions"]
        assert res["pending"] == pending and res["restart_needed"] is True

    rc, res = run(run_module, monkeypatch, qemu, dict(data_args(images), restart_on_change=True))
    assert ("shutdown",) in dom.calls and dom.calls[-1] == ("create",) and "smbvdc-vtapes" in dom.live_xml
    rc, res = run(run_module, monkeypatch, qemu, data_args(images))
    assert res["changed"] is False and res["pending"] == [] and res["restart_needed"] is False


def test_undefine_removes_data_disks_only_with_remove_disks(lv, images, run_module, monkeypatch):
    qemu = QemuImg()
    data = images / "pool" / "web1-vtapes.qcow2"
    # a disk attached by hand (no smbvdc- serial) is never deleted
    own = images / "pool" / "web1-own.img"
    own.write_text("admin's")
    args = data_args(images)
    args["xml"] = args["xml"].replace("</devices>", "<disk type='file' device='disk'><source file='%s'/>"
                                      "<target dev='vdd' bus='virtio'/></disk></devices>" % own)
    run(run_module, monkeypatch, qemu, args)
    rc, res = run(run_module, monkeypatch, qemu, {"name": "web1", "state": "undefined"})
    assert rc == 0 and "web1" not in lv.conn.domains and data.exists() and res["data_disks_removed"] == []
    run(run_module, monkeypatch, qemu, args)
    rc, res = run(run_module, monkeypatch, qemu, {"name": "web1", "state": "undefined", "remove_disks": True},
                  check=True)
    assert res["changed"] and "data disk %s deleted" % data in res["actions"] and data.exists()
    rc, res = run(run_module, monkeypatch, qemu, {"name": "web1", "state": "undefined", "remove_disks": True})
    assert rc == 0 and res["disk_removed"] and res["data_disks_removed"] == [str(data)]
    assert not data.exists() and not (images / "pool" / "web1.qcow2").exists() and own.read_text() == "admin's"
