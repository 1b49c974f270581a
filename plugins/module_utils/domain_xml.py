# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smbvdc.datacenter developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The one reader of libvirt domain and network XML.

Used on the KVM host by the vm_domain module (what changed, diff) and on the
controller by plugin_utils (vmconfig.parse_domain_xml, the vm_domain_info and
libvirt_network_info filters), so the values the role compares are read the
same way everywhere. Standard library only: it must run on any KVM host.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re
import xml.etree.ElementTree as ET

# Our metadata namespace inside <metadata> (written by plugin_utils/vmconfig.py).
XMLNS = "https://smbvdc.example.invalid/xmlns/libvirt/vm/1"
# <serial> of a VM's data disks (vm_data_disks): smbvdc-<name>, which the guest
# sees as /dev/disk/by-id/virtio-smbvdc-<name>; the vm_domain module knows a
# data disk by it.
DATA_DISK_SERIAL_PREFIX = "smbvdc-"

_FACTORS = {"b": 1.0 / 1048576, "bytes": 1.0 / 1048576, "k": 1.0 / 1024, "kib": 1.0 / 1024,
            "kb": 1000.0 / 1048576, "m": 1, "mib": 1, "mb": 1e6 / 1048576, "g": 1024, "gib": 1024,
            "gb": 1e9 / 1048576}

# The keys of parse_domain's result that say whether a definition must be
# written again (everything the role renders and libvirt keeps as given).
DEFINITION_KEYS = ("type", "title", "memory_mb", "current_memory_mb", "vcpus", "kernel", "initrd", "cmdline",
                   "tb_cache_mb", "disks", "interfaces", "metadata")


class XMLError(ValueError):
    """The text is not the XML it should be."""


def _root(text, what):
    try:
        return ET.fromstring(text)
    except (ET.ParseError, TypeError) as exc:
        raise XMLError("the %s XML is not valid (%s)" % (what, exc))


def mib(element):
    """A libvirt memory element in MiB (libvirt writes KiB unless a unit says otherwise)."""
    if element is None or element.text is None:
        return None
    unit = (element.get("unit") or "KiB").lower()
    return int(round(int(element.text) * _FACTORS.get(unit, 1.0 / 1024)))


def parse_domain(text):
    """The values of a domain definition the role renders and compares."""
    root = _root(text, "domain")
    if root.tag != "domain":
        raise XMLError("expected a <domain> document, got <%s>" % root.tag)
    vcpu = root.find("vcpu")
    disks = []
    for d in root.findall("./devices/disk"):
        src, tgt, drv = d.find("source"), d.find("target"), d.find("driver")
        disks.append({"device": d.get("device"), "file": src.get("file") if src is not None else None,
                      "target": tgt.get("dev") if tgt is not None else None,
                      "bus": tgt.get("bus") if tgt is not None else None,
                      "format": drv.get("type") if drv is not None else None,
                      "readonly": d.find("readonly") is not None, "serial": d.findtext("serial")})
    ifaces = []
    for i in root.findall("./devices/interface"):
        src, mac, model = i.find("source"), i.find("mac"), i.find("model")
        ifaces.append({"type": i.get("type"), "network": src.get("network") if src is not None else None,
                       "bridge": src.get("bridge") if src is not None else None,
                       "mac": mac.get("address") if mac is not None else None,
                       "model": model.get("type") if model is not None else None})
    tb = root.find("./features/tcg/tb-cache")
    meta = root.find("./metadata/{%s}vm" % XMLNS)
    return {
        "name": root.findtext("name"),
        "title": root.findtext("title"),
        "type": root.get("type"),
        "memory_mb": mib(root.find("memory")),
        "current_memory_mb": mib(root.find("currentMemory")),
        "vcpus": int(vcpu.text) if vcpu is not None and vcpu.text else None,
        "vcpus_current": int(vcpu.get("current")) if vcpu is not None and vcpu.get("current") else None,
        "kernel": root.findtext("./os/kernel"),
        "initrd": root.findtext("./os/initrd"),
        "cmdline": root.findtext("./os/cmdline"),
        "tb_cache_mb": mib(tb) if tb is not None else None,
        "disks": disks,
        "interfaces": ifaces,
        "smbvdc": meta is not None,
        "metadata": dict((child.tag.split("}", 1)[-1], child.text or "") for child in meta) if meta is not None else {},
    }


