# -*- coding: utf-8 -*-
"""The one XML reader (module_utils/domain_xml.py) and the network filters over it."""

import os
import subprocess
import sys

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.smbvdc.datacenter.plugins.filter import libvirt_network_info as net_filter
from ansible_collections.smbvdc.datacenter.plugins.module_utils import domain_xml

WANTED = """<!-- managed -->
<network>
  <name>smbvdc-lan</name>
  <forward mode='nat'/>
  <bridge name='virbr-lan' stp='on' delay='0'/>
  <ip address='10.77.10.1' prefix='24'/>
  <ip family='ipv6' address='fd00:77:10::1' prefix='64'/>
</network>"""

# What libvirt gives back for WANTED: uuid, mac and nat port range added.
DUMPED = """<network>
  <name>smbvdc-lan</name>
  <uuid>3e3fce45-4f53-4fa7-bb32-11f34168b82b</uuid>
  <forward mode='nat'>
    <nat><port start='1024' end='65535'/></nat>
  </forward>
  <bridge name='virbr-lan' stp='on' delay='0'/>
  <mac address='52:54:00:0a:0b:0c'/>
  <ip address='10.77.10.1' prefix='24'>
  </ip>
  <ip family='ipv6' address='fd00:77:10::1' prefix='64'>
  </ip>
</network>"""


def test_libvirts_additions_do_not_count():
    assert domain_xml.parse_network(WANTED)["signature"] == domain_xml.parse_network(DUMPED)["signature"]
    assert net_filter.libvirt_network_drift({"smbvdc-lan": DUMPED}, {"smbvdc-lan": WANTED}) == []


@pytest.mark.parametrize("change", [
    ("<forward mode='nat'/>", ""),                                   # nat -> isolated
    ("virbr-lan", "virbr-other"),
    ("prefix='24'", "prefix='25'"),
    ("<ip address='10.77.10.1' prefix='24'/>", "<ip address='10.77.10.1' prefix='24'><dhcp><range start='10.77.10.100' end='10.77.10.200'/></dhcp></ip>"),
    ("<bridge name='virbr-lan' stp='on' delay='0'/>", "<bridge name='virbr-lan' stp='on' delay='0'/><dns enable='no'/>"),
])
def test_each_change_that_matters_is_drift(change):
    assert net_filter.libvirt_network_drift({"smbvdc-lan": DUMPED}, {"smbvdc-lan": WANTED.replace(*change)}) == ["smbvdc-lan"]


def test_bad_xml_names_the_filter():
    with pytest.raises(AnsibleFilterError) as exc:
        net_filter.libvirt_network_info("<network>")
    assert "smbvdc.datacenter.libvirt_network_info: the network XML is not valid" in str(exc.value)
    with pytest.raises(AnsibleFilterError):
        net_filter.libvirt_network_info("<domain/>")


def test_definition_changes_name_what_differs():
    a = "<domain type='qemu'><name>x</name><memory unit='MiB'>512</memory><vcpu>1</vcpu></domain>"
    b = a.replace("512", "768")
    assert domain_xml.definition_changes(a, a) == []
    assert domain_xml.definition_changes(a, b) == ["memory_mb 512 -> 768"]
    assert domain_xml.definition_changes("", b) == ["new domain"]
    c = domain_xml.set_boot_files("<domain><name>x</name><os><kernel>/a/k</kernel><initrd>/a/i</initrd></os></domain>",
                                  "/b/k", "/b/i")
    info = domain_xml.parse_domain(c)
    assert (info["kernel"], info["initrd"]) == ("/b/k", "/b/i")


def test_definition_changes_name_the_disks_added_removed_or_changed():
    def dom(*disks):
        return "<domain type='qemu'><name>x</name><devices>%s</devices></domain>" % "".join(
            "<disk type='file' device='disk'><source file='%s'/><target dev='%s' bus='virtio'/>%s</disk>"
            % (f, t, "<serial>%s</serial>" % serial if serial else "") for f, t, serial in disks)

    system, seed = ("/p/x.qcow2", "vda", None), ("/p/x-seed.iso", "vdb", "cidata")
    data = ("/p/x-vtapes.qcow2", "vdc", "smbvdc-vtapes")
    assert domain_xml.parse_domain(dom(system, seed, data))["disks"][2]["serial"] == "smbvdc-vtapes"
    assert domain_xml.definition_changes(dom(system, seed), dom(system, seed, data)) == [
        "disk vdc added (/p/x-vtapes.qcow2)"]
    assert domain_xml.definition_changes(dom(system, seed, data), dom(system, seed)) == [
        "disk vdc removed (/p/x-vtapes.qcow2)"]
    assert domain_xml.definition_changes(dom(system, seed, data), dom(system, seed, ("/p/x-v.qcow2", "vdc", None))) == [
        "disk vdc changed"]
    assert domain_xml.definition_changes(dom(system, seed, data), dom(system, seed, data)) == []


def test_rewriting_keeps_our_metadata_prefix():
    """libvirt keeps prefixes and namespace declarations as given: a rewrite that moved them (ElementTree writes
    "ns0:" and declares namespaces on the root) would be a changed definition on every other run.

    Run in a fresh interpreter that imports only module_utils (as on a KVM host): plugin_utils registers the
    prefix too, and ElementTree's registry is global to the process.
    """
    code = (
        "from ansible_collections.smbvdc.datacenter.plugins.module_utils import domain_xml as d\n"
        "xml = (\"<domain type='qemu'><name>x</name><metadata><smbvdc:vm xmlns:smbvdc='%s'>\"\n"
        "       \"<smbvdc:name>x</smbvdc:name></smbvdc:vm></metadata><os><kernel>/a/k</kernel>\"\n"
        "       \"<initrd>/a/i</initrd></os></domain>\") % d.XMLNS\n"
        "print(d.set_uuid(xml, '0f0f0f0f-0000-4000-8000-000000000001'))\n"
        "print(d.set_boot_files(xml, '/b/k', '/b/i'))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False,
                          env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
    assert proc.returncode == 0, proc.stderr
    # prefix and namespace declaration stay where they were (libvirt keeps both as given)
    assert proc.stdout.count("<smbvdc:vm xmlns:smbvdc=") == 2 and "ns0" not in proc.stdout, proc.stdout
