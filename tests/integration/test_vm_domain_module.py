# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smbvdc.datacenter developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""smbvdc.datacenter.vm_domain through the `ansible` CLI against the real libvirtd.

A throwaway 64 MiB diskless domain (type qemu: it starts and spins in the
firmware, which is all the run states need) goes through define, an unchanged
redefinition, a change in check and diff mode, start, pause, managed save and
restore, power off and undefine. The full role with real guests is
test_vm_lifecycle.py; this one isolates the module on libvirt's own behaviour
(uuid on redefinition, canonical XML, state codes).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import subprocess
import sys
import uuid

import pytest

import libvirt  # a missing libvirt-python must fail the run, not skip it

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
URI = "qemu:///system"
ANSIBLE = os.path.join(os.path.dirname(sys.executable), "ansible")

pytestmark = [pytest.mark.integration]
assert os.geteuid() == 0, "tests/integration needs root (qemu:///system)"

XML = """<domain type='qemu'>
  <name>{name}</name>
  <title>{name}.it.example</title>
  <metadata><smbvdc:vm xmlns:smbvdc='https://smbvdc.example.invalid/xmlns/libvirt/vm/1'><smbvdc:name>{name}</smbvdc:name></smbvdc:vm></metadata>
  <memory unit='MiB'>{mem}</memory>
  <currentMemory unit='MiB'>{mem}</currentMemory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <features><tcg><tb-cache unit='MiB'>16</tb-cache></tcg></features>
  <devices><controller type='usb' model='none'/><memballoon model='virtio'/></devices>
</domain>"""


@pytest.fixture(scope="module")
def conn():
    subprocess.run([os.path.join(ROOT, "scripts", "start-libvirtd.sh"), URI], check=True, timeout=120)
    libvirt.registerErrorHandler(lambda ctx, err: None, None)
    connection = libvirt.open(URI)
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def name(conn):
    dom_name = "itmod-%s" % uuid.uuid4().hex[:8]
    yield dom_name
    try:
        dom = conn.lookupByName(dom_name)
    except libvirt.libvirtError:
        return
    if dom.isActive():
        dom.destroy()
    dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA)


def module(args, check=False, diff=False):
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_STDOUT_CALLBACK="json",
               ANSIBLE_LOAD_CALLBACK_PLUGINS="1")
    cmd = [ANSIBLE, "localhost", "-c", "local", "-i", "localhost,", "-e", "ansible_python_interpreter=/usr/bin/python3",
           "-m", "smbvdc.datacenter.vm_domain",
           "-a", json.dumps(args)] + (["--check"] if check else []) + (["--diff"] if diff else [])
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.stdout, proc.stderr
    return json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]


def state(conn, name):
    return conn.lookupByName(name).info()[0]


def test_domain_through_definition_and_states(conn, name):
    res = module({"name": name, "xml": XML.format(name=name, mem=64), "state": "defined", "autostart": False})
    assert res["changed"] and res["created"], res
    dom = conn.lookupByName(name)
    uid = dom.UUIDString()

    res = module({"name": name, "xml": XML.format(name=name, mem=64), "state": "defined"})
    assert not res["changed"], res["actions"]  # libvirt's canonical form and uuid: no redefinition

    res = module({"name": name, "xml": XML.format(name=name, mem=96), "state": "defined"}, check=True, diff=True)
    assert res["changed"] and res["actions"] == ["definition changed: memory_mb 64 -> 96; current_memory_mb 64 -> 96"]
    assert "96" in res["diff"]["after"] and "<memory unit='KiB'>65536</memory>" in res["diff"]["before"]
    assert "<memory unit='KiB'>65536</memory>" in conn.lookupByName(name).XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)

    res = module({"name": name, "xml": XML.format(name=name, mem=64), "state": "running"})
    assert res["actions"] == ["started"] and state(conn, name) == libvirt.VIR_DOMAIN_RUNNING
    res = module({"name": name, "state": "paused"})
    assert res["actions"] == ["paused"] and state(conn, name) == libvirt.VIR_DOMAIN_PAUSED
    res = module({"name": name, "state": "saved"})
    assert res["changed"] and conn.lookupByName(name).hasManagedSaveImage(0) == 1
    assert state(conn, name) == libvirt.VIR_DOMAIN_SHUTOFF
    res = module({"name": name, "state": "running"})
    # libvirt restores the state the domain was saved in (paused here); running means resumed too
    assert res["actions"] == ["restored from its saved memory", "resumed"], res["actions"]
    assert state(conn, name) == libvirt.VIR_DOMAIN_RUNNING
    res = module({"name": name, "state": "destroyed"})
    assert res["actions"] == ["powered off"] and state(conn, name) == libvirt.VIR_DOMAIN_SHUTOFF
    assert conn.lookupByName(name).UUIDString() == uid  # the same domain all along

    res = module({"name": name, "state": "undefined"})
    assert res["changed"]
    with pytest.raises(libvirt.libvirtError):
        conn.lookupByName(name)
    res = module({"name": name, "state": "undefined"})
    assert not res["changed"]


