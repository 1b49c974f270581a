# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smbvdc.datacenter developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Zone data computed from the branch model.

Forward zones (the branch domain and every mail domain) and reverse zones
(every network's, IPv4 including RFC 2317 classless, and IPv6) as lists of
records, rendered to zone-file text here so that the text NSD serves and the
records the tests compare come from one function.

User records and record values are parsed with dnspython (no hand-written
RDATA parsing); conflicts (CNAME beside other data, CNAME at the apex,
duplicate PTR) are rejected naming the variable.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import re

try:
    import dns.name
    import dns.rdata
    import dns.rdataclass
    import dns.rdatatype
    HAS_DNSPYTHON = True
except ImportError:  # pragma: no cover
    HAS_DNSPYTHON = False

from .errors import Collector, ModelError
from . import ipplan
from . import mail as mail_mod
from . import names
from . import web as web_mod

DEFAULTS = {
    "ttl": 3600,
    # SOA timers: NOTIFY makes transfers immediate, so refresh is only the
    # safety net; expire two weeks so a secondary survives a long outage of
    # the primary; negative caching one hour.
    "refresh": 14400,
    "retry": 3600,
    "expire": 1209600,
    "negative_ttl": 3600,
    "hostmaster": None,          # default hostmaster@<domain>
    "records": [],
    "verification": [],
    "caa": [],
    "apex_web": True,
    # secondaries that live in another branch's inventory (validate_remote_secondaries)
    "remote_secondaries": [],
    "service_names": {
        "mail": ["mail", "webmail"],
        "web": ["www"],
        "moodle": ["moodle"],
        "owncloud": ["cloud"],
        "monitoring": ["monitor"],
    },
}
RECORD_TYPES = ("A", "AAAA", "CNAME", "MX", "TXT", "SRV", "CAA", "NS", "PTR")
# record types whose data ends in a host name (the "target")
TARGET_TYPES = ("MX", "NS", "CNAME", "SRV", "PTR")
TXT_CHUNK = 255
MAX_TTL = 2147483647            # RFC 2181 8: TTLs are unsigned 31-bit
# owner-name labels: letters, digits, '-' and '_' (service labels such as
# _dmarc, _25._tcp), at most 63 bytes; '*' alone only as the first label
OWNER_LABEL = re.compile(r"^(\*|[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)$")
HOST_LABEL = names.HOST_LABEL_RE
HASH_TAG = "; smbvdc content-hash: "


def require_dnspython():
    if not HAS_DNSPYTHON:
        raise ImportError("the python library dnspython is required on the controller (pip install dnspython)")


def split_txt(text, size=TXT_CHUNK):
    """Split a TXT value into character-strings of at most ``size`` bytes (RFC 1035 3.3).

    The limit is in bytes of the UTF-8 encoding; a chunk ends before a
    character whose bytes would cross it, so no character is cut apart.
    """
    data = text.encode("utf-8")
    if not data:
        return [""]
    chunks = []
    start = 0
    while start < len(data):
        end = min(start + size, len(data))
        # back off over UTF-8 continuation bytes (10xxxxxx): never split one character
        while end < len(data) and end > start and (data[end] & 0xC0) == 0x80:
            end -= 1
        chunks.append(data[start:end].decode("utf-8"))
        start = end
    return chunks


def _quote(chunk):
    return '"%s"' % chunk.replace("\\", "\\\\").replace('"', '\\"')


# the host-name rule of DNS data lives in names.py (mail.py checks SPF/DMARC domains with it too)
is_hostname = names.is_hostname


def check_owner(name, variable, problems):
    """Record an owner name's problems (relative or absolute); True when it is usable."""
    text = name.rstrip(".") if name not in (".",) else ""
    if text in ("@", ""):
        return True
    labels = text.split(".")
    for i, label in enumerate(labels):
        if not label:
            problems.add(variable, "%r has an empty label (two dots in a row)." % name, "remove the extra dot.")
            return False
        if len(label.encode("utf-8")) > 63:
            problems.add(variable, "label %r of %r is %d bytes long; DNS allows 63 (RFC 1035 2.3.4)."
                         % (label[:20] + "...", name, len(label.encode("utf-8"))), "use a shorter label.")
            return False
        if not OWNER_LABEL.match(label) or (label == "*" and i > 0):
            problems.add(variable, "%r is not a valid DNS name (label %r)." % (name, label),
                         "use letters, digits, '-' and '_' only; '*' only as the whole first label.")
            return False
    return True


def check_ttl(value, variable, problems):
    """A TTL in seconds (0 .. 2^31-1); None when it is not one."""
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).strip().isdigit():
        problems.add(variable, "must be whole seconds between 0 and %d, got %r." % (MAX_TTL, value), "e.g. ttl: 300")
        return None
    number = int(str(value).strip())
    if number > MAX_TTL:
        problems.add(variable, "must be whole seconds between 0 and %d, got %r." % (MAX_TTL, value), "e.g. ttl: 300")
        return None
    return number


