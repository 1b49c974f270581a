# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smbvdc.datacenter developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The branch model: validate and normalise one branch office's inventory.

Input is what the admin writes (``smbvdc_branch`` in group_vars plus the
hosts and groups of the inventory); output is one normalised dict that every
role consumes: KVM hosts with their budgets, VMs with their placement and
addresses, networks with gateways and reverse zones, and the service groups.
The schema is documented in docs/branch-model.md.

All problems are collected and raised together (``ModelError``), each naming
the variable and the fix, before any host is touched.
"""

from __future__ import annotations

import difflib
import ipaddress
import re

from . import budget as budget_mod
from . import checks as checks_mod
from . import dns as dns_mod
from . import ipplan
from . import mail as mail_mod
from . import names
from . import placement as placement_mod
from . import schema
from . import web as web_mod
from .errors import Collector, ModelError, PlacementError, Problem
from .services import SERVICE_CONFLICTS, SERVICE_GROUPS

MODEL_VERSION = 1
KVM_GROUP = "kvm_hosts"
VM_GROUP = "vms"
SERVICE_GROUP_NAMES = tuple(sorted(g for g in SERVICE_GROUPS if g != KVM_GROUP))
NETWORK_MODES = schema.NETWORK_MODES
BRIDGE_RE = re.compile(r"^[A-Za-z0-9_.-]{1,15}$")
# The variables, their types, defaults and fix texts: plugin_utils/schema.py.
HOST_VAR_KEYS = tuple(schema.HOST_VARS)
# vm_state of a VM (the vm role converges it; docs/vm-lifecycle.md).
VM_STATES = schema.VM_STATES
BRANCH_KEYS = tuple(schema.BRANCH)
NETWORK_KEYS = tuple(schema.NETWORK)
# Groups the model reads, plus Ansible's own; groups named smbvdc_* are made by the playbooks at run time.
KNOWN_GROUPS = ("all", "ungrouped")
# RFC 1918: nobody upstream serves reverse DNS for these, so the branch serves
# the parent of its classless (RFC 2317) reverse zones itself.
PRIVATE_V4 = tuple(ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))
DEFAULT_VM_VCPUS = schema.VM["vm_vcpus"].default
DEFAULT_VM_DISK_GB = schema.VM["vm_disk_gb"].default


is_domain = names.is_domain


def _host_var(hv, host, spec, problems, example=None):
    """One host variable checked against its schema entry (``schema.check``)."""
    return schema.check(hv.get(host, spec.name), spec, "hostvars['%s'].%s" % (host, spec.name), problems, example)


def _data_disks(hv, host, problems):
    """``vm_data_disks`` of one VM: ``[{name, size_gb}]``, names checked and unique."""
    var = "hostvars['%s'].vm_data_disks" % host
    spec = schema.VM["vm_data_disks"]
    out, seen = [], {}
    for i, raw in enumerate(schema.check(hv.get(host, spec.name), spec, var, problems) or []):
        item = "%s[%d]" % (var, i)
        if not isinstance(raw, dict):
            problems.add(item, "must be a mapping {name, size_gb}, got %r." % (raw,), spec.fix)
            continue
        for key in raw:
            if key not in schema.DATA_DISK:
                problems.add("%s.%s" % (item, key), "is not a known data disk key.",
                             "use one of: %s (a typo?)." % ", ".join(schema.DATA_DISK))
        name = schema.check(raw.get("name"), schema.DATA_DISK["name"], item + ".name", problems)
        size = schema.check(raw.get("size_gb"), schema.DATA_DISK["size_gb"], item + ".size_gb", problems)
        if name is not None and name in seen:
            problems.add(item + ".name", "'%s' is also the name of %s[%d]; each data disk is a file <vm>-<name>.qcow2 "
                         "and a serial smbvdc-<name> in the guest." % (name, var, seen[name]),
                         "give each data disk of the VM its own name.")
            continue
        if name is not None:
            seen[name] = i
        if name is not None and size is not None:
            out.append({"name": name, "size_gb": size})
    return out


def _check_disk_files(vms, problems):
    """Data disk files must not be another disk's: ``<vm>-<name>.qcow2`` beside the VMs' ``<vm>.qcow2``."""
    owner = dict((h, "the system disk of %s" % h) for h in vms)
    for h, v in sorted(vms.items()):
        for d in v["data_disks"]:
            stem = "%s-%s" % (h, d["name"])
            if stem in owner:
                problems.add("hostvars['%s'].vm_data_disks" % h, "data disk '%s' would be the file %s.qcow2, which is "
                             "already %s." % (d["name"], stem, owner[stem]), "rename the data disk.")
            else:
                owner[stem] = "data disk '%s' of %s" % (d["name"], h)


def _as_list(value, variable, problems):
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)):
        return list(value)
    problems.add(variable, "must be a list, got %r." % (value,), "write it as a YAML list.")
    return []


class _HostVars(object):
    """Read only the model's keys from Ansible's hostvars (or a plain dict)."""

    def __init__(self, hostvars):
        self._hv = hostvars or {}

    def get(self, host, key):
        try:
            hv = self._hv[host]
        except (KeyError, TypeError):
            return None
        try:
            value = hv.get(key) if hasattr(hv, "get") else None
        except Exception:  # Ansible's lazy templating can fail on unrelated vars
            value = None
        return value


def _branch_section(branch, problems):
    if not isinstance(branch, dict):
        problems.add("smbvdc_branch", "must be a mapping describing the branch, got %r." % (type(branch).__name__,),
                     "define smbvdc_branch in inventories/<branch>/group_vars/all/branch.yml (docs/branch-model.md).")
        problems.raise_if_any()
    for key in branch:
        if key not in BRANCH_KEYS:
            problems.add("smbvdc_branch.%s" % key, "is not a known key.",
                         "use one of: %s (a typo?)." % ", ".join(BRANCH_KEYS))
    name = branch.get("name")
    if not isinstance(name, str) or not names.LABEL_RE.match(name or ""):
        problems.add("smbvdc_branch.name", "must be a short lowercase name (letters, digits, '-'), got %r." % (name,),
                     "e.g. name: hq-vienna")
    domain = branch.get("domain")
    if not is_domain(domain):
        problems.add("smbvdc_branch.domain", "must be a DNS domain such as branch.example.org, got %r." % (domain,),
                     "set the branch's DNS domain (no trailing dot).")
        domain = None
    else:
        domain = domain.lower()
    mail_domains = []
    for i, d in enumerate(_as_list(branch.get("mail_domains"), "smbvdc_branch.mail_domains", problems)):
        if not is_domain(d):
            problems.add("smbvdc_branch.mail_domains[%d]" % i, "%r is not a DNS domain." % (d,), "remove it or fix the spelling.")
        elif d.lower() in mail_domains:
            problems.add("smbvdc_branch.mail_domains[%d]" % i, "%r is listed twice." % (d,), "remove the duplicate.")
        else:
            mail_domains.append(d.lower())
    if domain and domain not in mail_domains:
        mail_domains.insert(0, domain)
    return name, domain, mail_domains


def _sites(branch, problems):
    sites = {}
    raw = branch.get("sites")
    if raw is None:
        raw = [{"name": "main"}]
    for i, s in enumerate(_as_list(raw, "smbvdc_branch.sites", problems)):
        if isinstance(s, str):
            s = {"name": s}
        if not isinstance(s, dict) or not isinstance(s.get("name"), str) or not names.LABEL_RE.match(s["name"]):
            problems.add("smbvdc_branch.sites[%d].name" % i, "must be a short lowercase name, got %r." % (s,),
                         "write sites as a list of {name: hq}.")
            continue
        if s["name"] in sites:
            problems.add("smbvdc_branch.sites[%d].name" % i, "site '%s' is listed twice." % s["name"], "remove the duplicate.")
            continue
        sites[s["name"]] = {"name": s["name"], "description": s.get("description", "")}
    return sites


def _networks(branch, sites, problems):
    networks = {}
    raw = _as_list(branch.get("networks"), "smbvdc_branch.networks", problems)
    if not raw:
        problems.add("smbvdc_branch.networks", "must list at least one network.",
                     "add e.g. {name: lan, ipv4: 10.77.10.0/24} (docs/branch-model.md).")
        return networks
    first_site = next(iter(sites), None)
    for i, n in enumerate(raw):
        if not isinstance(n, dict):
            problems.add("smbvdc_branch.networks[%d]" % i, "must be a mapping, got %r." % (n,), "see docs/branch-model.md.")
            continue
        name = n.get("name")
        if not isinstance(name, str) or not names.LABEL_RE.match(name):
            problems.add("smbvdc_branch.networks[%d].name" % i, "must be a short lowercase name, got %r." % (name,),
                         "e.g. name: lan")
            continue
        var = "smbvdc_branch.networks['%s']" % name
        if name in networks:
            problems.add(var + ".name", "network '%s' is defined twice." % name, "give each network a unique name.")
            continue
        for key in n:
            if key not in NETWORK_KEYS:
                problems.add("%s.%s" % (var, key), "is not a known network key.", "use one of: %s." % ", ".join(NETWORK_KEYS))
        site = schema.check(n.get("site", first_site), schema.NETWORK["site"], var + ".site", problems)
        if site is not None and site not in sites:
            problems.add(var + ".site", "site %r is not in smbvdc_branch.sites (%s)." % (site, ", ".join(sites) or "none"),
                         "add the site or fix the name.")
        mode = n.get("mode", schema.NETWORK["mode"].default)
        schema.check(mode, schema.NETWORK["mode"], var + ".mode", problems)
        bridge = n.get("bridge", "br-%s" % name)
        if not isinstance(bridge, str) or not BRIDGE_RE.match(bridge):
            problems.add(var + ".bridge", "%r is not a valid interface name (max 15 characters)." % (bridge,),
                         "use a short name such as br-lan.")
        if n.get("ipv4") in (None, ""):
            problems.add(var + ".ipv4", "is required.", "give the network an IPv4 subnet, e.g. 10.77.10.0/24.")
        net4 = ipplan.parse_network(n.get("ipv4"), 4, var + ".ipv4", problems)
        net6 = ipplan.parse_network(n.get("ipv6"), 6, var + ".ipv6", problems)
        gw4 = gw6 = None
        if net4 is not None:
            gw4 = ipplan.parse_address(n["gateway4"], net4, var + ".gateway4", problems, what="gateway") \
                if n.get("gateway4") else net4[1]
        if net6 is not None:
            gw6 = ipplan.parse_address(n["gateway6"], net6, var + ".gateway6", problems, what="gateway") \
                if n.get("gateway6") else net6[1]
        elif n.get("gateway6"):
            problems.add(var + ".gateway6", "is set but the network has no ipv6 subnet.", "add ipv6 or remove gateway6.")
        pool_start = schema.check(n.get("pool_start", schema.NETWORK["pool_start"].default),
                                  schema.NETWORK["pool_start"], var + ".pool_start", problems)
        reverse_parent = schema.check(n.get("reverse_parent"), schema.NETWORK["reverse_parent"],
                                      var + ".reverse_parent", problems)
        classless = net4 is not None and net4.prefixlen > 24
        if reverse_parent and net4 is not None and not classless:
            problems.add(var + ".reverse_parent", "applies only to IPv4 subnets longer than /24 (RFC 2317), "
                         "but this one is %s." % net4.cidr, "remove reverse_parent.")
        if classless and reverse_parent is None:
            base = ipaddress.ip_network("%s/24" % net4.network, strict=False)
            reverse_parent = any(base.subnet_of(p) for p in PRIVATE_V4)
        networks[name] = {"name": name, "site": site, "mode": mode, "bridge": bridge, "ipv4": net4, "ipv6": net6,
                          "gateway4": gw4, "gateway6": gw6, "pool_start": pool_start or 10,
                          "reverse_parent": bool(classless and reverse_parent),
                          "description": n.get("description", "")}
    ipplan.check_overlaps(networks, problems)
    return networks


def _budget_settings(branch, problems):
    settings = dict(budget_mod.BUDGET_DEFAULTS)
    raw = schema.check(branch.get("budget") or {}, schema.BRANCH["budget"], "smbvdc_branch.budget", problems)
    if raw is None:
        return settings
    for key, value in raw.items():
        var = "smbvdc_branch.budget.%s" % key
        if key not in schema.BUDGET:
            problems.add(var, "is not a known budget setting.", "use one of: %s." % ", ".join(sorted(schema.BUDGET)))
            continue
        number = schema.check(value, schema.BUDGET[key], var, problems)
        if number is not None:
            settings[key] = number
    return settings


def _groups(inventory):
    groups = inventory.get("groups") or {}
    return {g: list(hosts or []) for g, hosts in groups.items()}


def placement_inputs(kvm_hosts, vms, settings):
    """Hosts (capacities from the budget) and VMs (RAM demand incl. overhead) for ``placement.place``.

    ``vms`` are model VMs; a VM is pinned when it has ``pin`` (while building
    the model) or ``pinned`` with its ``kvm_host`` (a finished model).
    """
    hosts = []
    for name, k in sorted(kvm_hosts.items()):
        b = budget_mod.host_budget(k, [], settings)
        hosts.append({"name": name, "capacity_mb": b["capacity_mb"], "vcpu_capacity": b["vcpu_capacity"],
                      "vcpus": k.get("vcpus"), "disk_capacity_gb": b["disk_capacity_gb"]})
    overhead = settings.get("vm_overhead_mb", budget_mod.DEFAULT_VM_OVERHEAD_MB)
    demands = []
    for v in vms:
        current = v.get("current") or (v.get("kvm_host") if v.get("placed_by") == "current" else None)
        pin = v.get("pin") or current or (v.get("kvm_host") if v.get("pinned") else None)
        demands.append({"name": v["name"], "demand_mb": budget_mod.vm_demand_mb(v["memory_mb"], overhead),
                        "vcpus": v["vcpus"], "disk_gb": budget_mod.vm_disk_gb(v), "pin": pin,
                        "current": bool(current), "anti_affinity": v.get("anti_affinity", [])})
    return hosts, demands


def _has(hv, host, key):
    return hv.get(host, key) is not None


def _check_groups(groups, hv, vms, kvm_hosts, problems, warnings):
    """Hosts with model variables that the model would ignore, misspelt groups, clashing services.

    A host whose vm_memory_mb (or kvm_memory_mb) puts it in the branch but whose
    groups give it nothing to do is reported: a misspelt service group
    (``webserver`` for ``web``) would otherwise drop its DNS names and services
    without a word.
    """
    service = set(SERVICE_GROUP_NAMES)
    known = service | {KVM_GROUP, VM_GROUP} | set(KNOWN_GROUPS)
    host_groups = {}
    for g, hosts in groups.items():
        for h in hosts:
            host_groups.setdefault(h, set()).add(g)

    def unknown_of(h):
        return sorted(g for g in host_groups.get(h, ()) if g not in known and not g.startswith("smbvdc_"))

    def suggestion(names, choices):
        """(unknown group, the known group it was probably meant to be), by spelling or containment."""
        for g in names:
            close = difflib.get_close_matches(g, sorted(choices), n=1, cutoff=0.6)
            if not close:       # webserver(s) for web, mailhosts for mail
                close = sorted((c for c in choices if len(c) >= 3 and (c in g.lower() or g.lower() in c)),
                               key=len, reverse=True)
            if close:
                return g, close[0]
        return None

    def misfiled(h, choices, why, warning):
        """A misspelt group stops the run ("did you mean"); anything else is the warning."""
        hint = suggestion(unknown_of(h), choices)
        if hint:
            problems.add("groups['%s']" % hint[0], "is not a group the model reads, but %s %s; did you mean '%s'?"
                         % (h, why, hint[1]), "rename the group to %s (the model's groups: %s)."
                         % (hint[1], ", ".join(sorted(service | {KVM_GROUP, VM_GROUP}))))
        else:
            warnings.append(warning)

    for h in sorted(host_groups):
        var = "hostvars['%s']" % h
        mine = ", ".join(sorted(host_groups[h])) or "none"
        if _has(hv, h, "kvm_memory_mb") and h not in kvm_hosts and not (host_groups[h] & (service | {VM_GROUP})):
            misfiled(h, [KVM_GROUP], "has kvm_memory_mb",
                     "%s.kvm_memory_mb is set but %s is not in group %s (groups: %s): it is not used as a KVM host."
                     % (var, h, KVM_GROUP, mine))
        if h in kvm_hosts:
            continue
        if _has(hv, h, "vm_memory_mb") and h not in vms:
            misfiled(h, service | {VM_GROUP}, "has vm_memory_mb",
                     "%s.vm_memory_mb is set but %s is in no service group and not in %s (groups: %s): no VM is "
                     "built for it." % (var, h, VM_GROUP, mine))
        elif h in vms and not vms[h]["groups"]:
            misfiled(h, service, "is a VM in no service group",
                     "VM %s is in group %s only: it is built and gets the baseline, but no service is deployed on "
                     "it and DNS names only the host (service groups: %s)." % (h, VM_GROUP, ", ".join(sorted(service))))
        if h in vms:
            for a, b, why in SERVICE_CONFLICTS:
                if a in vms[h]["groups"] and b in vms[h]["groups"]:
                    warnings.append("VM %s is in both groups['%s'] and groups['%s']: %s. Give each its own VM."
                                    % (h, a, b, why))


def _dns_warnings(domain, mail_domains, networks, services, mail_settings):
    """What the branch's DNS needs from someone else: records to hand over, in zone-file syntax."""
    out = []
    ns = ["%s.%s." % (h, domain) for h in services.get("dns_primary", []) + services.get("dns_secondary", [])]
    for name, net in sorted(networks.items()):
        for rz in net["reverse_zones"]:
            if not rz["classless"] or net["reverse_parent"]:
                continue
            first, last = [int(x) for x in rz["zone"].split(".", 1)[0].split("-")]
            records = ["%s NS %s" % (rz["zone"] + ".", n) for n in ns]
            records.append("$GENERATE %d-%d $ CNAME $.%s." % (first, last, rz["zone"]))
            out.append("smbvdc_branch.networks['%s']: reverse DNS of %s needs the owner of the parent zone %s "
                       "(your ISP) to delegate it; hand them these records: %s (if the branch owns the whole "
                       "/24, set reverse_parent: true and the branch serves the parent itself)."
                       % (name, rz["network"], rz["parent"], " ; ".join(records)))
    if services.get("mail"):
        served = [domain] + [d for d in mail_domains if d != domain]
        receivers = mail_mod.mailto_domains((mail_settings.get("dmarc_rua") or []) + (mail_settings.get("dmarc_ruf") or []))
        for r in receivers:
            if any(r == z or r.endswith("." + z) for z in served):
                continue
            for d in served:
                out.append("smbvdc_branch.mail.dmarc_rua: %s receives the DMARC reports of %s but the branch does "
                           "not serve its zone, so receivers drop them (RFC 7489 7.1) unless its owner publishes: "
                           "%s._report._dmarc.%s. TXT \"v=DMARC1\"" % (r, d, d, r))
    return out


