# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smbvdc.datacenter developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What one VM looks like to libvirt and to cloud-init.

Pure functions from one VM of the branch model (``smbvdc_model.vms[name]``),
its network (``smbvdc_model.networks[vm.network]``) and the facts of the KVM
host it is placed on (set by the ``kvm_host`` role):

* :func:`domain_xml` - the libvirt domain definition (direct kernel boot,
  linked-clone system disk, read-only NoCloud seed disk, the data disks of
  ``vm_data_disks``, one virtio NIC);
* :func:`seed` - the NoCloud seed: ``user-data``, ``meta-data`` and
  ``network-config`` (version 2) with the static addresses of the ip plan;
* :func:`parse_domain_xml` - the few values of a domain XML the role and the
  tests compare.

Bad input raises :class:`~.errors.ModelError` listing every problem, each
naming the variable the value came from.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import xml.etree.ElementTree as ET

import yaml

from ansible_collections.smbvdc.datacenter.plugins.module_utils import domain_xml as xml_reader

from . import names
from . import schema
from .errors import Collector, ModelError, Problem

# The kvm_host role's facts; host[key] comes from the variable named here.
HOST_VARIABLES = {
    "virt_type": "kvm_host_virt_type",
    "kernel": "kvm_host_kernel",
    "initrd": "kvm_host_initrd",
    "pool_path": "kvm_host_pool_path",
    "tcg_tb_cache_mb": "kvm_host_tcg_tb_cache_mb",
}
VIRT_TYPES = ("kvm", "qemu")
NETWORK_MODES = ("nat", "isolated", "bridge")
XMLNS = xml_reader.XMLNS
LABEL_RE = names.LABEL_RE
DOMAIN_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$")
KEY_RE = re.compile(r"^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com|"
                    r"sk-ecdsa-sha2-nistp256@openssh\.com) [A-Za-z0-9+/=]+( [^\n]*)?$")
USER_RE = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
PROXY_RE = re.compile(r"^https?://[^\s\"']+$")

DOMAIN_DEFAULTS = {
    # Prefix of the libvirt domain name ("" = the inventory name).
    "name_prefix": "",
    # libvirt network names for nat/isolated networks: <prefix><network>.
    "network_prefix": "smbvdc-",
    # QEMU machine type; "pc" (i440fx) has the fewest emulated devices.
    "machine": "pc",
    "arch": "x86_64",
    # Kernel command line: root by label (the base image's ext4 is labelled
    # "root"), serial console, and whatever cmdline_extra adds.
    "root": "LABEL=root",
    # The whole base command line instead (the kvm_host role publishes its
    # own as kvm_host_kernel_cmdline); must still name the root file system.
    "cmdline": None,
    "cmdline_extra": "",
    # CPU model under kvm (ignored under emulation, where QEMU's default model runs).
    "cpu_mode": "host-passthrough",
    # Where the system disk and the seed live; default <pool_path>/<domain>.qcow2
    # and <pool_path>/<domain>-seed.iso.
    "disk_path": None,
    "seed_path": None,
    # Serial console copied to this file by virtlogd ("" = no log file).
    "console_log_dir": "/var/log/libvirt/qemu",
    # Written into <metadata> so tools can tell our domains from others.
    "branch": "",
}

SEED_DEFAULTS = {
    # root logs in with the key (PermitRootLogin prohibit-password); another
    # name creates that user with passwordless sudo and leaves root locked.
    "admin_user": "root",
    # apt proxy URL written by cloud-init ("" = none).
    "apt_proxy": "",
    # Name servers; default: the network's IPv4 gateway (libvirt's dnsmasq on
    # nat/isolated networks, the router on bridged ones).
    "dns_servers": None,
    # Search domains; default: the VM's domain (its fqdn minus the host name).
    "dns_search": None,
    # Time zone ("" = the image's, UTC; a zone needs tzdata in the image).
    "timezone": "",
    "locale": "C.UTF-8",
    "interface": "eth0",
    # Take IPv6 addresses and routes from router advertisements too (false:
    # only the static address of the ip plan, so outgoing mail and logs carry
    # the address DNS and SPF name).
    "ipv6_accept_ra": False,
    "branch": "",
}


def _problems_or_raise(problems, title):
    if problems.problems:
        raise ModelError(problems.problems, title=title)


