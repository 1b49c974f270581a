"""Domain XML, NoCloud seed and pending-change logic of the vm role."""

import copy
import xml.etree.ElementTree as ET

import pytest
import yaml

from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import model, vmconfig
from ansible_collections.smbvdc.datacenter.plugins.plugin_utils.errors import ModelError

import branch_fixtures

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPq7lXb2u6Jm3d2b1yq0l8c2aXyM5P6oJcYt6cYk1m8Z smbvdc@controller"
NS = "{%s}" % vmconfig.XMLNS


@pytest.fixture(scope="module")
def lab_model():
    branch, inv = branch_fixtures.lab()
    return model.build_model(branch, inv)


@pytest.fixture
def vm(lab_model):
    return copy.deepcopy(lab_model["vms"]["ns1"])


@pytest.fixture
def net(lab_model):
    return copy.deepcopy(lab_model["networks"]["lan"])


def host(virt_type="qemu", tb=128, **kw):
    h = {"virt_type": virt_type, "kernel": "/var/lib/smbvdc/images/vmlinuz", "initrd": "/var/lib/smbvdc/images/initrd.img",
         "pool_path": "/var/lib/smbvdc/images", "tcg_tb_cache_mb": tb}
    h.update(kw)
    return h


def parse(xml):
    return ET.fromstring(xml)


# --- domain XML ---------------------------------------------------------------

def test_domain_xml_is_valid_and_carries_the_model(vm, net):
    root = parse(vmconfig.domain_xml(vm, net, host(), {"branch": "lab"}))
    assert root.tag == "domain" and root.get("type") == "qemu"
    assert root.findtext("name") == "ns1"
    assert root.findtext("title") == "ns1.lab.smbvdc.test"
    assert root.find("memory").get("unit") == "MiB" and int(root.findtext("memory")) == 512
    assert int(root.findtext("currentMemory")) == 512
    assert int(root.findtext("vcpu")) == 1
    meta = root.find("./metadata/%svm" % NS)
    assert meta.findtext(NS + "branch") == "lab"
    assert meta.findtext(NS + "ipv4") == vm["ipv4"]
    assert meta.findtext(NS + "groups") == "dns_primary"


def test_parse_reads_back_what_domain_xml_writes(vm, net):
    info = vmconfig.parse_domain_xml(vmconfig.domain_xml(vm, net, host(), {"branch": "lab"}))
    assert info["title"] == "ns1.lab.smbvdc.test"
    assert info["metadata"] == {"branch": "lab", "name": "ns1", "fqdn": "ns1.lab.smbvdc.test", "network": "lan",
                                "ipv4": vm["ipv4"], "ipv6": vm["ipv6"], "groups": "dns_primary"}
    assert info["tb_cache_mb"] == 128 and info["smbvdc"] is True


def test_memory_and_vcpus_follow_the_vm(vm, net):
    vm.update(memory_mb=384, vcpus=2)
    info = vmconfig.parse_domain_xml(vmconfig.domain_xml(vm, net, host()))
    assert (info["memory_mb"], info["current_memory_mb"], info["vcpus"]) == (384, 384, 2)


def test_direct_kernel_boot(vm, net):
    root = parse(vmconfig.domain_xml(vm, net, host(), {"cmdline_extra": "quiet"}))
    assert root.findtext("./os/kernel") == "/var/lib/smbvdc/images/vmlinuz"
    assert root.findtext("./os/initrd") == "/var/lib/smbvdc/images/initrd.img"
    cmdline = root.findtext("./os/cmdline")
    assert "root=LABEL=root" in cmdline.split() and "console=ttyS0,115200n8" in cmdline and cmdline.endswith(" quiet")
    assert root.find("./os/type").get("machine") == "pc"


