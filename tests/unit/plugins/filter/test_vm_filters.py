"""The vm role's filters: thin wrappers that turn model errors into AnsibleFilterError."""

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.smbvdc.datacenter.plugins.filter import vm_domain_info, vm_domain_xml, vm_host_plan, vm_seed
from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import model

import branch_fixtures

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPq7lXb2u6Jm3d2b1yq0l8c2aXyM5P6oJcYt6cYk1m8Z smbvdc"
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
HOST = {"virt_type": "qemu", "kernel": "/i/vmlinuz", "initrd": "/i/initrd.img", "pool_path": "/i",
        "tcg_tb_cache_mb": 128}


@pytest.fixture(scope="module")
def lab():
    branch, inv = branch_fixtures.lab()
    return model.build_model(branch, inv)


def test_filters_are_registered():
    assert vm_domain_xml.FilterModule().filters()["vm_domain_xml"] is vm_domain_xml.vm_domain_xml
    assert vm_seed.FilterModule().filters()["vm_seed"] is vm_seed.vm_seed
    assert vm_host_plan.FilterModule().filters()["vm_host_plan"] is vm_host_plan.vm_host_plan
    assert vm_domain_info.FilterModule().filters()["vm_domain_info"] is vm_domain_info.vm_domain_info


@pytest.mark.parametrize("module", [vm_domain_xml, vm_seed, vm_host_plan, vm_domain_info])
def test_documentation_parses(module):
    for part in (module.DOCUMENTATION, module.EXAMPLES, module.RETURN):
        assert yaml.safe_load(part)
    doc = yaml.safe_load(module.DOCUMENTATION)
    assert doc["name"] == module.__name__.rsplit(".", 1)[-1]


def test_domain_xml_filter(lab):
    vm = lab["vms"]["mail1"]
    root = ET.fromstring(vm_domain_xml.vm_domain_xml(vm, lab["networks"][vm["network"]], HOST, {"branch": lab["name"]}))
    assert root.findtext("name") == "mail1" and root.findtext("vcpu") == "2" and root.get("type") == "qemu"


def test_domain_xml_filter_error_names_variable(lab):
    vm = lab["vms"]["mail1"]
    with pytest.raises(AnsibleFilterError) as exc:
        vm_domain_xml.vm_domain_xml(vm, lab["networks"][vm["network"]], dict(HOST, virt_type="lxc"))
    assert "smbvdc.datacenter.vm_domain_xml" in str(exc.value) and "kvm_host_virt_type" in str(exc.value)


LIVE_XML = """<domain type='qemu' id='3'>
  <name>ns1</name>
  <memory unit='KiB'>262144</memory>
  <currentMemory unit='KiB'>262144</currentMemory>
  <vcpu placement='static'>1</vcpu>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2' discard='unmap'/>
      <source file='/p/ns1.qcow2' index='2'/>
      <backingStore type='file' index='3'>
        <format type='qcow2'/>
        <source file='/b/disk.qcow2'/>
        <backingStore/>
      </backingStore>
      <target dev='vda' bus='virtio'/>
    </disk>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='/p/ns1-seed.iso' index='1'/>
      <backingStore/>
      <target dev='vdb' bus='virtio'/>
      <readonly/>
    </disk>
  </devices>
</domain>"""


def test_domain_info_filter_reads_live_xml():
    info = vm_domain_info.vm_domain_info(LIVE_XML)
    assert [(d["target"], d["file"], d["readonly"]) for d in info["disks"]] == [
        ("vda", "/p/ns1.qcow2", False), ("vdb", "/p/ns1-seed.iso", True)]
    assert info["memory_mb"] == 256 and info["smbvdc"] is False
    with pytest.raises(AnsibleFilterError) as exc:
        vm_domain_info.vm_domain_info("<domain>")
    assert "smbvdc.datacenter.vm_domain_info" in str(exc.value)


def test_seed_filter(lab):
    vm = lab["vms"]["web1"]
    out = vm_seed.vm_seed(vm, lab["networks"][vm["network"]], KEY, {"apt_proxy": "http://proxy:3142"})
    ud = yaml.safe_load(out["user-data"])
    assert ud["hostname"] == "web1" and ud["apt"]["proxy"] == "http://proxy:3142"
    assert yaml.safe_load(out["network-config"])["ethernets"]["eth0"]["addresses"][0] == vm["ipv4"] + "/24"