def _int(value, variable, problems, minimum=1):
    if isinstance(value, bool):
        value = None
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        problems.add(variable, "must be an integer >= %d, got %r." % (minimum, value),
                     "check the branch model (docs/branch-model.md).")
        return None
    if number < minimum:
        problems.add(variable, "must be an integer >= %d, got %r." % (minimum, value),
                     "check the branch model (docs/branch-model.md).")
        return None
    return number


def _vm_var(vm, key):
    name = vm.get("name") if isinstance(vm, dict) else None
    return "smbvdc_model.vms['%s'].%s" % (name or "?", key)


def _check_vm(vm, problems, keys=("name", "memory_mb", "vcpus", "network")):
    if not isinstance(vm, dict):
        problems.add("vm", "must be one VM of the branch model (smbvdc_model.vms[<name>]), got %r." % (type(vm).__name__,),
                     "pass e.g. smbvdc_model.vms['ns1'].")
        _problems_or_raise(problems, "the VM definition is not valid")
    name = vm.get("name")
    if not isinstance(name, str) or not LABEL_RE.match(name):
        problems.add(_vm_var(vm, "name"), "must be a DNS label, got %r." % (name,), "use the inventory host name of the VM.")
    out = {"name": name}
    if "memory_mb" in keys:
        out["memory_mb"] = _int(vm.get("memory_mb"), _vm_var(vm, "memory_mb"), problems, minimum=128)
    if "vcpus" in keys:
        out["vcpus"] = _int(vm.get("vcpus", 1), _vm_var(vm, "vcpus"), problems)
    if "network" in keys and not vm.get("network"):
        problems.add(_vm_var(vm, "network"), "is not set.", "set vm_network for the VM (docs/branch-model.md).")
    return out


def _check_data_disks(vm, problems):
    """``vm['data_disks']`` as the model normalises ``vm_data_disks``: ``[{name, size_gb}]``, names unique."""
    disks = vm.get("data_disks") if isinstance(vm, dict) else None
    if disks in (None, []):
        return
    if not isinstance(disks, (list, tuple)):
        problems.add(_vm_var(vm, "data_disks"), "must be a list of {name, size_gb}, got %r." % (disks,),
                     schema.VM["vm_data_disks"].fix)
        return
    seen = set()
    for i, d in enumerate(disks):
        var = "%s[%d]" % (_vm_var(vm, "data_disks"), i)
        if not isinstance(d, dict):
            problems.add(var, "must be a mapping {name, size_gb}, got %r." % (d,), schema.VM["vm_data_disks"].fix)
            continue
        name = schema.check(d.get("name"), schema.DATA_DISK["name"], var + ".name", problems)
        schema.check(d.get("size_gb"), schema.DATA_DISK["size_gb"], var + ".size_gb", problems)
        if name is not None and name in seen:
            problems.add(var + ".name", "'%s' is listed twice." % name, "give each data disk of the VM its own name.")
        seen.add(name)


def _check_network(vm, network, problems):
    if not isinstance(network, dict) or not network.get("name"):
        problems.add("network", "must be the VM's network of the branch model (smbvdc_model.networks[<name>]), got %r."
                     % (network,), "pass smbvdc_model.networks[vm.network].")
        return None
    var = "smbvdc_model.networks['%s']" % network["name"]
    if isinstance(vm, dict) and vm.get("network") and vm["network"] != network["name"]:
        problems.add(var, "is not the VM's network (%s is on %r)." % (vm.get("name"), vm["network"]),
                     "pass smbvdc_model.networks[vm.network].")
    mode = network.get("mode", "nat")
    if mode not in NETWORK_MODES:
        problems.add(var + ".mode", "must be one of %s, got %r." % (", ".join(NETWORK_MODES), mode), "see docs/branch-model.md.")
    return var


def mac_address(name, branch=""):
    """A stable locally administered MAC in QEMU's 52:54:00 range.

    Derived from the branch and VM name, so a redefinition keeps the MAC (the
    seed's network-config matches it) and two branches on one LAN differ.
    """
    digest = hashlib.sha256(("%s/%s" % (branch or "", name)).encode("utf-8")).digest()
    return "52:54:00:%02x:%02x:%02x" % (digest[0], digest[1], digest[2])


def domain_name(vm, options=None):
    opts = dict(DOMAIN_DEFAULTS, **(options or {}))
    return "%s%s" % (opts.get("name_prefix") or "", vm["name"])


