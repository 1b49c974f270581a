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
    "service_names": {
        "mail": ["mail", "webmail"],
        "web": ["www"],
        "moodle": ["moodle"],
        "owncloud": ["cloud"],
        "monitoring": ["monitor"],
    },
}
MAIL_DEFAULTS = {
    "dkim_selector": "smbvdc",
    "spf_extra": [],
    "spf_policy": "-all",
    "dmarc_policy": "quarantine",
    "dmarc_rua": None,           # default mailto:postmaster@<domain>
    "dmarc_ruf": None,
    "dmarc_pct": 100,
    "mx_priority": 10,
}
RECORD_TYPES = ("A", "AAAA", "CNAME", "MX", "TXT", "SRV", "CAA", "NS", "PTR")
SPF_TERM = re.compile(r"^(include:|ip4:|ip6:|a(:|/|$)|mx(:|/|$)|exists:|redirect=)")
TXT_CHUNK = 255
HASH_TAG = "; smbvdc content-hash: "


def require_dnspython():
    if not HAS_DNSPYTHON:
        raise ImportError("the python library dnspython is required on the controller (pip install dnspython)")


def split_txt(text, size=TXT_CHUNK):
    """Split a TXT value into character-strings of at most ``size`` bytes (RFC 1035 3.3)."""
    data = text.encode("utf-8")
    if not data:
        return [""]
    return [data[i:i + size].decode("utf-8") for i in range(0, len(data), size)]


def _quote(chunk):
    return '"%s"' % chunk.replace("\\", "\\\\").replace('"', '\\"')


def validate_settings(branch, problems):
    """Normalise ``smbvdc_branch.dns`` and ``smbvdc_branch.mail``; record problems."""
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
        elif key == "service_names":
            if not isinstance(value, dict) or not all(isinstance(v, list) for v in value.values()):
                problems.add(var, "must map service groups to lists of names.", "e.g. {web: [www]}")
                continue
            merged = dict(DEFAULTS["service_names"])
            merged.update(value)
            value = merged
        out[key] = value
    if out["refresh"] <= out["retry"]:
        problems.add("smbvdc_branch.dns.retry", "must be shorter than refresh (%s s)." % out["refresh"],
                     "e.g. refresh: 14400, retry: 3600")
    mail = dict(MAIL_DEFAULTS)
    raw = branch.get("mail") or {}
    if not isinstance(raw, dict):
        problems.add("smbvdc_branch.mail", "must be a mapping, got %r." % (raw,), "see docs/dns.md.")
        raw = {}
    for key, value in raw.items():
        var = "smbvdc_branch.mail.%s" % key
        if key not in MAIL_DEFAULTS:
            problems.add(var, "is not a known mail setting.", "use one of: %s." % ", ".join(sorted(MAIL_DEFAULTS)))
            continue
        if key == "dkim_selector" and (not isinstance(value, str) or not re.match(r"^[a-z0-9][a-z0-9-]{0,62}$", value)):
            problems.add(var, "must be a DNS label such as 'smbvdc' or '2026a', got %r." % (value,),
                         "choose a short lowercase selector.")
            continue
        if key == "spf_policy" and value not in ("-all", "~all", "?all"):
            problems.add(var, "must be -all, ~all or ?all, got %r." % (value,), "-all once every sender is listed.")
            continue
        if key == "spf_extra":
            if not isinstance(value, list):
                problems.add(var, "must be a list of SPF terms.", "e.g. [include:_spf.example.net]")
                continue
            for i, term in enumerate(value):
                if not isinstance(term, str) or not SPF_TERM.match(term):
                    problems.add("%s[%d]" % (var, i), "%r is not an SPF mechanism." % (term,),
                                 "use include:, ip4:, ip6:, a, mx or exists: terms.")
        if key == "dmarc_policy" and value not in ("none", "quarantine", "reject"):
            problems.add(var, "must be none, quarantine or reject, got %r." % (value,), "start with quarantine.")
            continue
        if key in ("dmarc_rua", "dmarc_ruf") and value is not None and not str(value).startswith("mailto:"):
            problems.add(var, "must be a mailto: URI, got %r." % (value,), "e.g. mailto:dmarc@example.org")
            continue
        if key == "dmarc_pct":
            try:
                value = int(value)
                if not 0 <= value <= 100:
                    raise ValueError
            except (TypeError, ValueError):
                problems.add(var, "must be 0-100, got %r." % (value,), "100 applies the policy to all mail.")
                continue
        if key == "mx_priority":
            try:
                value = int(value)
                if not 0 <= value <= 65535:
                    raise ValueError
            except (TypeError, ValueError):
                problems.add(var, "must be 0-65535, got %r." % (value,), "e.g. 10")
                continue
        mail[key] = value
    return out, mail


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