def test_seed_filter_error_names_variable(lab):
    vm = lab["vms"]["web1"]
    with pytest.raises(AnsibleFilterError) as exc:
        vm_seed.vm_seed(vm, lab["networks"][vm["network"]], "")
    assert "vm_role_ssh_public_key" in str(exc.value)


def test_host_plan_filter(lab):
    facts = dict(HOST, base_image="/i/disk.qcow2", apt_proxy_urls={"lan": "http://10.0.0.1:3142"})
    host = sorted(lab["kvm_hosts"])[0]
    plan = vm_host_plan.vm_host_plan(lab, host, facts, {"ssh_public_keys": [KEY]})
    assert plan["names"] == sorted(lab["kvm_hosts"][host]["vms"]) and plan["build"] == plan["names"]
    for name in plan["names"]:
        dom = plan["domains"][name]
        info = vm_domain_info.vm_domain_info(dom["xml"])
        assert info["memory_mb"] == lab["vms"][name]["memory_mb"]  # the memory trip ends here
        assert dom["disk"] == {"path": "/i/%s.qcow2" % name, "base": "/i/disk.qcow2",
                               "size_gb": lab["vms"][name]["disk_gb"]}
        assert dom["data_disks"] == [] and len(info["disks"]) == 2
        assert plan["ready"][name]["ansible_host"] == lab["vms"][name]["ipv4"]
    assert len(plan["seed_files"]) == 3 * len(plan["names"])
    with pytest.raises(AnsibleFilterError) as exc:
        vm_host_plan.vm_host_plan(lab, host, dict(facts, virt_type="xen"), {})
    assert "kvm_host_virt_type" in str(exc.value) and "Fix:" in str(exc.value)
    with pytest.raises(AnsibleFilterError) as exc:
        vm_host_plan.vm_host_plan({"vms": {}}, host, facts)
    assert "smbvdc.datacenter.vm_host_plan: input must be the branch model" in str(exc.value)


def test_host_plan_hands_the_data_disks_to_the_module():
    branch, inv = branch_fixtures.lab()
    inv["hostvars"]["web1"]["vm_data_disks"] = [{"name": "vtapes", "size_gb": 8}, {"name": "drbd0", "size_gb": 2}]
    m = model.build_model(branch, inv)
    facts = dict(HOST, base_image="/i/disk.qcow2")
    plan = vm_host_plan.vm_host_plan(m, "kvm1", facts, {"ssh_public_keys": [KEY], "name_prefix": "lab-"})
    dom = plan["domains"]["web1"]
    assert dom["data_disks"] == [{"path": "/i/lab-web1-vtapes.qcow2", "size_gb": 8},
                                 {"path": "/i/lab-web1-drbd0.qcow2", "size_gb": 2}]
    # the module's data_disks are the disks of the definition it defines
    disks = vm_domain_info.vm_domain_info(dom["xml"])["disks"]
    assert [d["file"] for d in disks[2:]] == [d["path"] for d in dom["data_disks"]]
    assert [d["serial"] for d in disks[2:]] == ["smbvdc-vtapes", "smbvdc-drbd0"]
    assert plan["domains"]["ns1"]["data_disks"] == []
    # a VM to undefine has none to hand over
    inv["hostvars"]["web1"]["vm_state"] = "undefined"
    plan = vm_host_plan.vm_host_plan(model.build_model(branch, inv), "kvm1", facts, {"ssh_public_keys": [KEY]})
    assert plan["domains"]["web1"]["data_disks"] == [] and plan["domains"]["web1"]["xml"] is None


def test_filters_through_ansible(lab, tmp_path):
    """The FQCN filters resolve from the collection path (ansible.cfg) and run in a real template."""
    vm = lab["vms"]["ns2"]
    variables = tmp_path / "vars.json"
    variables.write_text(json.dumps({"vm": vm, "net": lab["networks"][vm["network"]], "h": HOST, "key": KEY}))
    expr = ("{{ (vm | smbvdc.datacenter.vm_domain_xml(net, h) | length > 0) and "
            "(vm | smbvdc.datacenter.vm_seed(net, key))['meta-data'] is search('local-hostname: ns2') and "
            "(vm | smbvdc.datacenter.vm_domain_xml(net, h) | smbvdc.datacenter.vm_domain_info).memory_mb == vm.memory_mb }}")
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_STDOUT_CALLBACK="json",
               ANSIBLE_LOAD_CALLBACK_PLUGINS="1")
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible"), "localhost", "-c", "local",
                           "-i", "localhost,", "-m", "ansible.builtin.debug", "-a", "msg=" + expr,
                           "-e", "@%s" % variables], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]
    assert result["msg"] is True