DATA_DISK = """<disk type='file' device='disk'><driver name='qemu' type='qcow2' discard='unmap'/>
<source file='{path}'/><target dev='{dev}' bus='virtio'/><serial>smbvdc-{label}</serial></disk>"""


def xml_with_disks(name, disks):
    return XML.format(name=name, mem=64).replace(
        "<devices>", "<devices>" + "".join(DATA_DISK.format(path=p, dev=dev, label=label) for p, dev, label in disks))


def virtual_size(path):
    info = subprocess.run(["qemu-img", "info", "--output=json", "--force-share", path], capture_output=True,
                          text=True, check=True)
    return json.loads(info.stdout)["virtual-size"]


def test_data_disks_created_once_pending_on_a_running_domain_removed_with_remove_disks(conn):
    """vm_data_disks on the real libvirtd: created empty at their size with the serial the guest finds,
    an existing one (with data) neither recreated nor resized, a disk added to a running domain only
    defined (pending, not hot-plugged), both deleted by undefined + remove_disks."""
    name = "itdisk-%s" % uuid.uuid4().hex[:8]
    pool = "/var/lib/libvirt/images/%s" % name
    os.makedirs(pool, mode=0o755)
    vtapes, extra = os.path.join(pool, "%s-vtapes.qcow2" % name), os.path.join(pool, "%s-extra.qcow2" % name)
    try:
        one = {"name": name, "xml": xml_with_disks(name, [(vtapes, "vdc", "vtapes")]), "state": "running",
               "autostart": False, "data_disks": [{"path": vtapes, "size_gb": 2}]}
        res = module(one)
        assert res["changed"] and res["data_disks_created"] == [vtapes], res
        assert virtual_size(vtapes) == 2 * 1024 ** 3
        live = conn.lookupByName(name).XMLDesc(0)
        assert "<serial>smbvdc-vtapes</serial>" in live and vtapes in live
        stamp = os.stat(vtapes).st_ino, os.stat(vtapes).st_mtime_ns

        res = module(one)
        assert not res["changed"] and res["data_disks_created"] == [] and not res["pending"], res
        assert (os.stat(vtapes).st_ino, os.stat(vtapes).st_mtime_ns) == stamp   # the same file, untouched

        bigger = dict(one, data_disks=[{"path": vtapes, "size_gb": 3}])
        res = module(bigger)
        assert not res["changed"] and virtual_size(vtapes) == 2 * 1024 ** 3, res   # never resized here
        assert any("never resized" in w for w in res.get("warnings", [])), res.get("warnings")

        two = dict(one, xml=xml_with_disks(name, [(vtapes, "vdc", "vtapes"), (extra, "vdd", "extra")]),
                   data_disks=[{"path": vtapes, "size_gb": 2}, {"path": extra, "size_gb": 1}])
        res = module(two)
        assert res["changed"] and res["data_disks_created"] == [extra], res
        assert any(extra in p and "next restart" in p for p in res["pending"]), res["pending"]
        assert extra not in conn.lookupByName(name).XMLDesc(0)        # not hot-plugged
        assert extra in conn.lookupByName(name).XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
        res = module(two)
        assert not res["changed"] and res["pending"], res               # still waiting for the restart

        res = module({"name": name, "state": "undefined"})
        assert res["changed"] and os.path.exists(vtapes) and os.path.exists(extra)   # kept without remove_disks
        res = module(dict(two, state="defined"))
        res = module({"name": name, "state": "undefined", "remove_disks": True})
        assert sorted(res["data_disks_removed"]) == sorted([vtapes, extra]), res
        assert not os.path.exists(vtapes) and not os.path.exists(extra)
    finally:
        try:
            dom = conn.lookupByName(name)
            if dom.isActive():
                dom.destroy()
            dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE)
        except libvirt.libvirtError:
            pass
        for path in (vtapes, extra):
            if os.path.exists(path):
                os.remove(path)
        os.rmdir(pool)
