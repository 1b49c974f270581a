# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smbvdc.datacenter developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Read-only facts about a KVM/libvirt host.

Everything here works on an already opened libvirt connection (real or fake),
so the module stays thin and the unit tests need no libvirt daemon. Files of
the local host (/proc/cpuinfo, /dev/kvm, /sys/kernel/mm/ksm) are only read when
the connection URI points at the local host.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import traceback
import xml.etree.ElementTree as ET

from ansible_collections.smbvdc.datacenter.plugins.module_utils.domain_xml import XMLNS as SMBVDC_XMLNS

try:
    from urllib.parse import urlparse
except ImportError:  # pragma: no cover - Python 2
    from urlparse import urlparse

LIBVIRT_IMPORT_ERROR = None
try:
    import libvirt
    HAS_LIBVIRT = True
except ImportError:
    libvirt = None
    HAS_LIBVIRT = False
    LIBVIRT_IMPORT_ERROR = traceback.format_exc()

# Local files (module level so that tests can point them elsewhere).
PROC_CPUINFO = "/proc/cpuinfo"
DEV_KVM = "/dev/kvm"
KSM_DIR = "/sys/kernel/mm/ksm"

MIB = 1024 * 1024
GIB = 1024 * 1024 * 1024

# virDomainState / virStoragePoolState; the values are part of libvirt's stable ABI.
DOMAIN_STATES = {
    0: "nostate",
    1: "running",
    2: "blocked",
    3: "paused",
    4: "shutdown",
    5: "shutoff",
    6: "crashed",
    7: "pmsuspended",
}
POOL_STATES = {
    0: "inactive",
    1: "building",
    2: "running",
    3: "degraded",
    4: "inaccessible",
}
# VIR_NODE_MEMORY_STATS_ALL_CELLS
ALL_CELLS = -1
HW_VIRT_FLAGS = ("vmx", "svm")


class LibvirtConnectError(Exception):
    """Neither a read-write nor a read-only connection could be opened."""


def _quiet_error_handler(ctx, err):  # pylint: disable=unused-argument
    """Keep libvirt from printing every error on stderr; we report them ourselves."""
    return None


def connect(uri, lib=None):
    """Open ``uri`` read-write (needed for domain capabilities), read-only as fallback.

    Returns ``(conn, read_only)``; raises LibvirtConnectError with both errors.
    """
    lib = lib or libvirt
    try:
        lib.registerErrorHandler(_quiet_error_handler, None)
    except Exception:  # pylint: disable=broad-except
        pass
    errors = []
    for read_only, opener in ((False, lib.open), (True, lib.openReadOnly)):
        try:
            conn = opener(uri)
        except lib.libvirtError as exc:
            errors.append(str(exc))
            continue
        if conn is not None:
            return conn, read_only
        errors.append("libvirt returned no connection")
    raise LibvirtConnectError("; ".join(_unique(errors)))


def _unique(items):
    seen = []
    for item in items:
        if item not in seen:
            seen.append(item)
    return seen


def is_local_uri(uri):
    """True when ``uri`` addresses the host this code runs on."""
    if not uri:
        return True
    host = urlparse(uri).hostname
    return host in (None, "", "localhost", "127.0.0.1", "::1")


def _read(path):
    try:
        with open(path) as handle:
            return handle.read()
    except (IOError, OSError):
        return None


def _read_int(path):
    text = _read(path)
    if text is None:
        return None
    try:
        return int(text.strip())
    except ValueError:
        return None


def _mb(kib):
    return int(kib) // 1024


def _gib(nbytes):
    return round(float(nbytes) / GIB, 2)


def _xml(text):
    try:
        return ET.fromstring(text)
    except (ET.ParseError, TypeError):
        return None


