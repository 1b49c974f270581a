# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smbvdc.datacenter developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""A fake libvirt for module unit tests (no daemon, no libvirt-python needed).

Pattern after community.libvirt's tests/unit conftest: the module's libvirt
import is replaced by a fake namespace whose open()/openReadOnly() return a
FakeConnection built from plain Python data.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import types

import pytest

from ansible.module_utils import basic

from ansible_collections.smbvdc.datacenter.plugins.module_utils import libvirt_info

GIB = 1024 ** 3

CAPS_XML = """<capabilities>
  <host>
    <cpu>
      <arch>x86_64</arch>
      <model>EPYC-Rome</model>
      <vendor>AMD</vendor>
      <topology sockets='1' dies='1' cores='8' threads='2'/>
      <feature name='ht'/>
      <feature name='svm'/>
    </cpu>
  </host>
  <guest>
    <os_type>hvm</os_type>
    <arch name='i686'><domain type='qemu'/><domain type='kvm'/></arch>
  </guest>
  <guest>
    <os_type>hvm</os_type>
    <arch name='x86_64'><domain type='qemu'/>{kvm}</arch>
  </guest>
</capabilities>"""

DOMCAPS_XML = """<domainCapabilities>
  <path>/usr/bin/qemu-system-x86_64</path>
  <domain>kvm</domain>
  <arch>x86_64</arch>
</domainCapabilities>"""


class FakeLibvirtError(Exception):
    """Stands in for libvirt.libvirtError."""

    def get_error_message(self):
        return str(self)


class FakeDomain(object):
    def __init__(self, name, state=5, max_mb=1024, mem_mb=None, vcpus=1,
                 autostart=False, persistent=True, dom_type="kvm", dom_id=-1, metadata=None):
        self._name = name
        self._metadata = metadata
        self._state = state
        self._max_kib = max_mb * 1024
        self._cur_kib = (mem_mb if mem_mb is not None else max_mb) * 1024
        self._vcpus = vcpus
        self._autostart = autostart
        self._persistent = persistent
        self._type = dom_type
        self._id = dom_id

    def name(self):
        return self._name

    def UUIDString(self):
        return "00000000-0000-0000-0000-%012d" % (abs(hash(self._name)) % 10 ** 12)

    def ID(self):
        return self._id

    def info(self):
        return [self._state, self._max_kib, self._cur_kib, self._vcpus, 0]

    def isActive(self):
        return 1 if self._state in (1, 2, 3) else 0

    def isPersistent(self):
        return 1 if self._persistent else 0

    def autostart(self):
        return 1 if self._autostart else 0

    def XMLDesc(self, flags=0):
        meta = ""
        if self._metadata:
            meta = "<metadata><smbvdc:vm xmlns:smbvdc='https://smbvdc.example.invalid/xmlns/libvirt/vm/1'>%s" \
                   "</smbvdc:vm></metadata>" % "".join("<smbvdc:%s>%s</smbvdc:%s>" % (k, v, k)
                                                       for k, v in self._metadata.items())
        return "<domain type='%s'><name>%s</name>%s</domain>" % (self._type, self._name, meta)


class VanishedDomain(FakeDomain):
    """A transient domain that disappears between listAllDomains() and info()."""

    def info(self):
        raise FakeLibvirtError("Domain not found: no domain with matching uuid")


class FakePool(object):
    def __init__(self, name, state=2, capacity=100 * GIB, allocation=20 * GIB,
                 pool_type="dir", path="/var/lib/libvirt/images", autostart=True):
        self._name = name
        self._state = state
        self._capacity = capacity
        self._allocation = allocation
        self._type = pool_type
        self._path = path
        self._autostart = autostart

    def name(self):
        return self._name

    def UUIDString(self):
        return "11111111-0000-0000-0000-%012d" % (abs(hash(self._name)) % 10 ** 12)

    def info(self):
        if self._state != 2:
            return [self._state, 0, 0, 0]
        return [self._state, self._capacity, self._allocation, self._capacity - self._allocation]

    def isActive(self):
        return 1 if self._state == 2 else 0

    def isPersistent(self):
        return 1

    def autostart(self):
        return 1 if self._autostart else 0

    def XMLDesc(self, flags=0):
        return ("<pool type='%s'><name>%s</name><target><path>%s</path></target></pool>"
                % (self._type, self._name, self._path))