def test_cmdline_from_the_kvm_host(vm, net):
    root = parse(vmconfig.domain_xml(vm, net, host(), {"cmdline": "root=LABEL=root ro console=ttyS0,115200",
                                                       "cmdline_extra": "quiet"}))
    assert root.findtext("./os/cmdline") == "root=LABEL=root ro console=ttyS0,115200 quiet"
    with pytest.raises(ModelError) as exc:
        vmconfig.domain_xml(vm, net, host(), {"cmdline": "ro console=ttyS0"})
    assert exc.value.variables == ["kvm_host_kernel_cmdline"]


def test_tb_cache_only_under_emulation(vm, net):
    root = parse(vmconfig.domain_xml(vm, net, host("qemu", 128)))
    tb = root.find("./features/tcg/tb-cache")
    assert tb is not None and tb.text == "128" and tb.get("unit") == "MiB"
    assert root.find("cpu") is None  # QEMU's default model under TCG
    root = parse(vmconfig.domain_xml(vm, net, host("kvm", None)))
    assert root.get("type") == "kvm" and root.find("./features/tcg") is None
    assert root.find("cpu").get("mode") == "host-passthrough"
    # a stray tb-cache fact on a kvm host is ignored, not written (libvirt rejects tcg features under kvm)
    root = parse(vmconfig.domain_xml(vm, net, host("kvm", 128)))
    assert root.find("./features/tcg") is None
    # emulation without a cache size: QEMU's default
    root = parse(vmconfig.domain_xml(vm, net, host("qemu", None)))
    assert root.find("./features/tcg") is None


def test_disks_linked_clone_and_read_only_virtio_seed(vm, net):
    info = vmconfig.parse_domain_xml(vmconfig.domain_xml(vm, net, host()))
    system, seed_disk = info["disks"]
    assert system == {"device": "disk", "file": "/var/lib/smbvdc/images/ns1.qcow2", "target": "vda", "bus": "virtio",
                      "format": "qcow2", "readonly": False, "serial": None}
    assert seed_disk == {"device": "disk", "file": "/var/lib/smbvdc/images/ns1-seed.iso", "target": "vdb",
                         "bus": "virtio", "format": "raw", "readonly": True, "serial": "cidata"}


def test_data_disks_follow_the_seed_with_serials_and_their_own_targets(vm, net):
    vm["data_disks"] = [{"name": "vtapes", "size_gb": 8}, {"name": "drbd0", "size_gb": 2}]
    xml = vmconfig.domain_xml(vm, net, host(), {"name_prefix": "lab-"})
    info = vmconfig.parse_domain_xml(xml)
    assert [(d["target"], d["file"], d["serial"], d["format"], d["readonly"]) for d in info["disks"]] == [
        ("vda", "/var/lib/smbvdc/images/lab-ns1.qcow2", None, "qcow2", False),
        ("vdb", "/var/lib/smbvdc/images/lab-ns1-seed.iso", "cidata", "raw", True),
        ("vdc", "/var/lib/smbvdc/images/lab-ns1-vtapes.qcow2", "smbvdc-vtapes", "qcow2", False),
        ("vdd", "/var/lib/smbvdc/images/lab-ns1-drbd0.qcow2", "smbvdc-drbd0", "qcow2", False)]
    assert len({d["target"] for d in info["disks"]}) == len(info["disks"])
    assert info["metadata"]["data_disks"] == "vtapes,drbd0"
    assert vmconfig.disk_paths(vm, host(), {"name_prefix": "lab-"})["data"][0] == {
        "name": "vtapes", "path": "/var/lib/smbvdc/images/lab-ns1-vtapes.qcow2", "size_gb": 8, "target": "vdc",
        "serial": "smbvdc-vtapes"}
    # a VM without data disks keeps its definition as it was (no empty metadata key)
    vm["data_disks"] = []
    assert "data_disks" not in vmconfig.parse_domain_xml(vmconfig.domain_xml(vm, net, host()))["metadata"]


def test_target_devs_count_like_libvirt():
    assert [vmconfig.target_dev(i) for i in (0, 1, 2, 25, 26, 27, 51, 52)] == [
        "vda", "vdb", "vdc", "vdz", "vdaa", "vdab", "vdaz", "vdba"]