def host_settings(host, problems=None):
    """Normalise the KVM host facts: {virt_type, kernel, initrd, pool_path, tcg_tb_cache_mb}."""
    own = problems is None
    if own:
        problems = Collector()
    if not isinstance(host, dict):
        problems.add("host", "must be a mapping of the kvm_host role's facts (%s), got %r."
                     % (", ".join(sorted(HOST_VARIABLES.values())), type(host).__name__),
                     "run the smbvdc.datacenter.kvm_host role on the KVM host first.")
        _problems_or_raise(problems, "the KVM host facts are not valid")
    out = {}
    virt_type = host.get("virt_type")
    if virt_type not in VIRT_TYPES:
        problems.add(HOST_VARIABLES["virt_type"], "must be 'kvm' or 'qemu', got %r." % (virt_type,),
                     "run the smbvdc.datacenter.kvm_host role first; it detects whether hardware virtualization is usable.")
    out["virt_type"] = virt_type
    for key in ("kernel", "initrd", "pool_path"):
        value = host.get(key)
        if not isinstance(value, str) or not value.startswith("/"):
            problems.add(HOST_VARIABLES[key], "must be an absolute path on the KVM host, got %r." % (value,),
                         "run the smbvdc.datacenter.kvm_host role first (it builds the base image and sets this fact).")
        out[key] = value.rstrip("/") if isinstance(value, str) and key == "pool_path" and value != "/" else value
    tb = host.get("tcg_tb_cache_mb")
    if tb in (None, "", "None", "null"):
        out["tcg_tb_cache_mb"] = None
    else:
        try:
            out["tcg_tb_cache_mb"] = int(str(tb).strip())
        except ValueError:
            out["tcg_tb_cache_mb"] = 0
        if out["tcg_tb_cache_mb"] < 1:
            problems.add(HOST_VARIABLES["tcg_tb_cache_mb"], "must be MiB >= 1 or null, got %r." % (tb,),
                         "let the smbvdc.datacenter.kvm_host role set it (128 under emulation, null under kvm).")
            out["tcg_tb_cache_mb"] = None
    if own:
        _problems_or_raise(problems, "the KVM host facts are not valid")
    return out


# Target devices: vda the system disk, vdb the seed, the data disks from vdc on.
FIRST_DATA_DISK = 2