def _user_records(zone, entries, variable, problems, apex_only=False):
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
        name = str(r.get("name", "@"))
        owner = "@" if name in ("@", "", zone.origin, zone.origin + ".") else _rel(name if name.endswith(".") else
                                                                                 "%s.%s" % (name, zone.origin), zone.origin)
        if owner.endswith("."):
            problems.add(var + ".name", "%s is outside the zone %s." % (name, zone.origin), "use a name inside the zone.")
            continue
        ttl = r.get("ttl")
        if ttl is not None:
            try:
                ttl = int(ttl)
            except (TypeError, ValueError):
                problems.add(var + ".ttl", "must be seconds, got %r." % (ttl,), "e.g. ttl: 300")
                continue
        value = r["value"]
        if rtype == "TXT":
            chunks = split_txt(str(value))
            zone.add(owner, rtype, chunks, var, ttl)
            continue
        try:
            rd = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.from_text(rtype), str(value), origin=origin)
        except Exception as exc:  # dnspython raises many syntax error types
            problems.add(var + ".value", "%r is not valid %s data: %s." % (value, rtype, exc), "fix the value.")
            continue
        zone.add(owner, rtype, rd.to_text(origin=origin, relativize=False), var, ttl)


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
    mail = model.get("mail") or dict(MAIL_DEFAULTS)
    domain = model["domain"]
    hosts = _host_addresses(model)
    services = model["services"]
    ns_hosts = list(services.get("dns_primary", [])) + list(services.get("dns_secondary", []))
    mail_hosts = services.get("mail", [])
    zones = {}

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
        if mail_hosts:
            for m in mail_hosts:
                z.add("@", "MX", "%d %s" % (int(mail["mx_priority"]), _abs(hosts[m][0])), "groups['mail']")
            terms = ["v=spf1"]
            for m in mail_hosts:
                terms += ["ip4:%s" % a for a in hosts[m][1]] + ["ip6:%s" % a for a in hosts[m][2]]
            terms += list(mail["spf_extra"]) + [mail["spf_policy"]]
            z.add("@", "TXT", split_txt(" ".join(terms)), "smbvdc_branch.mail.spf_extra")
            rua = mail["dmarc_rua"] or "mailto:postmaster@%s" % zname
            dmarc = "v=DMARC1; p=%s; rua=%s" % (mail["dmarc_policy"], rua)
            if mail["dmarc_ruf"]:
                dmarc += "; ruf=%s" % mail["dmarc_ruf"]
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
        _check_conflicts(z, problems)
        zones[zname] = {"kind": "forward", "origin": zname, "records": z.records}

    # reverse zones
    for net_name, net in sorted(model["networks"].items()):
        for rz in net["reverse_zones"]:
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
            _check_conflicts(z, problems)
            zones[rz["zone"]] = {"kind": "reverse", "origin": rz["zone"], "records": z.records,
                                 "network": rz["network"], "classless": rz["classless"], "parent": rz["parent"]}
    problems.raise_if_any(ModelError, title="the branch's DNS data is not valid")
    return zones


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