def definition_view(text):
    """The part of a definition that decides whether it must be written again."""
    info = parse_domain(text)
    return dict((k, info[k]) for k in DEFINITION_KEYS)


def definition_changes(before_text, after_text):
    """Human-readable differences between two definitions (``[]`` = same)."""
    if not before_text:
        return ["new domain"]
    before, after = definition_view(before_text), definition_view(after_text)
    out = []
    for key in DEFINITION_KEYS:
        if before[key] != after[key]:
            if key == "disks":
                out.extend(_disk_changes(before[key], after[key]))
            elif key in ("interfaces", "metadata"):
                out.append("%s changed" % key)
            else:
                out.append("%s %s -> %s" % (key, before[key], after[key]))
    return out


def _disk_changes(before, after):
    """Which disks a new definition adds, removes or changes (by target device)."""
    old, new = dict((d["target"], d) for d in before), dict((d["target"], d) for d in after)
    out = ["disk %s added (%s)" % (t, new[t]["file"]) for t in new if t not in old]
    out += ["disk %s removed (%s)" % (t, old[t]["file"]) for t in old if t not in new]
    out += ["disk %s changed" % t for t in new if t in old and new[t] != old[t]]
    return out or ["disks changed"]


# set_boot_files and set_uuid edit the text instead of re-serialising the
# tree: libvirt keeps namespace declarations where the document has them, and
# ElementTree moves them to the root, which would be a changed definition.
def _replace_text(text, tag, value):
    root = _root(text, "domain")  # validates, and finds the element the edit must hit
    if root.find(tag if tag == "uuid" else "./os/%s" % tag) is None:
        return None
    pattern = re.compile(r"(<%s(?:\s[^>]*)?>)([^<]*)(</%s>)" % (tag, tag))
    if len(pattern.findall(text)) != 1:
        raise XMLError("expected one <%s> in the domain XML" % tag)
    return pattern.sub(lambda m: m.group(1) + _escape(value) + m.group(3), text)


def _escape(value):
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def set_boot_files(text, kernel, initrd):
    """The definition with <os><kernel>/<initrd> replaced (a VM boots its own backing image's kernel)."""
    for tag, value in (("kernel", kernel), ("initrd", initrd)):
        if value:
            text = _replace_text(text, tag, value) or text
    return text


def set_uuid(text, uuid):
    """The definition with <uuid> set: libvirt refuses to redefine a domain under a new uuid."""
    out = _replace_text(text, "uuid", uuid)
    if out is not None:
        return out
    match = re.search(r"</name>", text)
    if not match:
        raise XMLError("the domain XML has no <name>")
    return text[:match.end()] + "\n  <uuid>%s</uuid>" % _escape(uuid) + text[match.end():]


def parse_network(text):
    """The values of a libvirt network definition the kvm_host role compares."""
    root = _root(text, "network")
    if root.tag != "network":
        raise XMLError("expected a <network> document, got <%s>" % root.tag)
    fwd = root.find("forward")
    bridge = root.find("bridge")
    ips = []
    for ip in root.findall("ip"):
        dhcp = ip.find("dhcp")
        ranges = [{"start": r.get("start"), "end": r.get("end")} for r in dhcp.findall("range")] if dhcp is not None else []
        ips.append({"family": ip.get("family") or "ipv4", "address": ip.get("address"),
                    "prefix": int(ip.get("prefix")) if ip.get("prefix") else None,
                    "netmask": ip.get("netmask"), "dhcp_ranges": ranges})
    dns = root.find("dns")
    out = {
        "name": root.findtext("name"),
        "uuid": root.findtext("uuid"),
        "forward": fwd.get("mode") if fwd is not None else None,
        "bridge": bridge.get("name") if bridge is not None else None,
        "domain": root.find("domain").get("name") if root.find("domain") is not None else None,
        "dns_enabled": dns is None or dns.get("enable", "yes") != "no",
        "ips": ips,
    }
    # What decides whether a network must be defined again (libvirt adds
    # uuid, mac and defaults to what it was given; those do not count).
    out["signature"] = {"forward": out["forward"], "bridge": out["bridge"],
                        "ips": sorted("%s/%s" % (i["address"], i["prefix"] if i["prefix"] is not None else i["netmask"])
                                      for i in ips),
                        "dhcp": any(i["dhcp_ranges"] for i in ips) or any(ip.find("dhcp") is not None
                                                                            for ip in root.findall("ip")),
                        "dns_enabled": out["dns_enabled"]}
    return out