@pytest.mark.parametrize("disks, variable", [
    ([{"name": "Vtapes", "size_gb": 8}], "smbvdc_model.vms['ns1'].data_disks[0].name"),
    ([{"name": "vtapes", "size_gb": 0}], "smbvdc_model.vms['ns1'].data_disks[0].size_gb"),
    ([{"name": "a", "size_gb": 1}, {"name": "a", "size_gb": 1}], "smbvdc_model.vms['ns1'].data_disks[1].name"),
    (["vtapes"], "smbvdc_model.vms['ns1'].data_disks[0]"),
])
def test_bad_data_disks_are_named(vm, net, disks, variable):
    vm["data_disks"] = disks
    with pytest.raises(ModelError) as exc:
        vmconfig.domain_xml(vm, net, host())
    assert exc.value.variables == [variable]


def test_paths_and_prefix_options(vm, net):
    xml = vmconfig.domain_xml(vm, net, host(pool_path="/srv/pool/"), {"name_prefix": "lab-", "network_prefix": "x-"})
    info = vmconfig.parse_domain_xml(xml)
    assert info["name"] == "lab-ns1"
    assert [d["file"] for d in info["disks"]] == ["/srv/pool/lab-ns1.qcow2", "/srv/pool/lab-ns1-seed.iso"]
    assert info["interfaces"][0]["network"] == "x-lan"
    xml = vmconfig.domain_xml(vm, net, host(), {"disk_path": "/d/a.qcow2", "seed_path": "/d/a.iso", "console_log_dir": ""})
    info = vmconfig.parse_domain_xml(xml)
    assert [d["file"] for d in info["disks"]] == ["/d/a.qcow2", "/d/a.iso"]
    assert parse(xml).find("./devices/serial/log") is None


def test_nat_network_source(vm, net):
    (iface,) = vmconfig.parse_domain_xml(vmconfig.domain_xml(vm, net, host()))["interfaces"]
    assert iface["type"] == "network" and iface["network"] == "smbvdc-lan" and iface["bridge"] is None
    assert iface["model"] == "virtio"
    assert iface["mac"] == vmconfig.mac_address("ns1")


def test_bridge_network_source(vm, net):
    net.update(mode="bridge", bridge="br-lan0")
    (iface,) = vmconfig.parse_domain_xml(vmconfig.domain_xml(vm, net, host()))["interfaces"]
    assert iface["type"] == "bridge" and iface["bridge"] == "br-lan0" and iface["network"] is None


def test_mac_is_stable_local_and_differs_per_vm_and_branch():
    mac = vmconfig.mac_address("ns1", "lab")
    assert mac == vmconfig.mac_address("ns1", "lab")
    assert mac.startswith("52:54:00:") and len(mac) == 17
    assert mac != vmconfig.mac_address("ns2", "lab")
    assert mac != vmconfig.mac_address("ns1", "other")


def test_xml_is_deterministic(vm, net):
    assert vmconfig.domain_xml(vm, net, host()) == vmconfig.domain_xml(copy.deepcopy(vm), copy.deepcopy(net), host())


def test_console_log_serial_rng_balloon_and_no_usb(vm, net):
    root = parse(vmconfig.domain_xml(vm, net, host()))
    assert root.find("./devices/serial/log").get("file") == "/var/log/libvirt/qemu/ns1-console.log"
    assert root.find("./devices/rng/backend").text == "/dev/urandom"
    assert root.find("./devices/memballoon").get("model") == "virtio"
    assert root.find("./devices/controller[@type='usb']").get("model") == "none"
    assert root.find("./features/acpi") is not None  # graceful shutdown needs ACPI


