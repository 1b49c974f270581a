"""The Nagios plugin of the KVM hosts (roles/kvm_host/files/nagios/check_smbvdc_vms) against a fake libvirt."""

import importlib.machinery
import importlib.util
import pathlib

import pytest

PLUGIN = pathlib.Path(__file__).resolve().parents[3] / "roles" / "kvm_host" / "files" / "nagios" / "check_smbvdc_vms"
XMLNS = "https://smbvdc.example.invalid/xmlns/libvirt/vm/1"


def _load():
    loader = importlib.machinery.SourceFileLoader("check_smbvdc_vms", str(PLUGIN))
    spec = importlib.util.spec_from_loader("check_smbvdc_vms", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


class Dom(object):
    def __init__(self, name, state, max_mb, vm=None):
        self._name, self._state, self._max, self._vm = name, state, max_mb, vm

    def name(self):
        return self._name

    def info(self):
        return [self._state, self._max * 1024, self._max * 1024, 1, 0]

    def XMLDesc(self, flags=0):
        meta = ("<metadata><s:vm xmlns:s='%s'><s:name>%s</s:name></s:vm></metadata>" % (XMLNS, self._vm)
                if self._vm else "")
        return "<domain><name>%s</name>%s</domain>" % (self._name, meta)


class Conn(object):
    def __init__(self, doms):
        self.doms = doms
        self.closed = False

    def listAllDomains(self, flags=0):
        return list(self.doms)

    def close(self):
        self.closed = True


class FakeLibvirt(object):
    def __init__(self, conn=None, error=None):
        self.conn, self.error, self.uris = conn, error, []

    def openReadOnly(self, uri):
        self.uris.append(uri)
        if self.error:
            raise self.error
        return self.conn


@pytest.fixture
def plugin():
    return _load()


def test_all_as_wanted(plugin, capsys):
    lv = FakeLibvirt(Conn([Dom("lm-ns1", 1, 384, vm="ns1"), Dom("mail1", 5, 1536)]))
    assert plugin.main(["ns1=running", "mail1=shutdown"], libvirt_mod=lv) == 0
    out = capsys.readouterr().out
    assert out.startswith("OK - 2 VMs as wanted") and "ns1 running" in out
    assert lv.uris == ["qemu:///system"] and lv.conn.closed


def test_stopped_vm_is_critical(plugin, capsys):
    lv = FakeLibvirt(Conn([Dom("ns1", 5, 384), Dom("web1", 1, 768)]))
    assert plugin.main(["ns1=running", "web1=running", "bak1=running"], libvirt_mod=lv) == 2
    out = capsys.readouterr().out
    assert out.startswith("CRITICAL - 2 of 3") and "ns1 shutdown (want running)" in out and "bak1 absent" in out


def test_undefined_wanted_absent(plugin, capsys):
    lv = FakeLibvirt(Conn([Dom("old1", 5, 384)]))
    assert plugin.main(["old1=undefined"], libvirt_mod=lv) == 2
    lv = FakeLibvirt(Conn([]))
    assert plugin.main(["old1=undefined"], libvirt_mod=lv) == 0


def test_budget(plugin, capsys):
    doms = [Dom("a", 1, 1000), Dom("b", 5, 800)]
    assert plugin.main(["--budget", "--available-mb", "4000"], libvirt_mod=FakeLibvirt(Conn(doms))) == 0
    assert plugin.main(["--budget", "--available-mb", "1900"], libvirt_mod=FakeLibvirt(Conn(doms))) == 1
    assert plugin.main(["--budget", "--available-mb", "1500"], libvirt_mod=FakeLibvirt(Conn(doms))) == 2
    out = capsys.readouterr().out.splitlines()
    assert "1800 MiB" in out[-1] and "| vm_memory=1800MB" in out[-1]


def test_unknown_on_bad_input_or_no_libvirt(plugin, capsys):
    assert plugin.main(["ns1=flying"], libvirt_mod=FakeLibvirt(Conn([]))) == 3
    assert plugin.main(["ns1=running"], libvirt_mod=FakeLibvirt(error=RuntimeError("no socket"))) == 3
    assert "cannot read libvirt" in capsys.readouterr().out