def _reality(current, kvm_hosts, vms, problems):
    """Where each VM is defined now: ``current`` is ``{kvm host: [domain names]}`` (playbooks/placement.yml).

    A VM defined on one host stays there (its ``current``); one defined on
    two hosts, or pinned by vm_host to another host than its own, stops the
    run: both would otherwise end in a second copy or a rebuilt, empty VM.
    """
    if current is None:
        return
    if not isinstance(current, dict):
        problems.add("smbvdc_current_domains", "must map KVM hosts to lists of domain names, got %r." % (current,),
                     "let playbooks/placement.yml set it.")
        return
    where = {}
    for host in sorted(current):
        names = current[host]
        if host not in kvm_hosts or not isinstance(names, (list, tuple)):
            continue
        for name in names:
            if name in vms:
                where.setdefault(name, []).append(host)
    for name, hosts in sorted(where.items()):
        var = "hostvars['%s']" % name
        if len(hosts) > 1:
            problems.add(var, "is defined on %s: a VM must exist on one KVM host only, and the run would not know "
                         "which copy holds the data." % " and ".join(hosts),
                         "find the copy that is current (its disk's last write, its uptime), undefine the other one "
                         "on its host (virsh undefine %s, keep the disk until you are sure), then run again."
                         % name)
        elif vms[name]["pin"] and vms[name]["pin"] != hosts[0]:
            problems.add(var + ".vm_host", "pins %s to %s, but it is defined on %s: a converge never moves a VM "
                         "(it would build an empty copy)." % (name, vms[name]["pin"], hosts[0]),
                         "move it explicitly (live migration with its storage, docs/multi-host.md), or set "
                         "vm_host: %s." % hosts[0])
        else:
            vms[name]["current"] = hosts[0]


