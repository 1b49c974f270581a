# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smbvdc.datacenter developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Unit tests for smbvdc.datacenter.kvm_host_info against a fake libvirt (see conftest.py)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.smbvdc.datacenter.plugins.module_utils import libvirt_info
from ansible_collections.smbvdc.datacenter.plugins.modules import kvm_host_info


def _normal_host(f):
    FakeDomain, FakePool = f.FakeDomain, f.FakePool
    return f.FakeConnection(
        domains=[
            FakeDomain("web1", state=1, max_mb=2048, mem_mb=1536, vcpus=2, autostart=True, dom_id=4),
            FakeDomain("dns1", state=5, max_mb=512, vcpus=1),
            FakeDomain("scratch", state=3, max_mb=1024, persistent=False, dom_type="qemu", dom_id=7),
        ],
        pools=[
            FakePool("default"),
            FakePool("backup", state=0, path="/srv/backup", autostart=False),
        ],
    )


def test_normal_host(libvirt_fakes, fake_libvirt, host_files, run_module):
    fake_libvirt.conn = _normal_host(libvirt_fakes)
    rc, result = run_module(kvm_host_info.main)

    assert rc == 0, result
    assert result["changed"] is False
    host = result["kvm_host"]
    assert host["uri"] == "qemu:///system"
    assert fake_libvirt.opened == [("rw", "qemu:///system")]
    assert fake_libvirt.conn.closed
    assert host["read_only_connection"] is False
    assert host["hostname"] == "kvm1.branch.example"
    assert host["libvirt_version"] == "9.0.0"
    assert host["hypervisor_version"] == "7.2.0"

    assert host["memory_total_mb"] == 64 * 1024
    assert host["memory_free_mb"] == 48 * 1024
    assert host["memory_available_mb"] == 50 * 1024
    assert host["memory_numa_mb"] == 64 * 1024
    # max memory of every defined domain, running or not
    assert host["allocated_memory_mb"] == 2048 + 512 + 1024
    # current memory of the running (and paused) domains
    assert host["running_memory_mb"] == 1536 + 1024

    assert host["cpus"] == 16
    assert host["cpu_sockets"] == 1
    assert host["cpu_cores"] == 8
    assert host["cpu_cores_per_socket"] == 8
    assert host["cpu_threads_per_core"] == 2
    assert host["numa_nodes"] == 1
    assert host["cpu_mhz"] == 2596
    assert host["cpu_arch"] == "x86_64"
    assert host["cpu_model"] == "EPYC-Rome"
    assert host["cpu_vendor"] == "AMD"
    assert host["cpu_model_name"] == "AMD EPYC 7302P 16-Core Processor"

    assert host["hw_virt_flags"] == ["svm"]
    assert host["kvm_device"] is True
    assert host["guest_domain_types"] == ["kvm", "qemu"]
    assert host["libvirt_kvm_domain_type"] is True
    assert host["ksm"] == {
        "run": 1,
        "enabled": True,
        "pages_shared": 100,
        "pages_sharing": 2560,
        "saved_mb": 2560 * libvirt_info.os.sysconf("SC_PAGE_SIZE") // (1024 * 1024),
    }

    doms = {d["name"]: d for d in host["domains"]}
    assert [d["name"] for d in host["domains"]] == ["dns1", "scratch", "web1"]
    assert doms["web1"] == {
        "name": "web1",
        "uuid": doms["web1"]["uuid"],
        "id": 4,
        "type": "kvm",
        "state": "running",
        "active": True,
        "persistent": True,
        "autostart": True,
        "memory_mb": 1536,
        "max_memory_mb": 2048,
        "vcpus": 2,
        "smbvdc": {},
    }
    assert doms["dns1"]["state"] == "shutoff"
    assert doms["dns1"]["active"] is False
    assert doms["dns1"]["id"] is None
    assert doms["dns1"]["memory_mb"] == 512
    assert doms["scratch"]["state"] == "paused"
    assert doms["scratch"]["persistent"] is False
    assert doms["scratch"]["autostart"] is False
    assert doms["scratch"]["type"] == "qemu"

    pools = {p["name"]: p for p in host["storage_pools"]}
    assert [p["name"] for p in host["storage_pools"]] == ["backup", "default"]
    default = pools["default"]
    assert default["state"] == "running"
    assert default["active"] is True
    assert default["type"] == "dir"
    assert default["path"] == "/var/lib/libvirt/images"
    assert default["capacity_bytes"] == 100 * libvirt_fakes.GIB
    assert default["allocation_bytes"] == 20 * libvirt_fakes.GIB
    assert default["available_bytes"] == 80 * libvirt_fakes.GIB
    assert (default["capacity_gb"], default["allocation_gb"], default["available_gb"]) == (100.0, 20.0, 80.0)
    assert pools["backup"]["state"] == "inactive"
    assert pools["backup"]["capacity_bytes"] == 0
    assert pools["backup"]["autostart"] is False


