# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smbvdc.datacenter developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""End-to-end check of the smbvdc.datacenter.kvm_host role on this machine.

Applies the role to the lab's KVM host (inventories/lab, lab-kvm, connection
local) twice through a small playbook that imports playbooks/preflight.yml
and writes the role's facts to a JSON file. The first run converges (builds
the base image when its recipe changed, ~90 s); the second must report
changed=0. Then the result is compared with libvirt's and the file system's
view: network smbvdc-lan active on br-smbvdc-lan with the model's gateway and
no DHCP, the storage pool active, the image, kernel and initrd in place, and
the virtualization type consistent with the probe.
Needs root (qemu:///system) and libvirt-python, like tests/integration.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import grp
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

import libvirt  # a missing libvirt-python must fail the run, not skip it

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
URI = "qemu:///system"
BIN = os.path.dirname(sys.executable)
INVENTORY = os.path.join(ROOT, "inventories", "lab")
HOST = "lab-kvm"

pytestmark = [pytest.mark.integration]
assert os.geteuid() == 0, "tests/integration needs root (qemu:///system)"

PLAYBOOK = """---
- name: Preflight
  ansible.builtin.import_playbook: {root}/playbooks/preflight.yml

- name: KVM host role, facts to a file
  hosts: kvm_hosts
  gather_facts: true
  roles:
    - role: smbvdc.datacenter.kvm_host
  post_tasks:
    - name: Write the role's facts
      ansible.builtin.copy:
        content: "{{{{ facts | to_nice_json }}}}"
        dest: {facts}
        mode: "0600"
      changed_when: false
      vars:
        facts:
          virt_type: "{{{{ kvm_host_virt_type }}}}"
          virt_reason: "{{{{ kvm_host_virt_reason }}}}"
          tcg_tb_cache_mb: "{{{{ kvm_host_tcg_tb_cache_mb }}}}"
          base_image: "{{{{ kvm_host_base_image }}}}"
          kernel: "{{{{ kvm_host_kernel }}}}"
          initrd: "{{{{ kvm_host_initrd }}}}"
          kernel_cmdline: "{{{{ kvm_host_kernel_cmdline }}}}"
          image_dir: "{{{{ kvm_host_image_dir }}}}"
          pool_name: "{{{{ kvm_host_pool_name }}}}"
          pool_path: "{{{{ kvm_host_pool_path }}}}"
          networks: "{{{{ kvm_host_libvirt_networks }}}}"
          model_networks: "{{{{ hostvars['localhost']['smbvdc_model']['networks'] }}}}"
"""


def run_playbook(playbook):
    env = dict(os.environ, PATH=BIN + os.pathsep + os.environ.get("PATH", ""),
               ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    proc = subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", INVENTORY, playbook], cwd=ROOT, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=1800,
                          check=False)
    assert proc.returncode == 0, proc.stdout[-6000:]
    recap = re.search(r"^%s\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)" % re.escape(HOST),
                      proc.stdout, re.M)
    assert recap, proc.stdout[-3000:]
    return int(recap.group(2)), proc.stdout


def udev_less_dev_kvm():
    """Give /dev/kvm the 0600 root:root of a host without udev (containers, our
    build machines), so that the role has to fix it."""
    if os.path.exists("/dev/kvm"):
        os.chown("/dev/kvm", 0, 0)
        os.chmod("/dev/kvm", 0o600)


def caps_cache_mtimes():
    cache = "/var/cache/libvirt/qemu/capabilities"
    return {f: os.stat(os.path.join(cache, f)).st_mtime_ns for f in os.listdir(cache)} if os.path.isdir(cache) else {}


@pytest.fixture(scope="module")
def converged(tmp_path_factory):
    work = tmp_path_factory.mktemp("kvm_host_role")
    udev_less_dev_kvm()
    facts_file = work / "facts.json"
    playbook = work / "play.yml"
    playbook.write_text(PLAYBOOK.format(root=ROOT, facts=facts_file))
    _, first_output = run_playbook(str(playbook))
    changed, output = run_playbook(str(playbook))
    return {"changed": changed, "output": output, "first_output": first_output,
            "facts": json.loads(facts_file.read_text())}


@pytest.fixture(scope="module")
def conn():
    libvirt.registerErrorHandler(lambda ctx, err: None, None)
    connection = libvirt.open(URI)
    yield connection
    connection.close()


def test_second_run_changes_nothing(converged):
    assert converged["changed"] == 0, converged["output"][-4000:]


def test_networks_match_the_model(converged, conn):
    facts = converged["facts"]
    assert facts["networks"], "the lab model has networks"
    for name, libvirt_name in facts["networks"].items():
        model = facts["model_networks"][name]
        assert libvirt_name == "smbvdc-%s" % name
        net = conn.networkLookupByName(libvirt_name)
        assert net.isActive() and net.autostart()
        doc = ET.fromstring(net.XMLDesc(0))
        assert doc.find("bridge").get("name") == model["bridge"]
        forward = doc.find("forward")
        if model["mode"] == "bridge":
            assert forward.get("mode") == "bridge"
            continue
        assert (forward.get("mode") if forward is not None else "isolated") == model["mode"]
        ips = {(ip.get("family", "ipv4"), ip.get("address"), int(ip.get("prefix"))) for ip in doc.findall("ip")}
        assert ("ipv4", model["gateway4"], model["prefix4"]) in ips
        if model["gateway6"]:
            assert ("ipv6", model["gateway6"], model["prefix6"]) in ips
        assert doc.find("ip/dhcp") is None, "VMs have static addresses: no DHCP"
        addresses = subprocess.run(["ip", "-o", "addr", "show", "dev", model["bridge"]], stdout=subprocess.PIPE,
                                   universal_newlines=True, check=True).stdout
        assert " %s/%d " % (model["gateway4"], model["prefix4"]) in addresses


def test_pool_is_active(converged, conn):
    facts = converged["facts"]
    pool = conn.storagePoolLookupByName(facts["pool_name"])
    assert pool.isActive() and pool.autostart()
    assert ET.fromstring(pool.XMLDesc(0)).findtext("target/path") == facts["pool_path"]


def test_image_kernel_and_recipe(converged):
    facts = converged["facts"]
    for key in ("base_image", "kernel", "initrd"):
        assert os.path.isabs(facts[key]) and os.path.getsize(facts[key]) > 0, key
    version_dir = os.path.dirname(facts["base_image"])
    assert os.path.dirname(facts["kernel"]) == version_dir == os.path.dirname(facts["initrd"])
    with open(os.path.join(facts["image_dir"], "recipe.sha256")) as handle:
        recipe = handle.read().strip()
    assert version_dir.endswith("-" + recipe[:12])
    assert os.path.realpath(os.path.join(facts["image_dir"], "current")) == version_dir
    info = json.loads(subprocess.run(["qemu-img", "info", "-U", "--output=json", facts["base_image"]],
                                     stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout)
    assert info["format"] == "qcow2" and "backing-filename" not in info
    assert "root=LABEL=root" in facts["kernel_cmdline"]


def test_virt_type_follows_the_probe(converged):
    facts = converged["facts"]
    assert facts["virt_type"] in ("kvm", "qemu")
    if facts["virt_type"] == "qemu":
        assert facts["tcg_tb_cache_mb"] == 128
    else:
        assert facts["tcg_tb_cache_mb"] is None
    if not os.path.exists("/dev/kvm"):
        assert facts["virt_type"] == "qemu"
    with open("/run/smbvdc/virt-probe.json") as handle:
        probe = json.load(handle)
    assert probe["virt_type"] == facts["virt_type"], probe


def test_dev_kvm_belongs_to_the_kvm_group(converged, conn):
    """Without udev /dev/kvm stays 0600 root:root; libvirtd then finds KVM
    unusable for its qemu user and re-probes QEMU on every capability lookup
    (56-70 s per define here). The role gives the node to group kvm, and the
    capability cache must then stay valid across lookups."""
    if not os.path.exists("/dev/kvm"):
        pytest.fail("no /dev/kvm on this machine: the check needs it (our build machines have one)")
    st = os.stat("/dev/kvm")
    assert grp.getgrgid(st.st_gid).gr_name == "kvm" and st.st_mode & 0o060 == 0o060, oct(st.st_mode)
    assert re.search(r"TASK \[[^]]*Give /dev/kvm to the kvm group[^]]*\][^\n]*\n(\S[^\n]*\n)*?changed: \[%s\]" % HOST,
                     converged["first_output"]), "the first run did not change the 0600 root:root /dev/kvm"
    conn.getDomainCapabilities(None, "x86_64", None, "qemu", 0)  # settles the cache after the change
    before = caps_cache_mtimes()
    for _ in range(3):
        conn.getDomainCapabilities(None, "x86_64", None, "qemu", 0)
        conn.getCapabilities()
    assert before and caps_cache_mtimes() == before, "libvirtd re-probed QEMU: its capability cache was rewritten"