def target_dev(index):
    """libvirt's virtio disk name of the ``index``-th disk (0: vda, 25: vdz, 26: vdaa)."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("a") + rest) + letters
    return "vd" + letters


def disk_paths(vm, host, options=None):
    """The system disk, the seed and the data disks of ``vm`` (``data``: ``[{name, path, size_gb, target, serial}]``)."""
    opts = dict(DOMAIN_DEFAULTS, **(options or {}))
    dom = domain_name(vm, opts)
    pool = (host or {}).get("pool_path") or ""
    return {
        "disk": opts.get("disk_path") or "%s/%s.qcow2" % (pool.rstrip("/"), dom),
        "seed": opts.get("seed_path") or "%s/%s-seed.iso" % (pool.rstrip("/"), dom),
        "data": [{"name": d["name"], "path": "%s/%s-%s.qcow2" % (pool.rstrip("/"), dom, d["name"]),
                  "size_gb": int(d["size_gb"]), "target": target_dev(FIRST_DATA_DISK + i),
                  "serial": xml_reader.DATA_DISK_SERIAL_PREFIX + d["name"]}
                 for i, d in enumerate(vm.get("data_disks") or [])],
    }


def _sub(parent, tag, text=None, **attrs):
    el = ET.SubElement(parent, tag, {k.rstrip("_"): str(v) for k, v in attrs.items() if v is not None})
    if text is not None:
        el.text = str(text)
    return el


def domain_xml(vm, network, host, options=None):
    """The libvirt domain XML of one VM.

    :param vm: a VM of the branch model (name, fqdn, memory_mb, vcpus, network, ...).
    :param network: its network of the branch model (name, mode, bridge, ...).
    :param host: the KVM host facts: virt_type ('kvm'|'qemu'), kernel, initrd,
        pool_path, tcg_tb_cache_mb (translation cache under emulation, or None).
    :param options: see ``DOMAIN_DEFAULTS``.
    :returns: the XML as a string.
    """
    problems = Collector()
    opts = dict(DOMAIN_DEFAULTS)
    for key, value in (options or {}).items():
        if key not in DOMAIN_DEFAULTS:
            problems.add("options.%s" % key, "is not a known domain option.", "use one of: %s." % ", ".join(sorted(DOMAIN_DEFAULTS)))
        elif value is not None:
            opts[key] = value
    v = _check_vm(vm, problems)
    _check_data_disks(vm, problems)
    _check_network(vm, network, problems)
    h = host_settings(host, problems)
    _problems_or_raise(problems, "cannot build the domain XML of %s" % (vm.get("name") if isinstance(vm, dict) else vm))

    name = domain_name(vm, opts)
    if not DOMAIN_NAME_RE.match(name):
        raise ModelError([Problem("vm_role_domain_name_prefix", "makes the domain name %r, which libvirt tools handle "
                                  "badly." % name, "use letters, digits, '-', '_' or '.'.")],
                         title="cannot build the domain XML of %s" % vm["name"])
    paths = disk_paths(vm, h, opts)
    root = ET.Element("domain", {"type": h["virt_type"]})
    _sub(root, "name", name)
    _sub(root, "title", vm.get("fqdn") or vm["name"])
    _sub(root, "description", "smbvdc.datacenter VM %s (branch %s), managed by Ansible: edit the inventory, not this "
         "definition." % (vm.get("fqdn") or vm["name"], opts["branch"] or "-"))
    meta = _sub(root, "metadata")
    ET.register_namespace("smbvdc", XMLNS)
    info = ET.SubElement(meta, "{%s}vm" % XMLNS)
    for key, value in (("branch", opts["branch"]), ("name", vm["name"]), ("fqdn", vm.get("fqdn") or vm["name"]),
                       ("network", network["name"]), ("ipv4", vm.get("ipv4") or ""), ("ipv6", vm.get("ipv6") or ""),
                       ("groups", ",".join(vm.get("groups") or []))):
        ET.SubElement(info, "{%s}%s" % (XMLNS, key)).text = str(value)
    if paths["data"]:
        # kvm_host_info reads it: the live capacity check counts the data disks a defined VM does not have yet
        ET.SubElement(info, "{%s}data_disks" % XMLNS).text = ",".join(d["name"] for d in paths["data"])
    _sub(root, "memory", v["memory_mb"], unit="MiB")
    _sub(root, "currentMemory", v["memory_mb"], unit="MiB")
    _sub(root, "vcpu", v["vcpus"], placement="static")

    os_el = _sub(root, "os")
    _sub(os_el, "type", "hvm", arch=opts["arch"], machine=opts["machine"] or None)
    _sub(os_el, "kernel", h["kernel"])
    _sub(os_el, "initrd", h["initrd"])
    cmdline = str(opts["cmdline"]).strip() if opts["cmdline"] else \
        "root=%s ro console=ttyS0,115200n8 net.ifnames=0" % opts["root"]
    if not any(word.startswith("root=") for word in cmdline.split()):
        raise ModelError([Problem("kvm_host_kernel_cmdline", "does not name the root file system: %r." % cmdline,
                                  "add root=LABEL=root (the base image's file system label).")],
                         title="cannot build the domain XML of %s" % vm["name"])
    if opts["cmdline_extra"]:
        cmdline += " " + str(opts["cmdline_extra"]).strip()
    _sub(os_el, "cmdline", cmdline)

    features = _sub(root, "features")
    _sub(features, "acpi")
    _sub(features, "apic")
    if h["virt_type"] == "qemu" and h["tcg_tb_cache_mb"]:
        # Without it QEMU's TCG reserves a 1 GiB translation cache per guest.
        tcg = _sub(features, "tcg")
        _sub(tcg, "tb-cache", h["tcg_tb_cache_mb"], unit="MiB")
    if h["virt_type"] == "kvm":
        _sub(root, "cpu", mode=opts["cpu_mode"])
    _sub(root, "clock", offset="utc")
    _sub(root, "on_poweroff", "destroy")
    _sub(root, "on_reboot", "restart")
    _sub(root, "on_crash", "destroy")

    devices = _sub(root, "devices")
    # No USB controller: nothing uses it, and emulating it costs CPU.
    _sub(devices, "controller", type="usb", model="none")
    disk = _sub(devices, "disk", type="file", device="disk")
    _sub(disk, "driver", name="qemu", type="qcow2", discard="unmap")
    _sub(disk, "source", file=paths["disk"])
    _sub(disk, "target", dev="vda", bus="virtio")
    # The NoCloud seed: a read-only virtio disk (the cloud kernel has no AHCI
    # for a CD-ROM), left out of snapshots (it is regenerated from the model).
    seed_disk = _sub(devices, "disk", type="file", device="disk", snapshot="no")
    _sub(seed_disk, "driver", name="qemu", type="raw")
    _sub(seed_disk, "source", file=paths["seed"])
    _sub(seed_disk, "target", dev="vdb", bus="virtio")
    _sub(seed_disk, "readonly")
    _sub(seed_disk, "serial", "cidata")
    # Data disks after the seed, in vm_data_disks order (libvirt keeps disks
    # sorted by target, so the definition compares equal on the next run).
    # The guest finds each by its serial: /dev/disk/by-id/virtio-smbvdc-<name>.
    for d in paths["data"]:
        data_disk = _sub(devices, "disk", type="file", device="disk")
        _sub(data_disk, "driver", name="qemu", type="qcow2", discard="unmap")
        _sub(data_disk, "source", file=d["path"])
        _sub(data_disk, "target", dev=d["target"], bus="virtio")
        _sub(data_disk, "serial", d["serial"])

    mode = network.get("mode", "nat")
    if mode == "bridge":
        iface = _sub(devices, "interface", type="bridge")
        _sub(iface, "source", bridge=network.get("bridge") or "br-%s" % network["name"])
    else:
        iface = _sub(devices, "interface", type="network")
        _sub(iface, "source", network="%s%s" % (opts["network_prefix"], network["name"]))
    _sub(iface, "mac", address=mac_address(vm["name"], opts["branch"]))
    _sub(iface, "model", type="virtio")

    serial = _sub(devices, "serial", type="pty")
    if opts["console_log_dir"]:
        _sub(serial, "log", file="%s/%s-console.log" % (str(opts["console_log_dir"]).rstrip("/"), name), append="on")
    _sub(serial, "target", port=0)
    console = _sub(devices, "console", type="pty")
    _sub(console, "target", type="serial", port=0)
    # Entropy at first boot: host keys and the CRNG would otherwise wait.
    rng = _sub(devices, "rng", model="virtio")
    _sub(rng, "backend", "/dev/urandom", model="random")
    _sub(devices, "memballoon", model="virtio")
    if hasattr(ET, "indent"):
        ET.indent(root, space="  ")
    return ET.tostring(root, encoding="unicode") + "\n"


def _address(value, version, variable, problems):
    if value in (None, ""):
        return None
    try:
        addr = ipaddress.ip_address(str(value))
    except ValueError:
        problems.add(variable, "is not an IPv%d address: %r." % (version, value), "check the ip plan (vm_address/vm_address6).")
        return None
    if addr.version != version:
        problems.add(variable, "is not an IPv%d address: %r." % (version, value), "check the ip plan (vm_address/vm_address6).")
        return None
    return str(addr)


def network_config(vm, network, options=None):
    """cloud-init network-config version 2 (a dict) with the VM's static addresses."""
    problems = Collector()
    opts = dict(SEED_DEFAULTS, **{k: v for k, v in (options or {}).items() if v is not None})
    _check_vm(vm, problems, keys=("name", "network"))
    var = _check_network(vm, network, problems)
    _problems_or_raise(problems, "cannot build the seed of %s" % (vm.get("name") if isinstance(vm, dict) else vm))
    if vm.get("ipv4") in (None, ""):
        problems.add(_vm_var(vm, "ipv4"), "is not set; the VM needs a static IPv4 address.",
                     "build smbvdc_model with the preflight playbook (it plans the addresses), or set vm_address.")
    ipv4 = _address(vm.get("ipv4"), 4, _vm_var(vm, "ipv4"), problems)
    ipv6 = _address(vm.get("ipv6"), 6, _vm_var(vm, "ipv6"), problems)
    gw4 = _address(network.get("gateway4"), 4, var + ".gateway4", problems)
    gw6 = _address(network.get("gateway6"), 6, var + ".gateway6", problems)
    prefix4 = _int(network.get("prefix4"), var + ".prefix4", problems, minimum=1) if ipv4 else None
    prefix6 = _int(network.get("prefix6"), var + ".prefix6", problems, minimum=1) if ipv6 else None
    dns = opts.get("dns_servers")
    if dns is None:
        dns = [gw4] if gw4 else []
    if isinstance(dns, str):
        dns = [d.strip() for d in dns.split(",") if d.strip()]
    for i, d in enumerate(dns):
        try:
            ipaddress.ip_address(str(d))
        except ValueError:
            problems.add("vm_role_dns_servers[%d]" % i, "is not an IP address: %r." % (d,), "list name server addresses.")
    search = opts.get("dns_search")
    if search is None:
        fqdn = vm.get("fqdn") or ""
        search = [fqdn.split(".", 1)[1]] if "." in fqdn else []
    if isinstance(search, str):
        search = [s.strip() for s in search.split(",") if s.strip()]
    _problems_or_raise(problems, "cannot build the seed of %s" % vm["name"])

    eth = {
        "match": {"macaddress": mac_address(vm["name"], opts.get("branch"))},
        "set-name": opts["interface"],
        "dhcp4": False,
        "dhcp6": False,
        "addresses": [a for a in ("%s/%s" % (ipv4, prefix4) if ipv4 else None,
                                  "%s/%s" % (ipv6, prefix6) if ipv6 else None) if a],
    }
    # Default routes as gateway4/gateway6: cloud-init 22.4 (bookworm) renders a
    # route "to: ::/0" for systemd-networkd as ::/64, and "to: default" not at all.
    if gw4:
        eth["gateway4"] = gw4
    if ipv6 and gw6:
        eth["gateway6"] = gw6
    if dns or search:
        eth["nameservers"] = {}
        if dns:
            eth["nameservers"]["addresses"] = [str(d) for d in dns]
        if search:
            eth["nameservers"]["search"] = list(search)
    return {"version": 2, "ethernets": {opts["interface"]: eth}}