def _remote_secondaries(dns_settings, external, services, warnings):
    """DNS secondaries in other branches (smbvdc_branch.dns.remote_secondaries) as outside secondaries.

    Each becomes ``external_hosts['<host>.<branch>']`` (a name no inventory
    host can have). With its ``address`` it serves like any outside
    secondary (NS record and glue, NOTIFY, transfers); without it, it waits
    for the address, which playbooks/branches.yml prints from the other branch.
    """
    for r in dns_settings.get("remote_secondaries") or []:
        external[r["name"]] = {"name": r["name"], "groups": ["dns_secondary"], "ansible_host": r["address"],
                               "remote_branch": r["branch"], "remote_host": r["host"]}
        if r["address"]:
            services["dns_secondary"] = sorted(services["dns_secondary"] + [r["name"]])
        else:
            warnings.append("smbvdc_branch.dns.remote_secondaries: %s of branch %s has no address here, so it is left "
                            "out of NS records and NOTIFY. Set its address (playbooks/branches.yml prints it from "
                            "branch %s)." % (r["host"], r["branch"], r["branch"]))


def _current_addresses(addresses, vms, networks):
    """Addresses the defined VMs were built with (``{vm: {network, ipv4, ipv6}}``, read by
    playbooks/placement.yml from the domains' metadata). A VM without vm_address keeps its
    address, so adding or renaming another VM never renumbers a running one; an address
    that no longer fits (the VM moved to another network, the subnet changed) is dropped
    and the VM gets a planned one, as the inventory then asks for.
    """
    if not isinstance(addresses, dict):
        return
    for name, rec in sorted(addresses.items()):
        if name not in vms or not isinstance(rec, dict):
            continue
        vm = vms[name]
        net = networks.get(vm["network"])
        if net is None or rec.get("network") not in (None, "", vm["network"]):
            continue
        for key, want, subnet in (("ipv4", "want_ipv4", net["ipv4"]), ("ipv6", "want_ipv6", net["ipv6"])):
            value = rec.get(key)
            if vm[want] is not None or not value or subnet is None:
                continue
            try:
                ip = ipaddress.ip_address(str(value))
            except ValueError:
                continue
            if ip.version == subnet.version and int(subnet.first) < int(ip) < int(subnet.last):
                vm[want] = str(ip)
                vm.setdefault("kept_address", []).append(key)