def check_txt(value, variable, problems):
    """TXT text: a string without control characters; None when it is not one."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        problems.add(variable, "TXT data must be a string, got %r." % (value,), "quote the text in YAML.")
        return None
    text = str(value)
    bad = sorted({"0x%02x" % ord(c) for c in text if ord(c) < 0x20 or ord(c) == 0x7F})
    if bad:
        problems.add(variable, "TXT data contains control characters (%s)." % ", ".join(bad),
                     "remove line breaks and tabs from the text (YAML folded '>' or plain quotes).")
        return None
    return text


def validate_remote_secondaries(value, own_branch, problems):
    """Normalise ``smbvdc_branch.dns.remote_secondaries``: DNS secondaries in other branches' inventories.

    Each entry is ``{branch: <smbvdc_branch.name there>, host: <inventory name there>, address: <IP, optional>}``.
    The model treats each as an outside secondary named ``<host>.<branch>``
    (docs/multi-branch.md); ``plugins/plugin_utils/branches.py`` checks it
    against the other branch when the branches are validated together.
    """
    var = "smbvdc_branch.dns.remote_secondaries"
    fix = "write a list of {branch: <other branch name>, host: <its DNS server>, address: <its IP>} (docs/multi-branch.md)."
    if not isinstance(value, list):
        problems.add(var, "must be a list, got %r." % (value,), fix)
        return []
    out, seen = [], set()
    for i, entry in enumerate(value):
        v = "%s[%d]" % (var, i)
        if not isinstance(entry, dict) or set(entry) - {"branch", "host", "address"}:
            problems.add(v, "must be a mapping with the keys branch, host and (optionally) address, got %r." % (entry,), fix)
            continue
        branch, host, address = entry.get("branch"), entry.get("host"), entry.get("address")
        bad = [k for k, x in (("branch", branch), ("host", host))
               if not isinstance(x, str) or not names.is_label(x)]
        for k in bad:
            problems.add("%s.%s" % (v, k), "must be a short lowercase name, got %r." % (entry.get(k),),
                         "the other branch's smbvdc_branch.name and the secondary's inventory name there.")
        if bad:
            continue
        if branch == own_branch:
            problems.add(v + ".branch", "names this branch (%s); a secondary of this branch is a host in group "
                         "dns_secondary." % branch, "put %s into dns_secondary instead." % host)
            continue
        if address is not None:
            try:
                address = str(ipaddress.ip_address(str(address)))
            except ValueError:
                problems.add(v + ".address", "%r is not an IP address." % (address,),
                             "give the secondary's IPv4 or IPv6 address, or leave address out.")
                continue
        if (branch, host) in seen:
            problems.add(v, "%s of branch %s is listed twice." % (host, branch), "remove the duplicate.")
            continue
        seen.add((branch, host))
        out.append({"branch": branch, "host": host, "address": address, "name": "%s.%s" % (host, branch)})
    return out


def validate_settings(branch, problems):
    """Normalise ``smbvdc_branch.dns``; record problems.

    ``smbvdc_branch.mail`` (SPF, DMARC, DKIM selector, MX priority) is mail policy:
    ``mail.validate_settings`` checks it.
    """
    out = dict(DEFAULTS)
    raw = branch.get("dns") or {}
    if not isinstance(raw, dict):
        problems.add("smbvdc_branch.dns", "must be a mapping, got %r." % (raw,), "see docs/dns.md.")
        raw = {}
    for key, value in raw.items():
        var = "smbvdc_branch.dns.%s" % key
        if key not in DEFAULTS:
            problems.add(var, "is not a known DNS setting.", "use one of: %s." % ", ".join(sorted(DEFAULTS)))
            continue
        if key in ("ttl", "refresh", "retry", "expire", "negative_ttl"):
            try:
                value = int(value)
                if not 60 <= value <= 2419200:
                    raise ValueError
            except (TypeError, ValueError):
                problems.add(var, "must be seconds between 60 and 2419200, got %r." % (value,), "e.g. %s: 3600" % key)
                continue
        elif key in ("records", "verification", "caa"):
            if not isinstance(value, list):
                problems.add(var, "must be a list, got %r." % (value,), "write it as a YAML list.")
                continue
        elif key == "remote_secondaries":
            value = validate_remote_secondaries(value, branch.get("name"), problems)
        elif key == "service_names":
            if not isinstance(value, dict) or not all(isinstance(v, list) for v in value.values()):
                problems.add(var, "must map service groups to lists of names.", "e.g. {web: [www]}")
                continue
            bad = [(g, n) for g, names in value.items() for n in names
                   if not isinstance(n, str) or not HOST_LABEL.match(n) or n.startswith("_")]
            if bad:
                problems.add(var, "%s: %r is not a DNS label." % bad[0], "use names such as www or webmail.")
                continue
            merged = dict(DEFAULTS["service_names"])
            merged.update(value)
            value = merged
        out[key] = value
    if out["refresh"] <= out["retry"]:
        problems.add("smbvdc_branch.dns.retry", "must be shorter than refresh (%s s)." % out["refresh"],
                     "e.g. refresh: 14400, retry: 3600")
    if out["expire"] < out["refresh"] + out["retry"]:
        problems.add("smbvdc_branch.dns.expire", "(%s s) is shorter than refresh + retry (%s s): secondaries would "
                     "drop the zone before their first retry." % (out["expire"], out["refresh"] + out["retry"]),
                     "use two weeks or more, e.g. expire: 1209600 (RFC 1912 2.2).")
    hostmaster = out.get("hostmaster")
    if hostmaster is not None:
        local, at, dom = str(hostmaster).partition("@")
        if not isinstance(hostmaster, str) or not at or not local or any(c.isspace() or c in "@;()\"" for c in local) \
                or not is_hostname(dom):
            problems.add("smbvdc_branch.dns.hostmaster", "must be a mail address such as hostmaster@example.org, got %r."
                         % (hostmaster,), "write the SOA contact as local@domain.")
    return out


def server_addresses(model):
    """The branch's DNS servers: ``{"primary": [...], "secondaries": [...]}``.

    Each entry is ``{name, fqdn, ipv4: [..], ipv6: [..]}``; the NSD role takes
    NOTIFY targets and transfer sources from here.
    """
    hosts = _host_addresses(model)
    out = {}
    for key, group in (("primary", "dns_primary"), ("secondaries", "dns_secondary")):
        out[key] = [{"name": h, "fqdn": hosts[h][0], "ipv4": hosts[h][1], "ipv6": hosts[h][2]}
                    for h in model["services"].get(group, [])]
    return out


def _host_addresses(model):
    """name -> (fqdn, [ipv4...], [ipv6...]) for every host the model knows."""
    out = {}
    for name, vm in model["vms"].items():
        out[name] = (vm["fqdn"], [vm["ipv4"]] if vm["ipv4"] else [], [vm["ipv6"]] if vm["ipv6"] else [])
    for name, k in model["kvm_hosts"].items():
        v4 = [a["ipv4"] for a in k.get("addresses", {}).values() if a.get("ipv4")]
        v6 = [a["ipv6"] for a in k.get("addresses", {}).values() if a.get("ipv6")]
        out[name] = (k["fqdn"], v4, v6)
    for name, e in model.get("external_hosts", {}).items():
        v4, v6 = [], []
        try:
            import netaddr
            ip = netaddr.IPAddress(str(e["ansible_host"]))
            (v4 if ip.version == 4 else v6).append(str(ip))
        except Exception:
            pass
        out[name] = ("%s.%s" % (name, model["domain"]), v4, v6)
    return out


class _Zone(object):
    def __init__(self, origin):
        self.origin = origin
        self.records = []     # (owner, type, ttl or None, value or [txt chunks], variable)

    def add(self, owner, rtype, value, variable, ttl=None):
        self.records.append((owner, rtype, ttl, value, variable))


def _rel(fqdn, origin):
    """Owner name relative to ``origin`` ('@' for the apex)."""
    fqdn = fqdn.rstrip(".").lower()
    if fqdn == origin:
        return "@"
    if fqdn.endswith("." + origin):
        return fqdn[: -len(origin) - 1]
    return fqdn + "."


def _abs(name):
    return name.rstrip(".") + "."


def _check_conflicts(zone, problems):
    owners = {}
    for owner, rtype, _ttl, value, variable in zone.records:
        owners.setdefault(owner, []).append((rtype, value, variable))
    for owner, recs in owners.items():
        types = [r[0] for r in recs]
        if "CNAME" in types:
            var = [r[2] for r in recs if r[0] == "CNAME"][0]
            if owner == "@":
                problems.add(var, "a CNAME at the apex of %s is not allowed (RFC 1912 2.4)." % zone.origin,
                             "use A/AAAA records at the apex.")
            elif len(recs) > 1:
                others = sorted(set(t for t in types if t != "CNAME")) or ["a second CNAME"]
                problems.add(var, "%s.%s has a CNAME beside other data (%s)." % (owner, zone.origin, ", ".join(others)),
                             "a name with a CNAME may have no other records: remove one of them.")
        ptrs = [r for r in recs if r[0] == "PTR"]
        if len(ptrs) > 1:
            problems.add(ptrs[1][2], "%s.%s has more than one PTR (%s)." % (owner, zone.origin,
                                                                           ", ".join(str(p[1]) for p in ptrs)),
                         "give each address one name; use CNAMEs for the others in the forward zone.")


def _user_records(zone, entries, variable, problems):
    require_dnspython()
    origin = dns.name.from_text(zone.origin)
    for i, r in enumerate(entries):
        var = "%s[%d]" % (variable, i)
        if not isinstance(r, dict) or "type" not in r or "value" not in r:
            problems.add(var, "must be a mapping with name, type and value, got %r." % (r,),
                         "e.g. {name: www, type: CNAME, value: web1}")
            continue
        rtype = str(r["type"]).upper()
        if rtype not in RECORD_TYPES:
            problems.add(var + ".type", "%r is not a supported record type." % r["type"], "use one of %s." % ", ".join(RECORD_TYPES))
            continue
        raw_name = r.get("name", "@")
        if isinstance(raw_name, bool) or not isinstance(raw_name, (str, int)):
            problems.add(var + ".name", "must be a name (a string), got %r." % (raw_name,), "e.g. name: www")
            continue
        name = str(raw_name).strip() if isinstance(raw_name, int) else raw_name
        if not check_owner(name, var + ".name", problems):
            continue
        owner = "@" if name in ("@", "", zone.origin, zone.origin + ".") else _rel(name if name.endswith(".") else
                                                                                 "%s.%s" % (name, zone.origin), zone.origin)
        if owner.endswith("."):
            problems.add(var + ".name", "%s is outside the zone %s." % (name, zone.origin), "use a name inside the zone.")
            continue
        full = zone.origin if owner == "@" else "%s.%s" % (owner, zone.origin)
        if len(full) > 253:
            problems.add(var + ".name", "%s. is %d characters long; DNS names have at most 253 (RFC 1035 3.1)."
                         % (full, len(full)), "use a shorter name.")
            continue
        ttl = r.get("ttl")
        if ttl is not None:
            ttl = check_ttl(ttl, var + ".ttl", problems)
            if ttl is None:
                continue
        value = r["value"]
        if rtype == "TXT":
            text = check_txt(value, var + ".value", problems)
            if text is not None:
                zone.add(owner, rtype, split_txt(text), var, ttl)
            continue
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            problems.add(var + ".value", "must be the record data as a string, got %r." % (value,), "quote it in YAML.")
            continue
        value = str(value).strip()
        if rtype in TARGET_TYPES and value:
            target = value.split()[-1].rstrip(".")
            try:
                ipaddress.ip_address(target)
                problems.add(var + ".value", "%s data %r points at an IP address; %s needs a host name "
                             "(RFC 1035 3.3)." % (rtype, value, rtype),
                             "point it at the host's name and give that name an A/AAAA record.")
                continue
            except ValueError:
                pass
        try:
            rd = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.from_text(rtype), value, origin=origin)
        except Exception as exc:  # dnspython raises many syntax error types
            problems.add(var + ".value", "%r is not valid %s data: %s." % (value, rtype, exc), "fix the value.")
            continue
        zone.add(owner, rtype, rd.to_text(origin=origin, relativize=False), var, ttl)


def _absolute(owner, origin):
    """The absolute name (no trailing dot) of a record owner of zone ``origin``."""
    if owner == "@":
        return origin
    if owner.endswith("."):
        return owner.rstrip(".").lower()
    return ("%s.%s" % (owner, origin)).lower()


def _authority(name, zone_names):
    """The deepest of ``zone_names`` that holds ``name`` (None when the branch serves none)."""
    best = None
    for z in zone_names:
        if (name == z or name.endswith("." + z)) and (best is None or len(z) > len(best)):
            best = z
    return best


def _delegate(zones, hosts, ns_hosts, problems):
    """NS records and in-bailiwick glue in every served parent for every served child zone.

    A branch that serves example.org and branch.example.org must delegate
    ``branch`` from example.org, with the addresses of name servers inside
    branch.example.org as glue, or resolvers (and BIND's checks) never reach
    the child. Data of the parent at or below the cut would be hidden by the
    delegation, so it is reported.
    """
    names = list(zones)
    for child in sorted(names, key=lambda n: (n.count("."), n)):
        parent = _authority(child.split(".", 1)[1], names) if "." in child else None
        if parent is None:
            continue
        pz = zones[parent]
        cut = _rel(child, parent)
        for owner, rtype, _ttl, _value, var in pz.records:
            name = _absolute(owner, parent)
            if name == child or name.endswith("." + child):
                problems.add(var, "%s %s is in %s, which the branch serves as its own zone, so the delegation from %s "
                             "hides it." % (name, rtype, child, parent),
                             "put the record in zone %s, or rename the host or service name." % child)
        for h in ns_hosts:
            fqdn, v4, v6 = hosts[h]
            pz.add(cut, "NS", _abs(fqdn), "groups['dns_primary']")
            if fqdn == child or fqdn.endswith("." + child):
                glue = _rel(fqdn, parent)
                if not (v4 or v6):
                    problems.add("hostvars['%s'].ansible_host" % h, "the name server %s is inside %s but has no "
                                 "address for the glue in %s." % (fqdn, child, parent),
                                 "give it an IP address as ansible_host.")
                for a in v4:
                    pz.add(glue, "A", a, "hostvars['%s']" % h)
                for a in v6:
                    pz.add(glue, "AAAA", a, "hostvars['%s']" % h)


def _check_targets(zones, problems):
    """MX, NS, SRV and CNAME targets inside the branch's zones must exist (and be no CNAME).

    Targets in zones the branch does not serve cannot be resolved on a
    machine without internet; they are left to the receiving side.
    """
    names = list(zones)
    index = {}
    for zname, z in zones.items():
        for owner, rtype, _ttl, _value, _var in z.records:
            index.setdefault(zname, {}).setdefault(_absolute(owner, zname), set()).add(rtype)
    for zname, z in zones.items():
        for owner, rtype, _ttl, value, var in z.records:
            if rtype not in ("MX", "NS", "SRV", "CNAME"):
                continue
            target = str(value).split()[-1].rstrip(".").lower()
            if not target:       # null MX (RFC 7505) or SRV "." (no service)
                continue
            az = _authority(target, names)
            if az is None:
                continue
            types = index.get(az, {}).get(target)
            if types is None and "." in target:
                types = index.get(az, {}).get("*." + target.split(".", 1)[1])
            types = types or set()
            src = "%s %s" % (_absolute(owner, zname), rtype)
            if "CNAME" in types and rtype != "CNAME":
                problems.add(var, "%s points at %s, which is a CNAME; %s targets must be the host's own name "
                             "(RFC 2181 10.3)." % (src, target, rtype), "point it at the CNAME's target.")
            elif rtype == "CNAME" and not types:
                problems.add(var, "%s points at %s, which zone %s does not have." % (src, target, az),
                             "point it at an existing name or add the record.")
            elif rtype != "CNAME" and not types & {"A", "AAAA"}:
                problems.add(var, "%s points at %s, which has no A or AAAA record in zone %s." % (src, target, az),
                             "give %s an address, or point at a host that has one." % target)


def build_zones(model, dkim_keys=None):
    """All zones of the branch as ``{name: {"kind", "records": [...]}}``.

    :param model: the branch model (``model["dns"]`` and ``model["mail"]`` hold the
        settings validated by ``validate_settings``).
    :param dkim_keys: ``{domain: {"selector": str, "public_key": base64 str}}`` from the
        mail hosts; absent domains get no DKIM record yet.
    :raises ModelError: naming the offending variable.
    """
    require_dnspython()
    problems = Collector()
    settings = model.get("dns") or dict(DEFAULTS)
    mail = model.get("mail") or dict(mail_mod.MAIL_DEFAULTS)
    domain = model["domain"]
    hosts = _host_addresses(model)
    services = model["services"]
    ns_hosts = list(services.get("dns_primary", [])) + list(services.get("dns_secondary", []))
    mail_hosts = services.get("mail", [])
    zones = {}
    report_domains = {}   # mail domain -> other domains that receive its DMARC reports
    forward = {}          # zone name -> _Zone, until every zone is built

    if dkim_keys:
        if not mail_hosts:
            problems.add("smbvdc_branch.mail.dkim_selector", "DKIM keys are given but the branch has no mail host.",
                         "add the mail VM to the mail group, or drop the DKIM keys.")
        for d, key in dkim_keys.items():
            if d not in model["mail_domains"]:
                problems.add("dkim_keys['%s']" % d, "is not one of the branch's mail domains (%s)."
                             % ", ".join(model["mail_domains"]), "add it to smbvdc_branch.mail_domains.")

    for zname in [domain] + [d for d in model["mail_domains"] if d != domain]:
        z = _Zone(zname)
        if not ns_hosts:
            problems.add("groups['dns_primary']", "the branch has no DNS server to name in NS records.",
                         "add a dns_primary host.")
        for h in ns_hosts:
            fqdn, v4, v6 = hosts[h]
            z.add("@", "NS", _abs(fqdn), "groups['dns_primary']")
            if zname == domain and not (v4 or v6):
                problems.add("hostvars['%s'].ansible_host" % h, "the name server %s is inside %s but has no address "
                             "for its glue record." % (fqdn, zname), "give it an IP address as ansible_host.")
        if zname == domain:
            for h, (fqdn, v4, v6) in sorted(hosts.items()):
                if not fqdn.endswith("." + domain):
                    continue
                owner = _rel(fqdn, domain)
                for a in v4:
                    z.add(owner, "A", a, "hostvars['%s']" % h)
                for a in v6:
                    z.add(owner, "AAAA", a, "hostvars['%s']" % h)
            for group, names in sorted(settings["service_names"].items()):
                members = services.get(group, [])
                if not members:
                    continue
                for sname in names:
                    var = "smbvdc_branch.dns.service_names.%s" % group
                    if sname in hosts:
                        if sname not in members:
                            problems.add(var, "service name '%s' is also the name of host %s." % (sname, sname),
                                         "rename the host or change dns.service_names.%s." % group)
                        continue
                    if len(members) == 1:
                        z.add(sname, "CNAME", _abs(hosts[members[0]][0]), var)
                    else:
                        for m in members:
                            for a in hosts[m][1]:
                                z.add(sname, "A", a, var)
                            for a in hosts[m][2]:
                                z.add(sname, "AAAA", a, var)
            if settings.get("apex_web") and services.get("web"):
                for m in services["web"]:
                    for a in hosts[m][1]:
                        z.add("@", "A", a, "smbvdc_branch.dns.apex_web")
                    for a in hosts[m][2]:
                        z.add("@", "AAAA", a, "smbvdc_branch.dns.apex_web")
        # web sites (plugin_utils/web.py): a CNAME to the site's web VM, or its
        # addresses at a zone apex; a name the service names already point at
        # that VM is there once
        for fqdn, szone, shost, var in web_mod.site_records(model):
            if szone != zname or shost not in hosts or fqdn == hosts[shost][0]:
                continue
            owner = _rel(fqdn, zname)
            if owner == "@":
                if zname == domain and settings.get("apex_web") and services.get("web") == [shost]:
                    continue
                for a in hosts[shost][1]:
                    z.add("@", "A", a, var)
                for a in hosts[shost][2]:
                    z.add("@", "AAAA", a, var)
                continue
            target = _abs(hosts[shost][0])
            if any(r[0] == owner and r[1] == "CNAME" and r[3] == target for r in z.records):
                continue
            z.add(owner, "CNAME", target, var)
        if mail_hosts:
            for m in mail_hosts:
                z.add("@", "MX", "%d %s" % (int(mail["mx_priority"]), _abs(hosts[m][0])), "groups['mail']")
            terms = ["v=spf1"]
            for m in mail_hosts:
                terms += ["ip4:%s" % a for a in hosts[m][1]] + ["ip6:%s" % a for a in hosts[m][2]]
            terms += list(mail["spf_extra"]) + [mail["spf_policy"]]
            z.add("@", "TXT", split_txt(" ".join(terms)), "smbvdc_branch.mail.spf_extra")
            rua = mail_mod.uri_list(mail["dmarc_rua"]) or ["mailto:postmaster@%s" % zname]
            dmarc = "v=DMARC1; p=%s; rua=%s" % (mail["dmarc_policy"], ",".join(rua))
            if mail["dmarc_ruf"]:
                dmarc += "; ruf=%s" % ",".join(mail_mod.uri_list(mail["dmarc_ruf"]))
            report_domains.setdefault(zname, [])
            for d in mail_mod.mailto_domains(rua + mail_mod.uri_list(mail["dmarc_ruf"])):
                if d != zname and d not in report_domains[zname]:
                    report_domains[zname].append(d)
            if int(mail["dmarc_pct"]) != 100:
                # pct=100 is the default (RFC 7489 6.3), and DMARCbis drops the tag: write it only when it says something
                dmarc += "; pct=%d" % int(mail["dmarc_pct"])
            z.add("_dmarc", "TXT", split_txt(dmarc), "smbvdc_branch.mail.dmarc_policy")
            key = (dkim_keys or {}).get(zname)
            if key:
                selector = key.get("selector") or mail["dkim_selector"]
                pub = re.sub(r"\s+", "", str(key.get("public_key", "")))
                if not re.match(r"^[A-Za-z0-9+/]+=*$", pub):
                    problems.add("dkim_keys['%s'].public_key" % zname, "is not a base64 public key.",
                                 "pass the p= value of the DKIM key (base64, no headers).")
                else:
                    z.add("%s._domainkey" % selector, "TXT", split_txt("v=DKIM1; k=rsa; p=%s" % pub),
                          "smbvdc_branch.mail.dkim_selector")
        for i, v in enumerate(settings["verification"] if zname == domain else []):
            var = "smbvdc_branch.dns.verification[%d]" % i
            if isinstance(v, str):
                v = {"name": "@", "value": v}
            if not isinstance(v, dict) or not v.get("value"):
                problems.add(var, "must be a token string or {name, value}, got %r." % (v,), "e.g. 'google-site-verification=abc'")
                continue
            _user_records(z, [{"name": v.get("name", "@"), "type": "TXT", "value": v["value"]}], var, problems)
        if zname == domain:
            _user_records(z, [{"name": "@", "type": "CAA", "value": c} if isinstance(c, str) else c
                              for c in settings["caa"]], "smbvdc_branch.dns.caa", problems)
        _user_records(z, [r for r in settings["records"] if isinstance(r, dict) and r.get("zone", domain) == zname]
                      + [r for r in settings["records"] if not isinstance(r, dict)],
                      "smbvdc_branch.dns.records", problems)
        forward[zname] = z

    # RFC 7489 7.1: a domain that receives another domain's DMARC reports says
    # so with <domain>._report._dmarc.<receiver> TXT "v=DMARC1"; published
    # here whenever the branch serves the receiving domain (the model warns
    # when it does not).
    for zname, receivers in sorted(report_domains.items()):
        for d in receivers:
            az = _authority(d, list(forward))
            if az is not None:
                forward[az].add(_rel("%s._report._dmarc.%s" % (zname, d), az), "TXT", ["v=DMARC1"],
                                "smbvdc_branch.mail.dmarc_rua")

    # reverse zones
    reverse = {}
    parents = {}          # RFC 2317 parent zone -> [(classless child, network name)]
    for net_name, net in sorted(model["networks"].items()):
        for rz in net["reverse_zones"]:
            if rz["classless"] and net.get("reverse_parent"):
                parents.setdefault(rz["parent"], []).append((rz["zone"], net_name))
            z = _Zone(rz["zone"])
            for h in ns_hosts:
                z.add("@", "NS", _abs(hosts[h][0]), "groups['dns_primary']")
            for h, (fqdn, v4, v6) in sorted(hosts.items()):
                for a in v4 + v6:
                    if ipplan.zone_for_address(a, [rz]) != rz["zone"]:
                        continue
                    if rz["classless"]:
                        owner = a.split(".")[-1]
                    else:
                        owner = _rel(ipplan.reverse_pointer(a), rz["zone"])
                    z.add(owner, "PTR", _abs(fqdn), "hostvars['%s']" % h)
            _user_records(z, [r for r in settings["records"] if isinstance(r, dict) and r.get("zone") == rz["zone"]],
                          "smbvdc_branch.dns.records", problems)
            reverse[rz["zone"]] = (z, {"kind": "reverse", "network": rz["network"], "classless": rz["classless"],
                                       "parent": rz["parent"]})

    # RFC 2317 parents the branch serves itself (private space, or a block it
    # owns: networks[].reverse_parent): a CNAME per address into the classless
    # child, so that a plain reverse lookup finds the PTR. The NS delegation to
    # the child is added with every other delegation below.
    for parent, children in sorted(parents.items()):
        if parent in reverse:
            continue
        z = _Zone(parent)
        for h in ns_hosts:
            z.add("@", "NS", _abs(hosts[h][0]), "groups['dns_primary']")
        for child, net_name in children:
            for owner in sorted({r[0] for r in reverse[child][0].records if r[1] == "PTR"}, key=_octet):
                z.add(owner, "CNAME", "%s.%s." % (owner, child), "smbvdc_branch.networks['%s'].reverse_parent" % net_name)
        _user_records(z, [r for r in settings["records"] if isinstance(r, dict) and r.get("zone") == parent],
                      "smbvdc_branch.dns.records", problems)
        base = ".".join(reversed(parent.split(".")[:3])) + ".0/24"
        reverse[parent] = (z, {"kind": "reverse", "network": base, "classless": False, "parent": None,
                               "classless_children": [c for c, _n in children]})

    every = dict(forward)
    every.update({name: z for name, (z, _meta) in reverse.items()})
    _delegate(every, hosts, ns_hosts, problems)
    for z in every.values():
        _check_conflicts(z, problems)
    _check_targets(every, problems)
    for zname, z in forward.items():
        zones[zname] = {"kind": "forward", "origin": zname, "records": z.records}
    for zname, (z, meta) in sorted(reverse.items()):
        zones[zname] = dict(meta, origin=zname, records=z.records)
    problems.raise_if_any(ModelError, title="the branch's DNS data is not valid")
    return zones


def _octet(owner):
    return (0, int(owner)) if owner.isdigit() else (1, owner)


def _body(zone, settings):
    lines = []
    for owner, rtype, ttl, value, _var in sorted(zone["records"], key=_sort_key):
        if rtype == "TXT":
            value = " ".join(_quote(c) for c in value)
        lines.append("%-24s %s IN %-5s %s" % (owner, ttl if ttl is not None else "", rtype, value))
    return lines


_TYPE_ORDER = {"NS": 0, "MX": 1, "A": 2, "AAAA": 3, "CNAME": 4, "TXT": 5, "CAA": 6, "SRV": 7, "PTR": 8}


def _sort_key(rec):
    owner = rec[0]
    return (owner != "@", owner, _TYPE_ORDER.get(rec[1], 9), str(rec[3]))


def content_hash(zone, model):
    """Hash of everything in the zone except its serial."""
    settings = model.get("dns") or DEFAULTS
    primary = (model["services"].get("dns_primary") or [None])[0]
    text = "\n".join(_body(zone, settings)) + "|%s|%s|%s|%s|%s|%s|%s" % (
        settings["ttl"], settings["refresh"], settings["retry"], settings["expire"], settings["negative_ttl"],
        settings.get("hostmaster"), primary)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def next_serial(previous_serial, previous_hash, new_hash, today=None):
    """YYYYMMDDnn serial that changes only when the content changes.

    Same content -> same serial. New content -> today's first serial, or one
    more than the previous serial when that is already today's (or later).
    """
    today = today or datetime.date.today()
    base = int(today.strftime("%Y%m%d")) * 100
    if previous_serial is not None and previous_hash == new_hash:
        return int(previous_serial)
    if previous_serial is None:
        return base
    return max(base, int(previous_serial) + 1)


def parse_previous(text):
    """(serial, content hash) from a zone file this module wrote, else (None, None)."""
    if not text:
        return None, None
    h = s = None
    for line in text.splitlines():
        if line.startswith(HASH_TAG):
            h = line[len(HASH_TAG):].strip()
        m = re.match(r"^@\s+\S*\s*IN\s+SOA\s+\S+\s+\S+\s+\(?\s*(\d+)", line)
        if m:
            s = int(m.group(1))
    return s, h


def render_zone(zone, model, previous_text=None, today=None, header=""):
    """Zone-file text for ``zone`` (one entry of ``build_zones``)."""
    settings = model.get("dns") or DEFAULTS
    primary = model["services"].get("dns_primary") or []
    hosts = _host_addresses(model)
    mname = _abs(hosts[primary[0]][0]) if primary else _abs("ns." + model["domain"])
    hostmaster = settings.get("hostmaster") or "hostmaster@%s" % model["domain"]
    local, _, dom = hostmaster.partition("@")
    rname = _abs("%s.%s" % (local.replace(".", "\\."), dom))
    chash = content_hash(zone, model)
    prev_serial, prev_hash = parse_previous(previous_text)
    serial = next_serial(prev_serial, prev_hash, chash, today)
    lines = []
    if header:
        lines += [header.rstrip("\n")]
    lines += [HASH_TAG + chash,
              "$ORIGIN %s" % _abs(zone["origin"]),
              "$TTL %d" % int(settings["ttl"]),
              "@ IN SOA %s %s %d %d %d %d %d" % (mname, rname, serial, int(settings["refresh"]), int(settings["retry"]),
                                                  int(settings["expire"]), int(settings["negative_ttl"]))]
    lines += _body(zone, settings)
    return "\n".join(lines) + "\n"