def user_data(vm, ssh_public_key, options=None):
    """cloud-init user-data (a dict, without the #cloud-config line)."""
    problems = Collector()
    opts = dict(SEED_DEFAULTS, **{k: v for k, v in (options or {}).items() if v is not None})
    _check_vm(vm, problems, keys=("name",))
    keys = ssh_public_key if isinstance(ssh_public_key, (list, tuple)) else [ssh_public_key]
    keys = [str(k).strip() for k in keys if k is not None and str(k).strip()]
    if not keys:
        problems.add("vm_role_ssh_public_key", "is empty; the VM would have no way in.",
                     "let the role generate its key (vm_role_ssh_key_path) or set the public key.")
    for k in keys:
        if not KEY_RE.match(k):
            problems.add("vm_role_ssh_public_key", "is not an OpenSSH public key line: %r." % (k[:40] + ("..." if len(k) > 40 else "")),
                         "use the contents of the .pub file, e.g. 'ssh-ed25519 AAAA... comment'.")
    user = opts.get("admin_user") or "root"
    if not USER_RE.match(str(user)):
        problems.add("vm_role_admin_user", "is not a valid login name: %r." % (user,), "use e.g. root or admin.")
    proxy = opts.get("apt_proxy") or ""
    if proxy and not PROXY_RE.match(str(proxy)):
        problems.add("vm_role_apt_proxy", "is not an http(s) URL: %r." % (proxy,), "use e.g. http://apt-cacher.branch.example:3142 or ''.")
    _problems_or_raise(problems, "cannot build the seed of %s" % (vm.get("name") if isinstance(vm, dict) else vm))

    fqdn = vm.get("fqdn") or vm["name"]
    data = {
        "hostname": vm["name"],
        "fqdn": fqdn,
        "prefer_fqdn_over_hostname": False,
        # "localhost": cloud-init only makes sure the FQDN resolves (the 127.0.1.1 line) and leaves the
        # rest of /etc/hosts alone. With true it re-renders the whole file from its template on every
        # boot, which removed the common role's block after each reboot, so the next converge changed
        # /etc/hosts on every VM (issue 16).
        "manage_etc_hosts": "localhost",
        "locale": opts["locale"],
        # Host keys: ed25519 only, made at first boot (RSA costs ~25 s under
        # emulation); the base image ships none.
        "ssh_deletekeys": True,
        "ssh_genkeytypes": ["ed25519"],
        "ssh_pwauth": False,
        "disable_root": user != "root",
    }
    if user == "root":
        # No default (distribution) user; the key goes to root only.
        data["users"] = []
        data["ssh_authorized_keys"] = keys
    else:
        data["users"] = [{"name": user, "gecos": "smbvdc administrator", "shell": "/bin/bash", "lock_passwd": True,
                          "sudo": "ALL=(ALL) NOPASSWD:ALL", "groups": ["sudo"], "ssh_authorized_keys": keys}]
    # Keep the image's apt sources (cloud-init would otherwise write its own
    # mirror); only add the proxy.
    data["apt"] = {"preserve_sources_list": True}
    if proxy:
        data["apt"]["proxy"] = str(proxy)
    if opts.get("timezone"):
        data["timezone"] = str(opts["timezone"])
    if vm.get("ipv6") and not opts.get("ipv6_accept_ra"):
        # cloud-init 22.4 (bookworm) renders accept-ra for systemd-networkd only
        # together with DHCP, so a drop-in keeps SLAAC addresses and RA routes
        # away; at first boot networkd is already up and is told to reload.
        iface = opts["interface"]
        data["write_files"] = [{
            "path": "/etc/systemd/network/10-cloud-init-%s.network.d/10-smbvdc-no-ra.conf" % iface,
            "content": "# smbvdc: static IPv6 address only (no SLAAC, no RA routes)\n[Network]\nIPv6AcceptRA=no\n",
            "permissions": "0644",
        }]
        data["runcmd"] = [["sh", "-c", "if systemctl -q is-active systemd-networkd; then networkctl reload && "
                                       "networkctl reconfigure %s; fi" % iface]]
    data["package_update"] = False
    data["package_upgrade"] = False
    data["final_message"] = "smbvdc: %s is up after $UPTIME seconds" % fqdn
    return data