def test_no_domains(libvirt_fakes, fake_libvirt, host_files, run_module):
    fake_libvirt.conn = libvirt_fakes.FakeConnection()
    rc, result = run_module(kvm_host_info.main)

    assert rc == 0, result
    host = result["kvm_host"]
    assert host["domains"] == []
    assert host["storage_pools"] == []
    assert host["allocated_memory_mb"] == 0
    assert host["running_memory_mb"] == 0


def test_vanished_domain_is_skipped(libvirt_fakes, fake_libvirt, host_files, run_module):
    fake_libvirt.conn = libvirt_fakes.FakeConnection(
        domains=[libvirt_fakes.FakeDomain("a", max_mb=256), libvirt_fakes.VanishedDomain("gone")])
    rc, result = run_module(kvm_host_info.main)

    assert rc == 0, result
    assert [d["name"] for d in result["kvm_host"]["domains"]] == ["a"]
    assert result["kvm_host"]["allocated_memory_mb"] == 256


def test_connection_error_names_uri_and_fix(fake_libvirt, host_files, run_module):
    fake_libvirt.open_error = ("Failed to connect socket to '/var/run/libvirt/libvirt-sock': "
                               "No such file or directory")
    rc, result = run_module(kvm_host_info.main, {"uri": "qemu:///system"})

    assert rc == 1
    assert result["failed"] is True
    assert result["uri"] == "qemu:///system"
    msg = result["msg"]
    assert "qemu:///system" in msg
    assert "libvirt-sock" in msg
    # the same error from both attempts is reported once
    assert msg.count("libvirt-sock") == 1
    assert "systemctl start libvirtd" in msg
    assert "start-libvirtd.sh" in msg
    assert fake_libvirt.opened == [("rw", "qemu:///system"), ("ro", "qemu:///system")]


def test_read_only_fallback(fake_libvirt, host_files, run_module):
    """A refused read-write connection falls back to read-only; kvm comes from the capabilities."""
    fake_libvirt.rw_error = "authentication failed: access denied"
    rc, result = run_module(kvm_host_info.main, {"uri": "qemu:///system"})

    assert rc == 0, result
    host = result["kvm_host"]
    assert host["read_only_connection"] is True
    assert host["libvirt_kvm_domain_type"] is True
    assert fake_libvirt.opened == [("rw", "qemu:///system"), ("ro", "qemu:///system")]


def test_no_kvm_domain_type(libvirt_fakes, fake_libvirt, host_files, run_module):
    fake_libvirt.conn = libvirt_fakes.FakeConnection(kvm=False)
    rc, result = run_module(kvm_host_info.main)

    assert rc == 0, result
    assert result["kvm_host"]["libvirt_kvm_domain_type"] is False
    assert result["kvm_host"]["guest_domain_types"] == ["qemu"]


def test_libvirt_missing(monkeypatch, host_files, run_module):
    monkeypatch.setattr(libvirt_info, "HAS_LIBVIRT", False)
    monkeypatch.setattr(libvirt_info, "libvirt", None)
    monkeypatch.setattr(libvirt_info, "LIBVIRT_IMPORT_ERROR", "ImportError: No module named 'libvirt'")
    rc, result = run_module(kvm_host_info.main)

    assert rc == 1
    assert result["failed"] is True
    assert "Failed to import the required Python library (libvirt-python)" in result["msg"]


def test_check_mode(libvirt_fakes, fake_libvirt, host_files, run_module):
    fake_libvirt.conn = _normal_host(libvirt_fakes)
    rc, normal = run_module(kvm_host_info.main)
    rc_check, checked = run_module(kvm_host_info.main, check_mode=True)

    assert rc == rc_check == 0
    assert checked["changed"] is False
    assert checked["kvm_host"] == normal["kvm_host"]