@pytest.mark.parametrize("changes,variable", [
    ({"memory_mb": "lots"}, "smbvdc_model.vms['ns1'].memory_mb"),
    ({"memory_mb": 64}, "smbvdc_model.vms['ns1'].memory_mb"),
    ({"vcpus": 0}, "smbvdc_model.vms['ns1'].vcpus"),
    ({"network": None}, "smbvdc_model.vms['ns1'].network"),
    ({"name": "Bad_Name"}, "smbvdc_model.vms['Bad_Name'].name"),
])
def test_bad_vm_names_the_variable(vm, net, changes, variable):
    vm.update(changes)
    with pytest.raises(ModelError) as exc:
        vmconfig.domain_xml(vm, net, host())
    assert variable in exc.value.variables
    assert variable in str(exc.value) and "Fix:" in str(exc.value)


@pytest.mark.parametrize("changes,variable", [
    ({"virt_type": "xen"}, "kvm_host_virt_type"),
    ({"virt_type": None}, "kvm_host_virt_type"),
    ({"kernel": None}, "kvm_host_kernel"),
    ({"initrd": "relative/initrd"}, "kvm_host_initrd"),
    ({"pool_path": ""}, "kvm_host_pool_path"),
    ({"tcg_tb_cache_mb": "big"}, "kvm_host_tcg_tb_cache_mb"),
])
def test_bad_host_facts_name_the_variable(vm, net, changes, variable):
    with pytest.raises(ModelError) as exc:
        vmconfig.domain_xml(vm, net, host(**changes))
    assert variable in exc.value.variables
    assert "kvm_host role" in str(exc.value)


def test_all_problems_reported_together(vm, net):
    vm.update(memory_mb=0, vcpus="x")
    with pytest.raises(ModelError) as exc:
        vmconfig.domain_xml(vm, net, host(virt_type="xen", kernel=None))
    assert set(exc.value.variables) >= {"smbvdc_model.vms['ns1'].memory_mb", "smbvdc_model.vms['ns1'].vcpus",
                                        "kvm_host_virt_type", "kvm_host_kernel"}


def test_wrong_network_and_unknown_option(vm, net):
    other = dict(net, name="dmz")
    with pytest.raises(ModelError) as exc:
        vmconfig.domain_xml(vm, other, host())
    assert "smbvdc_model.networks['dmz']" in exc.value.variables
    with pytest.raises(ModelError) as exc:
        vmconfig.domain_xml(vm, net, host(), {"machin": "q35"})
    assert "options.machin" in exc.value.variables
    with pytest.raises(ModelError) as exc:
        vmconfig.domain_xml("ns1", net, host())
    assert "vm" in exc.value.variables
    with pytest.raises(ModelError) as exc:
        vmconfig.domain_xml(vm, None, host())
    assert "network" in exc.value.variables
    with pytest.raises(ModelError) as exc:
        vmconfig.domain_xml(vm, net, "qemu")
    assert "host" in exc.value.variables


def test_bad_name_prefix(vm, net):
    with pytest.raises(ModelError) as exc:
        vmconfig.domain_xml(vm, net, host(), {"name_prefix": "a b/"})
    assert exc.value.variables == ["vm_role_domain_name_prefix"]


# --- seed -----------------------------------------------------------------------

def seed_of(vm, net, key=KEY, **options):
    out = vmconfig.seed(vm, net, key, dict({"branch": "lab"}, **options))
    assert set(out) == {"user-data", "meta-data", "network-config"}
    return out


def test_user_data_is_cloud_config_with_hostname_fqdn_and_key(vm, net):
    out = seed_of(vm, net)
    assert out["user-data"].startswith("#cloud-config\n")
    ud = yaml.safe_load(out["user-data"])
    assert ud["hostname"] == "ns1" and ud["fqdn"] == "ns1.lab.smbvdc.test"
    assert ud["manage_etc_hosts"] == "localhost" and ud["locale"] == "C.UTF-8"
    assert ud["ssh_authorized_keys"] == [KEY]
    assert ud["disable_root"] is False and ud["users"] == []
    assert ud["ssh_pwauth"] is False
    assert ud["ssh_genkeytypes"] == ["ed25519"] and ud["ssh_deletekeys"] is True
    assert ud["apt"] == {"preserve_sources_list": True}  # no proxy key without a proxy
    assert "proxy" not in out["user-data"]