def _version(number):
    """libvirt encodes versions as major * 1000000 + minor * 1000 + release."""
    if not number:
        return None
    return "%d.%d.%d" % (number // 1000000, (number // 1000) % 1000, number % 1000)


def _call(func, *args, **kwargs):
    """Call a libvirt method; None when it fails or the driver lacks it."""
    try:
        return func(*args, **kwargs)
    except Exception:  # pylint: disable=broad-except
        return None


def cpuinfo_facts(path=None):
    """Model name and hardware virtualization flags from /proc/cpuinfo."""
    text = _read(path or PROC_CPUINFO)
    if text is None:
        return None, None
    model_name = None
    flags = set()
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key = key.strip()
        if key == "model name" and model_name is None:
            model_name = value.strip()
        elif key == "flags":
            flags.update(value.split())
    return model_name, sorted(flag for flag in flags if flag in HW_VIRT_FLAGS)


def ksm_facts(directory=None):
    """KSM state, or None when the kernel has no KSM (no sysfs directory)."""
    directory = directory or KSM_DIR
    if not os.path.isdir(directory):
        return None
    run = _read_int(os.path.join(directory, "run"))
    shared = _read_int(os.path.join(directory, "pages_shared"))
    sharing = _read_int(os.path.join(directory, "pages_sharing"))
    try:
        page_size = os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        page_size = 4096
    return {
        "run": run,
        "enabled": run == 1 if run is not None else None,
        "pages_shared": shared,
        "pages_sharing": sharing,
        "saved_mb": (sharing * page_size) // MIB if sharing is not None else None,
    }


def host_cpu_facts(caps):
    """Model, vendor, topology and virt feature flags from the capabilities XML."""
    facts = {"model": None, "vendor": None, "flags": [], "domain_types": []}
    if caps is None:
        return facts
    cpu = caps.find("./host/cpu")
    if cpu is not None:
        facts["model"] = cpu.findtext("model")
        facts["vendor"] = cpu.findtext("vendor")
        facts["flags"] = sorted(
            f.get("name") for f in cpu.findall("feature") if f.get("name") in HW_VIRT_FLAGS
        )
    arch = caps.findtext("./host/cpu/arch")
    types = set()
    for guest in caps.findall("guest"):
        garch = guest.find("arch")
        if garch is None or (arch and garch.get("name") != arch):
            continue
        for dom in garch.findall("domain"):
            if dom.get("type"):
                types.add(dom.get("type"))
    facts["domain_types"] = sorted(types)
    return facts


def kvm_domain_type_usable(conn, arch, caps_domain_types):
    """Whether libvirt offers domain type kvm for ``arch``.

    Domain capabilities need a read-write connection; when they cannot be
    queried the guest section of the host capabilities answers instead.
    """
    try:
        text = conn.getDomainCapabilities(None, arch, None, "kvm", 0)
    except Exception:  # pylint: disable=broad-except
        return "kvm" in caps_domain_types
    doc = _xml(text)
    if doc is None:
        return "kvm" in caps_domain_types
    return doc.findtext("domain") == "kvm"


def domain_facts(dom):
    """One defined domain; None when it vanished while we looked."""
    try:
        state, max_kib, cur_kib, vcpus, _cpu_time = dom.info()
        name = dom.name()
    except Exception:  # pylint: disable=broad-except
        return None
    active = bool(_call(dom.isActive))
    persistent = _call(dom.isPersistent)
    autostart = _call(dom.autostart) if persistent else False
    doc = _xml(_call(dom.XMLDesc, 0))
    dom_id = _call(dom.ID) if active else None
    return {
        "name": name,
        "uuid": _call(dom.UUIDString),
        "id": dom_id if dom_id is not None and dom_id >= 0 else None,
        "type": doc.get("type") if doc is not None else None,
        "state": DOMAIN_STATES.get(state, "unknown"),
        "active": active,
        "persistent": bool(persistent),
        "autostart": bool(autostart),
        "memory_mb": _mb(cur_kib),
        "max_memory_mb": _mb(max_kib),
        "vcpus": int(vcpus),
        # what the vm role wrote into <metadata> (branch, name, network, ipv4,
        # ipv6, ...): the placement keeps a running VM's address from here
        "smbvdc": _smbvdc_metadata(doc),
    }


def _smbvdc_metadata(doc):
    if doc is None:
        return {}
    meta = doc.find("./metadata/{%s}vm" % SMBVDC_XMLNS)
    if meta is None:
        return {}
    return dict((child.tag.split("}", 1)[-1], child.text or "") for child in meta)


def pool_facts(pool):
    """One storage pool; sizes in bytes and GiB (0 while the pool is inactive)."""
    try:
        state, capacity, allocation, available = pool.info()
        name = pool.name()
    except Exception:  # pylint: disable=broad-except
        return None
    doc = _xml(_call(pool.XMLDesc, 0))
    persistent = _call(pool.isPersistent)
    return {
        "name": name,
        "uuid": _call(pool.UUIDString),
        "type": doc.get("type") if doc is not None else None,
        "path": doc.findtext("./target/path") if doc is not None else None,
        "state": POOL_STATES.get(state, "unknown"),
        "active": bool(_call(pool.isActive)),
        "persistent": bool(persistent),
        "autostart": bool(_call(pool.autostart)) if persistent else False,
        "capacity_bytes": int(capacity),
        "allocation_bytes": int(allocation),
        "available_bytes": int(available),
        "capacity_gb": _gib(capacity),
        "allocation_gb": _gib(allocation),
        "available_gb": _gib(available),
    }


def host_facts(conn, uri):
    """Everything the module returns as ``kvm_host``."""
    local = is_local_uri(uri)
    # virNodeGetInfo: [arch, memory MiB, cpus, mhz, numa nodes, sockets/node, cores/socket, threads/core]
    arch, info_mem_mb, cpus, mhz, nodes, sockets, cores, threads = conn.getInfo()
    caps = _xml(_call(conn.getCapabilities))
    cpu = host_cpu_facts(caps)

    # Total/free from the node memory stats (KiB); virNodeGetInfo and
    # virNodeGetFreeMemory only count memory inside NUMA nodes, which can be
    # less than the kernel's MemTotal (it is on some cloud VMs).
    stats = _call(conn.getMemoryStats, ALL_CELLS, 0) or {}
    if stats.get("total"):
        total_mb = _mb(stats["total"])
    else:
        total_mb = int(info_mem_mb)
    if stats.get("free") is not None:
        free_mb = _mb(stats["free"])
        available_mb = _mb(stats["free"] + stats.get("buffers", 0) + stats.get("cached", 0))
    else:
        free_bytes = _call(conn.getFreeMemory)
        free_mb = int(free_bytes) // MIB if free_bytes is not None else None
        available_mb = free_mb

    model_name, proc_flags = cpuinfo_facts() if local else (None, None)
    hw_flags = sorted(set(cpu["flags"]) | set(proc_flags or []))

    domains = []
    for dom in conn.listAllDomains(0) or []:
        facts = domain_facts(dom)
        if facts is not None:
            domains.append(facts)
    domains.sort(key=lambda d: d["name"])

    pools = []
    for pool in _call(conn.listAllStoragePools, 0) or []:
        facts = pool_facts(pool)
        if facts is not None:
            pools.append(facts)
    pools.sort(key=lambda p: p["name"])

    hostname = _call(conn.getHostname)
    return {
        "uri": uri,
        "hostname": hostname,
        "local": local,
        "hypervisor": _call(conn.getType),
        "hypervisor_version": _version(_call(conn.getVersion)),
        "libvirt_version": _version(_call(conn.getLibVersion)),
        "memory_total_mb": total_mb,
        "memory_free_mb": free_mb,
        "memory_available_mb": available_mb,
        "memory_numa_mb": int(info_mem_mb),
        "allocated_memory_mb": sum(d["max_memory_mb"] for d in domains),
        "running_memory_mb": sum(d["memory_mb"] for d in domains if d["active"]),
        "cpus": int(cpus),
        "cpu_sockets": int(nodes) * int(sockets),
        "cpu_cores": int(nodes) * int(sockets) * int(cores),
        "cpu_cores_per_socket": int(cores),
        "cpu_threads_per_core": int(threads),
        "numa_nodes": int(nodes),
        "cpu_mhz": int(mhz),
        "cpu_arch": arch,
        "cpu_model": cpu["model"],
        "cpu_model_name": model_name,
        "cpu_vendor": cpu["vendor"],
        "hw_virt_flags": hw_flags,
        "kvm_device": os.path.exists(DEV_KVM) if local else None,
        "guest_domain_types": cpu["domain_types"],
        "libvirt_kvm_domain_type": kvm_domain_type_usable(conn, arch, cpu["domain_types"]),
        "ksm": ksm_facts() if local else None,
        "domains": domains,
        "storage_pools": pools,
    }
