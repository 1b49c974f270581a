# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smbvdc.datacenter developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Several branches validated together (docs/multi-branch.md).

Each branch is validated on its own by ``model.build_model``; this module
checks what only shows when the branches are put side by side:

- no two branches use overlapping subnets (netaddr);
- no zone (branch domain, mail domain, reverse zone) is served by two
  branches; a zone inside another branch's zone is a warning (the parent
  must delegate it);
- every cross-branch DNS secondary (``smbvdc_branch.dns.remote_secondaries``)
  names a branch that is given, and a DNS server of that branch; its address
  comes from that branch (and must equal the one typed here, if any);
- one TSIG key name per pair of branches linked by such a secondary;
- VRRP IDs on shared links: the branch model has no VRRP data yet (no role
  sets up keepalived), so there is nothing to compare; the result says so.

Every problem is collected and raised together (``ModelError``), each naming
the branch's inventory, the variable and the fix.

``load_branch`` reads one inventory directory with Ansible's own inventory
machinery (the only function here that imports Ansible).
"""

from __future__ import annotations

import os

from . import dns as dns_mod
from . import model as model_mod
from .errors import Collector, ModelError, Problem

try:
    import netaddr
    HAS_NETADDR = True
except ImportError:  # pragma: no cover - netaddr is a dependency
    HAS_NETADDR = False

TITLE = "the branches do not fit together"
VRRP_NOTE = ("VRRP IDs on shared links: not checked, the branch model has no VRRP data yet "
             "(no role configures VRRP); nothing to compare.")


def pair_key_name(a, b):
    """The TSIG key name for the pair of branches ``a`` and ``b`` (order does not matter).

    Branch names cannot contain dots, so ``smbvdc-xfr.<first>.<second>`` is
    unambiguous (``a-b`` + ``c`` and ``a`` + ``b-c`` give different names).
    """
    first, second = sorted((a, b))
    return "smbvdc-xfr.%s.%s" % (first, second)


def _label(entry):
    return entry.get("source") or entry["model"]["name"]


def _served_zones(m):
    """Zone names a branch serves as primary: its domain, mail domains and reverse zones."""
    zones = [m["domain"]] + [d for d in m["mail_domains"] if d != m["domain"]]
    for net_name, net in sorted(m["networks"].items()):
        for rz in net["reverse_zones"]:
            zones.append(rz["zone"])
            if rz.get("classless") and net.get("reverse_parent") and rz.get("parent") not in zones:
                zones.append(rz["parent"])
    return zones


def _zone_var(m, zone):
    if zone == m["domain"]:
        return "smbvdc_branch.domain"
    if zone in m["mail_domains"]:
        return "smbvdc_branch.mail_domains"
    for net_name, net in sorted(m["networks"].items()):
        if any(zone in (rz["zone"], rz.get("parent")) for rz in net["reverse_zones"]):
            return "smbvdc_branch.networks['%s']" % net_name
    return "smbvdc_branch"


def _check_subnets(entries, problems):
    items = []
    for e in entries:
        for net_name, net in sorted(e["model"]["networks"].items()):
            for key in ("ipv4", "ipv6"):
                if net.get(key):
                    items.append((e, net_name, key, netaddr.IPNetwork(net[key])))
    for i, (e1, n1, k1, a) in enumerate(items):
        for e2, n2, k2, b in items[i + 1:]:
            if e1 is e2 or a.version != b.version:
                continue
            if a.first <= b.last and b.first <= a.last:
                problems.add("%s: smbvdc_branch.networks['%s'].%s" % (_label(e2), n2, k2),
                             "%s overlaps %s of network '%s' in branch %s (%s)."
                             % (b.cidr, a.cidr, n1, e1["model"]["name"], _label(e1)),
                             "give every branch its own address space, e.g. one 10.<branch>.0.0/16 per branch.")


def _check_zones(entries, problems, warnings):
    owner = {}
    for e in entries:
        m = e["model"]
        for zone in _served_zones(m):
            if zone in owner and owner[zone] is not e:
                other = owner[zone]
                problems.add("%s: %s" % (_label(e), _zone_var(m, zone)),
                             "zone %s is also served by branch %s (%s): two primaries for one zone."
                             % (zone, other["model"]["name"], _label(other)),
                             "let one branch serve %s; the other names its hosts in its own domain." % zone)
            owner.setdefault(zone, e)
    for zone, e in sorted(owner.items()):
        for parent, p in sorted(owner.items()):
            if p is not e and zone.endswith("." + parent) and not zone.endswith(".arpa"):
                warnings.append("%s: zone %s of branch %s lies inside zone %s of branch %s (%s): %s's primary must "
                                "delegate it (NS records for %s in zone %s, with glue for name servers inside it)."
                                % (_label(e), zone, e["model"]["name"], parent, p["model"]["name"], _label(p),
                                   p["model"]["name"], zone, parent))


def _host_address(m, host):
    """(ipv4 list, ipv6 list, kind) of ``host`` in model ``m``; None when the branch does not have it."""
    if host in m["vms"]:
        v = m["vms"][host]
        return [v["ipv4"]] if v["ipv4"] else [], [v["ipv6"]] if v["ipv6"] else []
    if host in m.get("external_hosts", {}):
        a = m["external_hosts"][host].get("ansible_host")
        try:
            ip = netaddr.IPAddress(str(a))
        except Exception:
            return [], []
        return ([str(ip)], []) if ip.version == 4 else ([], [str(ip)])
    return None


def _check_remote_secondaries(entries, problems):
    by_name = {e["model"]["name"]: e for e in entries}
    given = ", ".join(sorted(by_name))
    links = []
    pairs = {}
    for e in entries:
        m = e["model"]
        for i, r in enumerate((m.get("dns") or {}).get("remote_secondaries") or []):
            var = "%s: smbvdc_branch.dns.remote_secondaries[%d]" % (_label(e), i)
            other = by_name.get(r["branch"])
            if other is None:
                problems.add(var + ".branch", "names branch %s, which is not among the branches given (%s), so its "
                             "secondary %s cannot be checked." % (r["branch"], given, r["host"]),
                             "add that branch's inventory directory to branches (-e branches=...,inventories/%s), "
                             "or fix the branch name (its smbvdc_branch.name)." % r["branch"])
                continue
            om = other["model"]
            found = _host_address(om, r["host"])
            dns_servers = om["services"].get("dns_primary", []) + om["services"].get("dns_secondary", [])
            if found is None:
                problems.add(var + ".host", "branch %s (%s) has no host %s." % (r["branch"], _label(other), r["host"]),
                             "name one of its DNS servers: %s." % (", ".join(dns_servers) or "it has none"))
                continue
            if r["host"] not in dns_servers:
                problems.add(var + ".host", "%s is not a DNS server in branch %s (%s): it is in neither "
                             "dns_primary nor dns_secondary there, so nothing runs NSD on it."
                             % (r["host"], r["branch"], _label(other)),
                             "name one of its DNS servers (%s), or add %s to dns_secondary in %s."
                             % (", ".join(dns_servers) or "none", r["host"], _label(other)))
                continue
            v4, v6 = found
            if not (v4 or v6):
                problems.add(var + ".host", "%s has no IP address in branch %s." % (r["host"], r["branch"]),
                             "give it an address there (vm_address, or an IP as ansible_host).")
                continue
            if r.get("address") and r["address"] not in v4 + v6:
                problems.add(var + ".address", "is %s, but %s has %s in branch %s (%s)."
                             % (r["address"], r["host"], ", ".join(v4 + v6), r["branch"], _label(other)),
                             "set address: %s, or leave address out and take it from the other branch."
                             % (v4 + v6)[0])
                continue
            key = pair_key_name(m["name"], r["branch"])
            pairs.setdefault(key, sorted((m["name"], r["branch"])))
            primaries = dns_mod.server_addresses(m)["primary"]
            links.append({
                "branch": m["name"], "secondary_branch": r["branch"], "host": r["host"], "name": r["name"],
                "address": r.get("address") or (v4 + v6)[0], "addresses": v4 + v6,
                "address_given": bool(r.get("address")),
                "zones": _served_zones(m),
                "primaries": sorted(a for p in primaries for a in p["ipv4"] + p["ipv6"]),
                "tsig_key_name": key,
            })
    keys = [{"name": k, "branches": v} for k, v in sorted(pairs.items())]
    return links, keys


def validate(entries):
    """Check built branch models together.

    :param entries: list of ``{"model": <branch model>, "source": <inventory dir, optional>}``.
    :returns: ``{branches, sources, remote_secondaries, tsig_keys, warnings, notes}``.
    :raises ModelError: listing every problem (title: the branches do not fit together).
    """
    if not HAS_NETADDR:  # pragma: no cover
        raise ImportError("the python library netaddr is required on the controller (pip install netaddr)")
    problems = Collector()
    warnings = []
    if not isinstance(entries, (list, tuple)) or not entries:
        raise ValueError("give at least one branch: a list of {model, source}")
    seen = {}
    unique = []
    for e in entries:
        name = e["model"]["name"]
        if name in seen:
            problems.add("%s: smbvdc_branch.name" % _label(e), "branch name %s is also used by %s."
                         % (name, _label(seen[name])), "give every branch its own smbvdc_branch.name.")
            continue
        seen[name] = e
        unique.append(e)
    _check_subnets(unique, problems)
    _check_zones(unique, problems, warnings)
    links, keys = _check_remote_secondaries(unique, problems)
    problems.raise_if_any(title=TITLE)
    return {
        "branches": [e["model"]["name"] for e in unique],
        "sources": {e["model"]["name"]: e.get("source") for e in unique},
        "remote_secondaries": links,
        "tsig_keys": keys,
        "warnings": warnings,
        "notes": [VRRP_NOTE],
    }


def _plain(value):
    """Ansible's tagged/lazy containers as plain dicts, lists and scalars."""
    if isinstance(value, dict) or hasattr(value, "items"):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def load_branch(path):
    """Read one branch inventory directory: ``(smbvdc_branch, {"groups", "hostvars"})``.

    Uses Ansible's InventoryManager and VariableManager, so host_vars,
    group_vars, the enabled vars plugins and vault (the running
    ansible-playbook's vault secrets) behave as in ``-i <path>``. Only the
    variables the model reads are templated.
    """
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar
    from ansible.vars.manager import VariableManager

    if not os.path.isdir(path):
        raise ModelError(Problem("branches", "%s is not a directory." % path,
                                           "give the branch's inventory directory, e.g. inventories/<branch>."))
    loader = DataLoader()
    try:
        from ansible.parsing.vault import VaultSecretsContext
        ctx = VaultSecretsContext.current(optional=True)
        if ctx is not None:
            loader.set_vault_secrets(ctx.secrets)
    except ImportError:  # pragma: no cover - ansible-core before 2.19
        pass
    inventory = InventoryManager(loader=loader, sources=[path])
    variables = VariableManager(loader=loader, inventory=inventory)
    groups = {g: list(h) for g, h in inventory.get_groups_dict().items()}
    hosts = inventory.get_hosts()
    problems = Collector()
    hostvars = {}
    branch = None
    for host in list(hosts) or [inventory.get_host("localhost")]:
        hv = variables.get_vars(host=host, include_hostvars=False)
        templar = Templar(loader=loader, variables=hv)
        keys = list(model_mod.HOST_VAR_KEYS)
        if branch is None:
            keys.append("smbvdc_branch")
        out = {}
        for key in keys:
            if key not in hv:
                continue
            try:
                out[key] = _plain(templar.template(hv[key]))
            except Exception as exc:  # an undefined variable or a vault secret we cannot open
                problems.add("%s: hostvars['%s'].%s" % (path, host.name, key), "cannot be evaluated on the "
                             "controller: %s" % str(exc).splitlines()[0],
                             "define what it refers to, or give the vault password (--ask-vault-pass).")
        if branch is None and "smbvdc_branch" in out:
            branch = out.pop("smbvdc_branch")
        out.pop("smbvdc_branch", None)
        if host.name in [h.name for h in hosts]:
            hostvars[host.name] = out
    problems.raise_if_any(title="cannot read the branch inventory %s" % path)
    if branch is None:
        raise ModelError(Problem("%s: smbvdc_branch" % path, "is not defined in this inventory.",
                                           "create %s/group_vars/all/branch.yml (docs/branch-model.md)." % path))
    return branch, {"groups": groups, "hostvars": hostvars}


def validate_inventories(paths):
    """Load, model and check several branch inventory directories; all problems at once.

    :param paths: list of inventory directories (or one string, comma separated).
    :returns: what ``validate`` returns, plus ``models`` (branch name -> model).
    """
    if isinstance(paths, str):
        paths = [p for p in paths.split(",")]
    paths = [str(p).strip() for p in (paths or []) if str(p).strip()]
    if not paths:
        raise ModelError(Problem("branches", "no branch inventory is given.",
                                           "run with -e branches=inventories/<a>,inventories/<b>."))
    problems = []
    entries = []
    for path in paths:
        try:
            branch, inventory = load_branch(path)
            m = model_mod.build_model(branch, inventory)
        except ModelError as exc:
            problems += [Problem(p.variable if p.variable.startswith(path + ":") else
                                           "%s: %s" % (path, p.variable), p.message, p.fix) for p in exc.problems]
            continue
        entries.append({"model": m, "source": path})
    if problems:
        raise ModelError(problems, title="some branch inventories are not valid")
    result = validate(entries)
    result["models"] = {e["model"]["name"]: e["model"] for e in entries}
    result["inventory_dirs"] = {e["model"]["name"]: os.path.abspath(e["source"]) for e in entries}
    return result