def test_user_data_notes_machine_id_and_host_keys(vm, net):
    text = seed_of(vm, net)["user-data"]
    assert "/etc/machine-id is empty" in text
    assert "only ed25519" in text and "first boot" in text


def test_ipv6_static_only_drop_in(vm, net):
    ud = yaml.safe_load(seed_of(vm, net)["user-data"])
    (drop_in,) = ud["write_files"]
    assert drop_in["path"] == "/etc/systemd/network/10-cloud-init-eth0.network.d/10-smbvdc-no-ra.conf"
    assert "IPv6AcceptRA=no" in drop_in["content"]
    assert "networkctl reconfigure eth0" in ud["runcmd"][0][-1]
    ud = yaml.safe_load(seed_of(vm, net, ipv6_accept_ra=True)["user-data"])
    assert "write_files" not in ud


def test_timezone_only_when_set(vm, net):
    assert "timezone" not in yaml.safe_load(seed_of(vm, net)["user-data"])
    assert yaml.safe_load(seed_of(vm, net, timezone="Europe/Vienna")["user-data"])["timezone"] == "Europe/Vienna"


def test_apt_proxy_present(vm, net):
    ud = yaml.safe_load(seed_of(vm, net, apt_proxy="http://10.77.10.1:3142")["user-data"])
    assert ud["apt"]["proxy"] == "http://10.77.10.1:3142" and ud["apt"]["preserve_sources_list"] is True


def test_admin_user_instead_of_root(vm, net):
    ud = yaml.safe_load(seed_of(vm, net, admin_user="admin")["user-data"])
    (user,) = ud["users"]
    assert user["name"] == "admin" and user["ssh_authorized_keys"] == [KEY]
    assert user["sudo"] == "ALL=(ALL) NOPASSWD:ALL" and user["lock_passwd"] is True
    assert ud["disable_root"] is True and "ssh_authorized_keys" not in ud


def test_several_keys(vm, net):
    key2 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBBBB second"
    ud = yaml.safe_load(seed_of(vm, net, key=[KEY, key2, ""])["user-data"])
    assert ud["ssh_authorized_keys"] == [KEY, key2]


def test_meta_data_stable_instance_id(vm, net):
    md = yaml.safe_load(seed_of(vm, net)["meta-data"])
    assert md == {"instance-id": "iid-smbvdc-lab-ns1", "local-hostname": "ns1"}
    assert yaml.safe_load(vmconfig.seed(vm, net, KEY)["meta-data"])["instance-id"] == "iid-smbvdc-ns1"


def test_network_config_static_ipv4_ipv6_gateways_dns(vm, net):
    nc = yaml.safe_load(seed_of(vm, net)["network-config"])
    assert nc["version"] == 2
    eth = nc["ethernets"]["eth0"]
    assert eth["match"] == {"macaddress": vmconfig.mac_address("ns1", "lab")}
    assert eth["set-name"] == "eth0"
    assert eth["dhcp4"] is False and eth["dhcp6"] is False
    assert eth["addresses"] == ["%s/24" % vm["ipv4"], "%s/64" % vm["ipv6"]]
    assert eth["gateway4"] == "10.77.10.1" and eth["gateway6"] == "fd00:77:10::1"
    assert "routes" not in eth  # cloud-init 22.4 mis-renders ::/0 routes for networkd
    assert eth["nameservers"] == {"addresses": ["10.77.10.1"], "search": ["lab.smbvdc.test"]}


def test_seed_mac_matches_domain_mac(vm, net):
    nc = yaml.safe_load(seed_of(vm, net)["network-config"])
    (iface,) = vmconfig.parse_domain_xml(vmconfig.domain_xml(vm, net, host(), {"branch": "lab"}))["interfaces"]
    assert nc["ethernets"]["eth0"]["match"]["macaddress"] == iface["mac"]


