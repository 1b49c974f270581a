# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smbvdc.datacenter developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Reality first, on the real libvirtd: playbooks/placement.yml keeps a defined VM on its host.

Two KVM hosts on this machine: ``kvm-a`` is the real libvirtd
(qemu:///system), ``kvm-b`` libvirt's built-in test driver (test:///default,
no daemon, never holds our VMs). The inventory alone would put every VM on
the larger ``kvm-b``. A throwaway domain ``rp-web1`` (64 MiB, no disk, never
started; the test inventory's domain prefix is ``rp-``) is defined on kvm-a,
so web1 must stay on kvm-a and only the new VM is placed; pinning web1 to
kvm-b, or a second host that also has it, must stop the run naming both
hosts, before any define.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re
import subprocess
import sys

import pytest
import yaml

import libvirt  # a missing libvirt-python must fail the run, not skip it

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
URI = "qemu:///system"
PLAYBOOK = os.path.join(ROOT, "playbooks", "placement.yml")
DOMAIN = "rp-web1"

pytestmark = [pytest.mark.integration]
assert os.geteuid() == 0, "tests/integration needs root (qemu:///system, docker)"

DOMAIN_XML = """<domain type='qemu'>
  <name>%s</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64'>hvm</type></os>
  <devices/>
</domain>""" % DOMAIN


@pytest.fixture(scope="module")
def defined_web1():
    subprocess.run([os.path.join(ROOT, "scripts", "start-libvirtd.sh"), URI], check=True, timeout=120)
    libvirt.registerErrorHandler(lambda ctx, err: None, None)
    conn = libvirt.open(URI)
    try:
        conn.lookupByName(DOMAIN).undefine()     # left over by an interrupted run of this test
    except libvirt.libvirtError:
        pass
    dom = conn.defineXML(DOMAIN_XML)
    yield
    dom.undefine()
    conn.close()


def inventory(tmp_path, kvm_b_uri="test:///default", web1_pin=None):
    host = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
            "kvm_vcpus": 2, "kvm_disk_gb": 100, "kvm_os_reserve_mb": 1024, "vm_role_domain_name_prefix": "rp-"}
    web1 = {"vm_memory_mb": 512}
    if web1_pin:
        web1["vm_host"] = web1_pin
    hosts = {"all": {"children": {
        "kvm_hosts": {"hosts": {
            "kvm-a": dict(host, kvm_memory_mb=4096, kvm_host_libvirt_uri=URI),
            "kvm-b": dict(host, kvm_memory_mb=16384, kvm_host_libvirt_uri=kvm_b_uri)}},
        "vms": {"children": {
            "web": {"hosts": {"web1": web1}},
            "dns_primary": {"hosts": {"ns1": {"vm_memory_mb": 2560}}}}}}}}   # too big for kvm-a beside web1
    branch = {"smbvdc_branch": {"name": "rp", "domain": "rp.smbvdc.test",
                                "networks": [{"name": "lan", "mode": "bridge", "ipv4": "10.99.1.0/24"}]}}
    inv = tmp_path / "inv"
    (inv / "group_vars" / "all").mkdir(parents=True)
    (inv / "hosts.yml").write_text(yaml.safe_dump(hosts))
    (inv / "group_vars" / "all" / "branch.yml").write_text(yaml.safe_dump(branch))
    return inv


def run(inv, *extra):
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", str(inv),
                           PLAYBOOK] + list(extra), capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    return proc.returncode, proc.stdout + proc.stderr


def placement_line(out):
    m = re.search(r"msg: '?(\d+ VMs:.*?)'?\n\s*\n", out, re.S)
    assert m, out
    return " ".join(m.group(1).split())


def test_without_reality_the_inventory_would_place_web1_on_the_larger_host(tmp_path):
    from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import model
    inv = inventory(tmp_path)
    hosts = yaml.safe_load((inv / "hosts.yml").read_text())["all"]["children"]
    hostvars = dict(hosts["kvm_hosts"]["hosts"], web1={"vm_memory_mb": 512}, ns1={"vm_memory_mb": 2560})
    groups = {"kvm_hosts": ["kvm-a", "kvm-b"], "web": ["web1"], "dns_primary": ["ns1"], "vms": ["web1", "ns1"]}
    branch = yaml.safe_load((inv / "group_vars" / "all" / "branch.yml").read_text())["smbvdc_branch"]
    m = model.build_model(branch, {"groups": groups, "hostvars": hostvars})
    assert m["vms"]["web1"]["kvm_host"] == "kvm-b"          # so the test below can fail
    m = model.build_model(branch, {"groups": groups, "hostvars": hostvars}, current={"kvm-a": ["web1"]})
    assert m["vms"]["web1"]["kvm_host"] == "kvm-a" and m["vms"]["web1"]["placed_by"] == "current"


def test_a_defined_vm_stays_on_its_host_and_only_the_new_one_is_placed(defined_web1, tmp_path):
    rc, out = run(inventory(tmp_path), "--check")
    assert rc == 0, out
    line = placement_line(out)
    assert "web1 on kvm-a (defined there)" in line, line
    assert "ns1 on kvm-b (new, placed)" in line, line


def test_vm_host_pointing_elsewhere_is_a_migration_not_a_rebuild(defined_web1, tmp_path):
    rc, out = run(inventory(tmp_path, web1_pin="kvm-b"))
    assert rc != 0, out
    assert "hostvars['web1'].vm_host: pins web1 to kvm-b, but it is defined on kvm-a" in out, out
    assert "Traceback" not in out


def test_a_vm_defined_on_two_hosts_stops_the_run_naming_both(defined_web1, tmp_path):
    rc, out = run(inventory(tmp_path, kvm_b_uri=URI))     # both hosts read the same libvirtd: two copies
    assert rc != 0, out
    assert "hostvars['web1']: is defined on kvm-a and kvm-b" in out, out