USER_DATA_HEADER = """#cloud-config
# {fqdn}: NoCloud seed written by smbvdc.datacenter (role vm) from the branch
# model. Edit the inventory, not this file.
# Notes:
# - /etc/machine-id is empty in the base image, so systemd makes a unique one
#   at first boot (clones must not share it: DHCP DUIDs, journald).
# - SSH host keys: only ed25519, generated at first boot (RSA keygen costs ~25 s
#   under QEMU emulation); none are baked into the base image.
# - cloud-init runs its per-instance modules once per instance-id
#   ({instance_id}); later changes of this seed apply only to a new VM.
"""


def meta_data(vm, options=None):
    opts = dict(SEED_DEFAULTS, **{k: v for k, v in (options or {}).items() if v is not None})
    branch = opts.get("branch") or ""
    return {"instance-id": "iid-smbvdc-%s%s" % ("%s-" % branch if branch else "", vm["name"]),
            "local-hostname": vm["name"]}


def _plain(data):
    """Plain Python types (Ansible hands filters tagged str/dict/list subclasses PyYAML cannot represent)."""
    if isinstance(data, dict):
        return {_plain(k): _plain(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [_plain(v) for v in data]
    if isinstance(data, bool) or data is None:
        return data
    if isinstance(data, int):
        return int(data)
    if isinstance(data, float):
        return float(data)
    return str(data)


def _dump(data):
    return yaml.safe_dump(_plain(data), default_flow_style=False, sort_keys=False, width=4096)


def seed(vm, network, ssh_public_key, options=None):
    """The NoCloud seed of one VM: {'user-data', 'meta-data', 'network-config'} as text."""
    problems = Collector()
    for key in (options or {}):
        if key not in SEED_DEFAULTS:
            problems.add("options.%s" % key, "is not a known seed option.", "use one of: %s." % ", ".join(sorted(SEED_DEFAULTS)))
    _problems_or_raise(problems, "cannot build the seed of %s" % (vm.get("name") if isinstance(vm, dict) else vm))
    ud = user_data(vm, ssh_public_key, options)
    nc = network_config(vm, network, options)
    md = meta_data(vm, options)
    header = USER_DATA_HEADER.format(fqdn=vm.get("fqdn") or vm["name"], instance_id=md["instance-id"])
    return {
        "user-data": header + _dump(ud),
        "meta-data": _dump(md),
        "network-config": "# %s: static addresses from the branch ip plan\n" % (vm.get("fqdn") or vm["name"]) + _dump(nc),
    }


def parse_domain_xml(xml):
    """The values of a domain XML the role and the tests compare (module_utils.domain_xml reads it)."""
    try:
        return xml_reader.parse_domain(xml)
    except xml_reader.XMLError as exc:
        raise ModelError([Problem("domain_xml", "%s." % exc, "pass the output of virsh dumpxml.")],
                         title="cannot read the domain XML")


__all__ = ["domain_xml", "seed", "user_data", "meta_data", "network_config", "mac_address", "domain_name",
           "disk_paths", "target_dev", "host_settings", "parse_domain_xml", "ModelError"]