def test_network_config_ipv4_only(vm, net):
    vm["ipv6"] = None
    net.update(ipv6=None, gateway6=None, prefix6=None)
    eth = yaml.safe_load(seed_of(vm, net)["network-config"])["ethernets"]["eth0"]
    assert eth["addresses"] == ["%s/24" % vm["ipv4"]]
    assert eth["gateway4"] == "10.77.10.1" and "gateway6" not in eth
    ud = yaml.safe_load(seed_of(vm, net)["user-data"])
    assert "write_files" not in ud and "runcmd" not in ud  # no IPv6, no RA drop-in


def test_dns_overrides(vm, net):
    eth = yaml.safe_load(seed_of(vm, net, dns_servers="192.0.2.53, 2001:db8::53", dns_search=["a.example", "b.example"])
                         ["network-config"])["ethernets"]["eth0"]
    assert eth["nameservers"] == {"addresses": ["192.0.2.53", "2001:db8::53"], "search": ["a.example", "b.example"]}


@pytest.mark.parametrize("key,options,variable", [
    ("", {}, "vm_role_ssh_public_key"),
    (None, {}, "vm_role_ssh_public_key"),
    ("-----BEGIN OPENSSH PRIVATE KEY-----", {}, "vm_role_ssh_public_key"),
    (KEY, {"apt_proxy": "apt-cacher:3142"}, "vm_role_apt_proxy"),
    (KEY, {"admin_user": "Admin User"}, "vm_role_admin_user"),
    (KEY, {"dns_servers": ["not-an-ip"]}, "vm_role_dns_servers[0]"),
    (KEY, {"dns_serverz": []}, "options.dns_serverz"),
])
def test_bad_seed_input_names_the_variable(vm, net, key, options, variable):
    with pytest.raises(ModelError) as exc:
        vmconfig.seed(vm, net, key, options)
    assert variable in exc.value.variables


def test_private_key_is_not_echoed(vm, net):
    secret = "-----BEGIN OPENSSH PRIVATE KEY-----b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW"
    with pytest.raises(ModelError) as exc:
        vmconfig.seed(vm, net, secret)
    assert secret not in str(exc.value)


@pytest.mark.parametrize("changes,variable", [
    ({"ipv4": None}, "smbvdc_model.vms['ns1'].ipv4"),
    ({"ipv4": "10.77.10.300"}, "smbvdc_model.vms['ns1'].ipv4"),
    ({"ipv4": "fd00::5"}, "smbvdc_model.vms['ns1'].ipv4"),
    ({"ipv6": "10.0.0.1"}, "smbvdc_model.vms['ns1'].ipv6"),
])
def test_bad_addresses_name_the_variable(vm, net, changes, variable):
    vm.update(changes)
    with pytest.raises(ModelError) as exc:
        vmconfig.seed(vm, net, KEY)
    assert variable in exc.value.variables


def test_bad_network_gateway(vm, net):
    net["gateway4"] = "fd00::1"
    with pytest.raises(ModelError) as exc:
        vmconfig.seed(vm, net, KEY)
    assert "smbvdc_model.networks['lan'].gateway4" in exc.value.variables


def test_parse_domain_xml_units_and_errors():
    xml = ("<domain type='kvm'><name>a</name><memory unit='KiB'>524288</memory>"
           "<currentMemory unit='KiB'>262144</currentMemory><vcpu current='1'>2</vcpu></domain>")
    info = vmconfig.parse_domain_xml(xml)
    assert (info["memory_mb"], info["current_memory_mb"], info["vcpus"], info["vcpus_current"]) == (512, 256, 2, 1)
    assert info["smbvdc"] is False and info["tb_cache_mb"] is None
    with pytest.raises(ModelError):
        vmconfig.parse_domain_xml("<domain")