def test_ksm_absent(fake_libvirt, host_files, run_module, monkeypatch):
    monkeypatch.setattr(libvirt_info, "KSM_DIR", str(host_files.root / "no-ksm"))
    rc, result = run_module(kvm_host_info.main)

    assert rc == 0, result
    assert result["kvm_host"]["ksm"] is None


def test_ksm_file_unreadable_is_null(fake_libvirt, host_files, run_module):
    (host_files.ksm / "pages_sharing").unlink()
    rc, result = run_module(kvm_host_info.main)

    assert rc == 0, result
    ksm = result["kvm_host"]["ksm"]
    assert ksm["run"] == 1
    assert ksm["pages_sharing"] is None
    assert ksm["saved_mb"] is None


def test_no_hw_virt_and_no_dev_kvm(libvirt_fakes, fake_libvirt, host_files, run_module):
    """What a VM without nested virtualization looks like: no flags, no /dev/kvm."""
    host_files.cpuinfo.write_text("processor\t: 0\nmodel name\t: QEMU Virtual CPU\nflags\t\t: fpu hypervisor\n")
    host_files.kvm.unlink()
    fake_libvirt.conn = libvirt_fakes.FakeConnection(kvm=False)
    fake_libvirt.conn.getCapabilities = lambda: "<capabilities><host><cpu><arch>x86_64</arch></cpu></host></capabilities>"
    rc, result = run_module(kvm_host_info.main)

    assert rc == 0, result
    host = result["kvm_host"]
    assert host["hw_virt_flags"] == []
    assert host["kvm_device"] is False
    assert host["libvirt_kvm_domain_type"] is False
    assert host["cpu_model_name"] == "QEMU Virtual CPU"


def test_memory_falls_back_to_node_info(libvirt_fakes, fake_libvirt, host_files, run_module):
    fake_libvirt.conn = libvirt_fakes.FakeConnection(memory_stats=False, numa_memory_mb=8192, free_kib=4 * 1024 * 1024)
    rc, result = run_module(kvm_host_info.main)

    assert rc == 0, result
    host = result["kvm_host"]
    assert host["memory_total_mb"] == 8192
    assert host["memory_free_mb"] == 4096
    assert host["memory_available_mb"] == 4096


def test_remote_uri_skips_local_files(fake_libvirt, host_files, run_module):
    uri = "qemu+ssh://root@kvm2.branch.example/system"
    rc, result = run_module(kvm_host_info.main, {"uri": uri})

    assert rc == 0, result
    host = result["kvm_host"]
    assert host["uri"] == uri
    assert host["local"] is False
    assert host["kvm_device"] is None
    assert host["ksm"] is None
    assert host["cpu_model_name"] is None
    # still known from the capabilities XML
    assert host["hw_virt_flags"] == ["svm"]
    assert fake_libvirt.opened[0] == ("rw", uri)


@pytest.mark.parametrize("uri, local", [
    ("qemu:///system", True),
    ("qemu:///session", True),
    ("qemu+ssh://localhost/system", True),
    ("qemu+ssh://root@kvm2/system", False),
    ("qemu+tcp://10.0.0.2/system", False),
])
def test_is_local_uri(uri, local):
    assert libvirt_info.is_local_uri(uri) is local


def test_unknown_option_rejected(fake_libvirt, host_files, run_module):
    rc, result = run_module(kvm_host_info.main, {"name": "web1"})

    assert rc == 1
    assert "Unsupported parameters" in result["msg"]


def test_domain_metadata_of_the_vm_role(libvirt_fakes, fake_libvirt, host_files, run_module):
    """The placement keeps a defined VM's address from what the vm role recorded in <metadata>."""
    conn = _normal_host(libvirt_fakes)
    conn.domains.append(libvirt_fakes.FakeDomain("lab-mail1", state=1, max_mb=1536, dom_id=7, metadata={
        "branch": "lab", "name": "mail1", "network": "lan", "ipv4": "10.77.10.10", "ipv6": "fd00:77:10::a"}))
    fake_libvirt.conn = conn
    rc, result = run_module(kvm_host_info.main)
    assert rc == 0, result
    doms = {d["name"]: d for d in result["kvm_host"]["domains"]}
    assert doms["lab-mail1"]["smbvdc"] == {"branch": "lab", "name": "mail1", "network": "lan",
                                           "ipv4": "10.77.10.10", "ipv6": "fd00:77:10::a"}
    others = [d for n, d in doms.items() if n != "lab-mail1"]
    assert others and all(d["smbvdc"] == {} for d in others)