class FakeConnection(object):
    """Implements exactly the virConnect methods libvirt_info uses."""

    def __init__(self, domains=None, pools=None, memory_kib=64 * 1024 * 1024,
                 free_kib=48 * 1024 * 1024, numa_memory_mb=None, kvm=True,
                 read_only=False, memory_stats=True):
        self.domains = list(domains or [])
        self.pools = list(pools or [])
        self.memory_kib = memory_kib
        self.free_kib = free_kib
        self.numa_memory_mb = numa_memory_mb if numa_memory_mb is not None else memory_kib // 1024
        self.kvm = kvm
        self.read_only = read_only
        self.memory_stats = memory_stats
        self.closed = False

    def getHostname(self):
        return "kvm1.branch.example"

    def getType(self):
        return "QEMU"

    def getVersion(self):
        return 7002000

    def getLibVersion(self):
        return 9000000

    def getInfo(self):
        return ["x86_64", self.numa_memory_mb, 16, 2596, 1, 1, 8, 2]

    def getMemoryStats(self, cell, flags=0):
        if not self.memory_stats:
            raise FakeLibvirtError("this function is not supported by the connection driver")
        return {"total": self.memory_kib, "free": self.free_kib, "buffers": 1024 * 1024, "cached": 1024 * 1024}

    def getFreeMemory(self):
        return self.free_kib * 1024

    def getCapabilities(self):
        return CAPS_XML.format(kvm="<domain type='kvm'/>" if self.kvm else "")

    def getDomainCapabilities(self, emulatorbin=None, arch=None, machine=None, virttype=None, flags=0):
        if self.read_only:
            raise FakeLibvirtError("operation forbidden: read only access prevents virConnectGetDomainCapabilities")
        if virttype == "kvm" and not self.kvm:
            raise FakeLibvirtError("unsupported configuration: KVM is not supported on this host")
        return DOMCAPS_XML

    def listAllDomains(self, flags=0):
        return list(self.domains)

    def listAllStoragePools(self, flags=0):
        return list(self.pools)

    def close(self):
        self.closed = True
        return 0


class FakeLibvirt(object):
    """Namespace replacing the libvirt module; records the URIs opened."""

    libvirtError = FakeLibvirtError

    def __init__(self):
        self.conn = FakeConnection()
        self.opened = []
        self.open_error = None
        self.rw_error = None

    def registerErrorHandler(self, handler, ctx):
        return None

    def open(self, uri=None):
        self.opened.append(("rw", uri))
        if self.open_error or self.rw_error:
            raise FakeLibvirtError(self.rw_error or self.open_error)
        return self.conn

    def openReadOnly(self, uri=None):
        self.opened.append(("ro", uri))
        if self.open_error:
            raise FakeLibvirtError(self.open_error)
        self.conn.read_only = True
        return self.conn


@pytest.fixture
def libvirt_fakes():
    """The fake classes, for tests that build their own connection."""
    return types.SimpleNamespace(
        GIB=GIB,
        FakeConnection=FakeConnection,
        FakeDomain=FakeDomain,
        FakePool=FakePool,
        VanishedDomain=VanishedDomain,
        FakeLibvirtError=FakeLibvirtError,
    )


@pytest.fixture
def fake_libvirt(monkeypatch):
    """Replace libvirt in module_utils.libvirt_info with a FakeLibvirt."""
    fake = FakeLibvirt()
    monkeypatch.setattr(libvirt_info, "libvirt", fake)
    monkeypatch.setattr(libvirt_info, "HAS_LIBVIRT", True)
    monkeypatch.setattr(libvirt_info, "LIBVIRT_IMPORT_ERROR", None)
    return fake


@pytest.fixture
def host_files(tmp_path, monkeypatch):
    """Point /proc/cpuinfo, /dev/kvm and the KSM directory at a temp tree."""
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(
        "processor\t: 0\nmodel name\t: AMD EPYC 7302P 16-Core Processor\n"
        "flags\t\t: fpu vme de pse svm lm\n\n"
        "processor\t: 1\nmodel name\t: AMD EPYC 7302P 16-Core Processor\n"
        "flags\t\t: fpu vme de pse svm lm\n"
    )
    kvm = tmp_path / "kvm"
    kvm.write_text("")
    ksm = tmp_path / "ksm"
    ksm.mkdir()
    (ksm / "run").write_text("1\n")
    (ksm / "pages_shared").write_text("100\n")
    (ksm / "pages_sharing").write_text("2560\n")
    monkeypatch.setattr(libvirt_info, "PROC_CPUINFO", str(cpuinfo))
    monkeypatch.setattr(libvirt_info, "DEV_KVM", str(kvm))
    monkeypatch.setattr(libvirt_info, "KSM_DIR", str(ksm))
    return types.SimpleNamespace(root=tmp_path, cpuinfo=cpuinfo, kvm=kvm, ksm=ksm)


def _patch_args(args):
    """ansible-core >= 2.19 ships patch_module_args; older cores use _ANSIBLE_ARGS."""
    try:
        from ansible.module_utils.testing import patch_module_args
        return patch_module_args(args)
    except ImportError:  # pragma: no cover - ansible-core < 2.19
        from unittest import mock
        from ansible.module_utils.common.text.converters import to_bytes
        return mock.patch.object(basic, "_ANSIBLE_ARGS", to_bytes(json.dumps({"ANSIBLE_MODULE_ARGS": args})))


@pytest.fixture
def run_module(capsys):
    """Run a module's main() with ``args``; return (exit code, parsed JSON result)."""

    def _run(main, args=None, check_mode=False):
        args = dict(args or {})
        if check_mode:
            args["_ansible_check_mode"] = True
        with _patch_args(args):
            with pytest.raises(SystemExit) as exc:
                main()
        out = capsys.readouterr().out
        return exc.value.code, json.loads(out)

    return _run
