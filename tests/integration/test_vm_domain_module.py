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
