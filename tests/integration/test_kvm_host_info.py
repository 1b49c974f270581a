# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smbvdc.datacenter developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""End-to-end check of smbvdc.datacenter.kvm_host_info against the real libvirtd.

Starts libvirtd when needed (scripts/start-libvirtd.sh), defines a throwaway
64 MiB domain (type qemu, no disk, never started) and a dir storage pool in a
temporary directory, runs the module through the `ansible` CLI and compares
its answer with the kernel's view. Everything it defines is removed again.
Needs root (qemu:///system) and libvirt-python.
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
MODULE = "smbvdc.datacenter.kvm_host_info"

# qemu:///system needs root; the README's `make test` runs as root. A run
# without it fails here instead of being counted as a pass.
pytestmark = [pytest.mark.integration]
assert os.geteuid() == 0, "tests/integration needs root (qemu:///system, docker)"

DOMAIN_XML = """<domain type='qemu'>
  <name>{name}</name>
  <memory unit='MiB'>64</memory>
  <currentMemory unit='MiB'>64</currentMemory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64'>hvm</type></os>
  <devices/>
</domain>"""

POOL_XML = """<pool type='dir'>
  <name>{name}</name>
  <target><path>{path}</path></target>
</pool>"""


@pytest.fixture(scope="module")
def conn():
    subprocess.run([os.path.join(ROOT, "scripts", "start-libvirtd.sh"), URI], check=True, timeout=120)
    libvirt.registerErrorHandler(lambda ctx, err: None, None)
    connection = libvirt.open(URI)
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def test_domain(conn):
    name = "smbvdc-it-%s" % uuid.uuid4().hex[:8]
    dom = conn.defineXML(DOMAIN_XML.format(name=name))
    yield name
    try:
        if dom.isActive():
            dom.destroy()
        dom.undefine()
    except libvirt.libvirtError:
        pass


@pytest.fixture(scope="module")
def test_pool(conn, tmp_path_factory):
    name = "smbvdc-it-%s" % uuid.uuid4().hex[:8]
    path = str(tmp_path_factory.mktemp("pool"))
    pool = conn.storagePoolDefineXML(POOL_XML.format(name=name, path=path), 0)
    pool.create(0)
    yield {"name": name, "path": path}
    try:
        if pool.isActive():
            pool.destroy()
        pool.undefine()
    except libvirt.libvirtError:
        pass


def run_module(uri=URI, check=False):
    """Run the module through the ansible CLI; return (rc, task result for localhost)."""
    env = dict(os.environ)
    env.update({
        "ANSIBLE_STDOUT_CALLBACK": "json",
        "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1",
        "ANSIBLE_NOCOLOR": "1",
    })
    cmd = [
        ANSIBLE, "localhost",
        "-i", "localhost,", "-c", "local",
        "-e", "ansible_python_interpreter=%s" % sys.executable,
        "-m", MODULE, "-a", "uri=%s" % uri,
    ] + (["--check"] if check else [])
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    try:
        out = json.loads(proc.stdout)
    except ValueError:
        pytest.fail("no JSON from %s (rc %s)\nstdout:\n%s\nstderr:\n%s"
                    % (" ".join(cmd), proc.returncode, proc.stdout, proc.stderr))
    return proc.returncode, out["plays"][0]["tasks"][0]["hosts"]["localhost"]


def meminfo_total_mb():
    with open("/proc/meminfo") as handle:
        for line in handle:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    raise AssertionError("no MemTotal in /proc/meminfo")


@pytest.fixture(scope="module")
def result(test_domain, test_pool):
    rc, res = run_module()
    assert rc == 0, res
    return res


def test_memory_and_cpus(result):
    host = result["kvm_host"]
    assert result["changed"] is False
    total = meminfo_total_mb()
    assert abs(host["memory_total_mb"] - total) <= 0.05 * total, (host["memory_total_mb"], total)
    assert 0 < host["memory_free_mb"] <= host["memory_total_mb"]
    assert host["cpus"] == os.cpu_count()
    assert host["cpu_arch"] == os.uname().machine


def test_virtualization_facts_are_raw(result):
    host = result["kvm_host"]
    assert host["kvm_device"] is os.path.exists("/dev/kvm")
    assert isinstance(host["hw_virt_flags"], list)
    assert set(host["hw_virt_flags"]) <= {"vmx", "svm"}
    assert isinstance(host["libvirt_kvm_domain_type"], bool)
    assert "qemu" in host["guest_domain_types"]
    if os.path.isdir("/sys/kernel/mm/ksm"):
        assert host["ksm"]["run"] in (0, 1, 2)
    else:
        assert host["ksm"] is None


def test_domain_listed(result, test_domain):
    host = result["kvm_host"]
    doms = {d["name"]: d for d in host["domains"]}
    assert test_domain in doms, sorted(doms)
    dom = doms[test_domain]
    assert dom["memory_mb"] == 64
    assert dom["max_memory_mb"] == 64
    assert dom["vcpus"] == 1
    assert dom["state"] == "shutoff"
    assert dom["active"] is False
    assert dom["persistent"] is True
    assert dom["autostart"] is False
    assert dom["type"] == "qemu"
    assert host["allocated_memory_mb"] >= 64


def test_pool_listed(result, test_pool):
    pools = {p["name"]: p for p in result["kvm_host"]["storage_pools"]}
    assert test_pool["name"] in pools, sorted(pools)
    pool = pools[test_pool["name"]]
    assert pool["state"] == "running"
    assert pool["type"] == "dir"
    assert pool["path"] == test_pool["path"]
    st = os.statvfs(test_pool["path"])
    fs_bytes = st.f_blocks * st.f_frsize
    assert pool["capacity_bytes"] > 0
    assert abs(pool["capacity_bytes"] - fs_bytes) <= 0.05 * fs_bytes
    assert pool["allocation_bytes"] + pool["available_bytes"] <= pool["capacity_bytes"] * 1.01
    assert pool["capacity_gb"] == pytest.approx(pool["capacity_bytes"] / 1024 ** 3, abs=0.01)


def test_check_mode(result, test_domain):
    rc, checked = run_module(check=True)
    assert rc == 0, checked
    assert checked["changed"] is False
    host = checked["kvm_host"]
    assert host["memory_total_mb"] == result["kvm_host"]["memory_total_mb"]
    assert test_domain in [d["name"] for d in host["domains"]]


def test_bad_uri_fails_with_hint():
    rc, res = run_module(uri="qemu+unix:///system?socket=/nonexistent/libvirt-sock")
    assert rc != 0
    assert res["failed"] is True
    assert "/nonexistent/libvirt-sock" in res["msg"]
    assert "start-libvirtd.sh" in res["msg"]