def build_model(branch, inventory, current=None, addresses=None):
    """Validate and normalise a branch; place its VMs; plan its addresses.

    :param branch: the ``smbvdc_branch`` mapping.
    :param inventory: ``{"groups": {...}, "hostvars": {...}}`` (Ansible's
        ``groups`` and ``hostvars`` work as they are).
    :param current: ``{kvm host: [VM names defined there now]}`` (reality
        first: those VMs stay where they are; only new VMs are placed).
        ``None``: plan from the inventory alone (preflight, capacity).
    :param addresses: ``{vm: {"network", "ipv4", "ipv6"}}`` the defined VMs
        were built with; a VM without vm_address keeps them.
    :raises ModelError: listing every problem, each naming its variable.
    """
    problems = Collector()
    warnings = []
    current_addresses = addresses
    name, domain, mail_domains = _branch_section(branch, problems)
    sites = _sites(branch, problems)
    networks = _networks(branch, sites, problems)
    settings = _budget_settings(branch, problems)
    dns_settings = dns_mod.validate_settings(branch, problems)
    mail_settings = mail_mod.validate_settings(branch, problems)
    monitoring_settings, backup_settings = checks_mod.validate_settings(branch, domain, mail_domains, problems)
    groups = _groups(inventory)
    hv = _HostVars(inventory.get("hostvars"))
    network_names = list(networks)

    # --- KVM hosts -----------------------------------------------------------
    kvm_hosts = {}
    if not groups.get(KVM_GROUP):
        problems.add("groups['%s']" % KVM_GROUP, "the inventory has no KVM host.",
                     "add the physical host(s) under kvm_hosts in hosts.yml with kvm_memory_mb, kvm_vcpus, kvm_disk_gb.")
    for h in groups.get(KVM_GROUP, []):
        var = "hostvars['%s']" % h
        mem = _host_var(hv, h, schema.KVM["kvm_memory_mb"], problems)
        vcpus = _host_var(hv, h, schema.KVM["kvm_vcpus"], problems)
        disk = _host_var(hv, h, schema.KVM["kvm_disk_gb"], problems)
        reserve = _host_var(hv, h, schema.KVM["kvm_os_reserve_mb"], problems)
        if mem is not None and reserve is None and hv.get(h, "kvm_os_reserve_mb") is None:
            reserve_value = budget_mod.default_os_reserve_mb(mem, settings["os_reserve_base_mb"],
                                                             settings["os_reserve_fraction"], settings["os_reserve_max_mb"])
        else:
            reserve_value = reserve
        if mem is not None and reserve_value is not None and reserve_value >= mem:
            problems.add(var + ".kvm_os_reserve_mb", "the OS reserve (%d MiB) leaves nothing of %d MiB for VMs."
                         % (reserve_value, mem), "lower kvm_os_reserve_mb or correct kvm_memory_mb.")
        site = _host_var(hv, h, schema.KVM["kvm_site"], problems) or next(iter(sites), None)
        if site not in sites:
            problems.add(var + ".kvm_site", "site %r is not in smbvdc_branch.sites." % (site,), "add the site or fix the name.")
        addresses = schema.check(hv.get(h, "kvm_addresses") or {}, schema.KVM["kvm_addresses"], var + ".kvm_addresses",
                                 problems) or {}
        for net in addresses:
            if net not in networks:
                problems.add(var + ".kvm_addresses", "network %r is not in smbvdc_branch.networks." % (net,),
                             "use one of: %s." % ", ".join(network_names))
        if not names.LABEL_RE.match(h):
            problems.add("inventory host '%s'" % h, "is not a valid DNS host label.", "use lowercase letters, digits and '-'.")
        kvm_hosts[h] = {"name": h, "memory_mb": mem, "vcpus": vcpus, "disk_gb": disk, "os_reserve_mb": reserve_value,
                        "site": site, "addresses": dict(addresses), "ansible_host": hv.get(h, "ansible_host")}

    # --- VMs and external hosts ---------------------------------------------
    members = {}
    for g in SERVICE_GROUP_NAMES + (VM_GROUP,):
        for h in groups.get(g, []):
            members.setdefault(h, []).append(g)
    vms = {}
    external = {}
    for h in sorted(members):
        var = "hostvars['%s']" % h
        service_groups = sorted(g for g in members[h] if g != VM_GROUP)
        if h in kvm_hosts:
            problems.add("inventory host '%s'" % h, "is both a KVM host and a VM/service host (%s)."
                         % ", ".join(members[h]), "run services in VMs: give the VM its own inventory name.")
            continue
        if not names.LABEL_RE.match(h):
            problems.add("inventory host '%s'" % h, "is not a valid DNS host label (it becomes %s.%s)." % (h, domain),
                         "use lowercase letters, digits and '-' in the inventory name.")
        if h in groups:
            problems.add("inventory host '%s'" % h, "has the same name as an inventory group, so Ansible mixes up "
                         "their variables.", "rename the host, e.g. %s1." % h)
        if hv.get(h, "vm_memory_mb") is None:
            if not service_groups:
                problems.add(var + ".vm_memory_mb", "is required for a VM (the host is in group vms and in no "
                             "service group).", "set the VM's RAM in MiB, e.g. vm_memory_mb: 1024, or remove the host "
                             "from vms.")
                continue
            # A machine that exists (another branch's DNS secondary, an old
            # mail server) may serve in a service group: it has ansible_host
            # and no vm_memory_mb, and no VM is built for it.
            address = _host_var(hv, h, schema.VM["ansible_host"], problems)
            if not address:
                problems.add(var + ".vm_memory_mb",
                             "host is in %s but has neither vm_memory_mb (build it as a VM) nor ansible_host "
                             "(an existing machine)." % ", ".join(service_groups),
                             "set vm_memory_mb to build it, or ansible_host for a machine that exists.")
                continue
            external[h] = {"name": h, "groups": service_groups, "ansible_host": address}
            continue
        mem = _host_var(hv, h, schema.VM["vm_memory_mb"], problems)
        vcpus = _host_var(hv, h, schema.VM["vm_vcpus"], problems)
        disk = _host_var(hv, h, schema.VM["vm_disk_gb"], problems)
        data_disks = _data_disks(hv, h, problems)
        raw_network = hv.get(h, "vm_network")
        network = _host_var(hv, h, schema.VM["vm_network"], problems, network_names[0] if network_names else None)
        if raw_network is None:
            if len(networks) == 1:
                network = network_names[0]
            elif networks:
                problems.add(var + ".vm_network", "is required when the branch has several networks.",
                             "set vm_network to one of: %s." % ", ".join(network_names))
        elif network is not None and network not in networks:
            problems.add(var + ".vm_network", "network %r is not in smbvdc_branch.networks." % (network,),
                         "use one of: %s." % ", ".join(network_names))
            network = None
        pin = _host_var(hv, h, schema.VM["vm_host"], problems, next(iter(kvm_hosts), None))
        want4 = _host_var(hv, h, schema.VM["vm_address"], problems)
        want6 = _host_var(hv, h, schema.VM["vm_address6"], problems)
        if want6 is not None and network in networks and networks[network]["ipv6"] is None:
            problems.add(var + ".vm_address6", "is %s, but network '%s' has no IPv6 subnet." % (want6, network),
                         "add ipv6 to smbvdc_branch.networks['%s'] or remove vm_address6." % network)
            want6 = None
        anti = [str(a) for a in _host_var(hv, h, schema.VM["vm_anti_affinity"], problems) or []]
        state = _host_var(hv, h, schema.VM["vm_state"], problems)
        if {"dns_primary", "dns_secondary"} & set(service_groups):
            anti.append("dns")
        vms[h] = {"name": h, "fqdn": "%s.%s" % (h, domain) if domain else h, "memory_mb": mem, "vcpus": vcpus,
                  "disk_gb": disk, "data_disks": data_disks, "network": network, "pin": pin,
                  "anti_affinity": sorted(set(anti)), "groups": service_groups, "want_ipv4": want4, "want_ipv6": want6, "state": state}

    _check_groups(groups, hv, vms, kvm_hosts, problems, warnings)
    _check_disk_files(vms, problems)
    checks_mod.check_backup_hosts(backup_settings, vms, problems)
    _reality(current, kvm_hosts, vms, problems)
    _current_addresses(current_addresses, vms, networks)

    # --- services -------------------------------------------------------------
    services = {g: sorted(h for h in groups.get(g, []) if h in vms or h in external) for g in SERVICE_GROUP_NAMES}
    _remote_secondaries(dns_settings, external, services, warnings)
    if len(services["dns_primary"]) > 1:
        problems.add("groups['dns_primary']", "has %d hosts (%s); a branch has one DNS primary."
                     % (len(services["dns_primary"]), ", ".join(services["dns_primary"])),
                     "keep one host in dns_primary and move the others to dns_secondary.")
    if services["dns_secondary"] and not services["dns_primary"]:
        problems.add("groups['dns_secondary']", "has secondaries but the branch has no dns_primary.",
                     "add the primary to dns_primary (it may be an existing machine with ansible_host).")
    for h in services["dns_secondary"]:
        if h in services["dns_primary"]:
            problems.add("groups['dns_secondary']", "%s is both primary and secondary DNS." % h,
                         "a secondary must be a different host from its primary.")
    if len(kvm_hosts) > 1:
        for p in services["dns_primary"]:
            for s in services["dns_secondary"]:
                if p in vms and s in vms and vms[p]["pin"] and vms[p]["pin"] == vms[s]["pin"]:
                    problems.add("hostvars['%s'].vm_host" % s, "the secondary DNS is pinned to %s, the same KVM host as "
                                 "its primary %s." % (vms[s]["pin"], p), "pin the secondary to another KVM host.")

    web_settings = web_mod.validate_settings(branch, domain, mail_domains, vms, kvm_hosts, external, services,
                                             dns_settings, problems)
    raw_mail = branch.get("mail") if isinstance(branch.get("mail"), dict) else {}
    if "dkim_selector" in raw_mail and not services["mail"]:
        problems.add("smbvdc_branch.mail.dkim_selector", "a DKIM selector is set but the branch has no mail host.",
                     "add the mail VM to the mail group, or remove smbvdc_branch.mail.")

    # Nothing below makes sense with a broken description: stop here.
    problems.raise_if_any()

    # --- address plan -------------------------------------------------------
    addresses = {}
    for net_name, net in networks.items():
        requests = []
        for h, k in sorted(kvm_hosts.items()):
            if net_name in k["addresses"]:
                requests.append((h, k["addresses"][net_name], None, "hostvars['%s'].kvm_addresses.%s" % (h, net_name),
                                 "hostvars['%s'].kvm_addresses.%s" % (h, net_name)))
        for h, v in sorted(vms.items()):
            if v["network"] == net_name:
                requests.append((h, v["want_ipv4"], v["want_ipv6"], "hostvars['%s'].vm_address" % h,
                                 "hostvars['%s'].vm_address6" % h))
        for h, a in ipplan.assign(net, requests, problems).items():
            addresses.setdefault(h, {})[net_name] = a
    problems.raise_if_any()

    # --- budgets and placement -----------------------------------------------
    host_caps, vm_demands = placement_inputs(kvm_hosts, vms.values(), settings)
    plan = placement_mod.place(host_caps, vm_demands)
    warnings.extend(plan["warnings"])

    for net_name, net in networks.items():
        if net["mode"] in ("nat", "isolated"):
            on = sorted({plan["placement"][v["name"]] for v in vms.values() if v["network"] == net_name})
            if len(on) > 1:
                raise ModelError([Problem("smbvdc_branch.networks['%s'].mode" % net_name,
                                          "a %s network exists inside one KVM host, but its VMs are placed on %s."
                                          % (net["mode"], ", ".join(on)),
                                          "use mode: bridge on a LAN all KVM hosts share, or pin the network's VMs "
                                          "to one host with vm_host.")])

    budgets = {}
    for h, k in sorted(kvm_hosts.items()):
        on_host = [vms[v] for v in plan["hosts"][h]["vms"]]
        budgets[h] = budget_mod.host_budget(k, on_host, settings)

    # --- normalised output (plain types only) ----------------------------------
    out_networks = {}
    for net_name, net in networks.items():
        zones = ipplan.reverse_zones(net["ipv4"]) if net["ipv4"] is not None else []
        if net["ipv6"] is not None:
            zones += ipplan.reverse_zones(net["ipv6"])
        out_networks[net_name] = {
            "name": net_name, "site": net["site"], "mode": net["mode"], "bridge": net["bridge"],
            "ipv4": str(net["ipv4"].cidr) if net["ipv4"] is not None else None,
            "gateway4": str(net["gateway4"]) if net["gateway4"] is not None else None,
            "netmask4": str(net["ipv4"].netmask) if net["ipv4"] is not None else None,
            "prefix4": net["ipv4"].prefixlen if net["ipv4"] is not None else None,
            "ipv6": str(net["ipv6"].cidr) if net["ipv6"] is not None else None,
            "gateway6": str(net["gateway6"]) if net["gateway6"] is not None else None,
            "prefix6": net["ipv6"].prefixlen if net["ipv6"] is not None else None,
            "pool_start": net["pool_start"], "reverse_zones": zones, "reverse_parent": net["reverse_parent"],
        }
    out_vms = {}
    for h, v in sorted(vms.items()):
        a = addresses.get(h, {}).get(v["network"], {"ipv4": None, "ipv6": None})
        out_vms[h] = {"name": h, "fqdn": v["fqdn"], "memory_mb": v["memory_mb"], "vcpus": v["vcpus"],
                      "disk_gb": v["disk_gb"], "data_disks": v["data_disks"], "network": v["network"],
                      "groups": v["groups"], "state": v["state"],
                      "anti_affinity": v["anti_affinity"], "pinned": bool(v["pin"]),
                      "placed_by": "vm_host" if v["pin"] else ("current" if v.get("current") else "placement"),
                      "kvm_host": plan["placement"][h], "ipv4": a["ipv4"], "ipv6": a["ipv6"],
                      "ptr4": ipplan.reverse_pointer(a["ipv4"]) if a["ipv4"] else None,
                      "ptr6": ipplan.reverse_pointer(a["ipv6"]) if a["ipv6"] else None}
    out_kvm = {}
    for h, k in sorted(kvm_hosts.items()):
        out_kvm[h] = {"name": h, "fqdn": "%s.%s" % (h, domain), "memory_mb": k["memory_mb"], "vcpus": k["vcpus"],
                      "disk_gb": k["disk_gb"], "os_reserve_mb": k["os_reserve_mb"], "site": k["site"],
                      "addresses": addresses.get(h, {}), "vms": plan["hosts"][h]["vms"]}
    warnings.extend(_dns_warnings(domain, mail_domains, out_networks, services, mail_settings))
    return {
        "model_version": MODEL_VERSION,
        "name": name,
        "domain": domain,
        "mail_domains": mail_domains,
        "sites": sites,
        "networks": out_networks,
        "budget_settings": settings,
        "kvm_hosts": out_kvm,
        "vms": out_vms,
        "external_hosts": external,
        "services": services,
        "placement": plan,
        "budgets": budgets,
        "dns": dns_settings,
        "mail": mail_settings,
        "monitoring": monitoring_settings,
        "backup": backup_settings,
        "web": web_settings,
        "warnings": warnings,
    }


__all__ = ["build_model", "ModelError", "PlacementError", "is_domain", "SERVICE_GROUP_NAMES"]
