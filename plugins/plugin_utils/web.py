# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smbvdc.datacenter developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The branch's web sites, derived once from the model (the web layer).

``smbvdc_branch.web`` lists the sites (keys declared in ``schema.py``:
``WEB`` and ``WEBSITE``). ``validate_settings`` checks them together with the
rest of the model, before any host is touched:

- each name (and alias) becomes an FQDN in one of the branch's zones and must
  not be a name DNS already has for something else (a host, another group's
  service name, a user record, another site);
- the application is one the collection installs (static files, Moodle,
  Nextcloud) and its VM is in the application's service group;
- the VM has the memory its applications need (``MEMORY_MB``);
- ``wwwroot`` is ``https://`` and one of the site's names;
- an external certificate is given as both ``cert`` and ``key``.

``web_sites`` turns the normalised sites into what one web VM needs: its
virtual hosts (names, document roots, certificate paths, redirects) and one
PHP-FPM pool per application with its own user and PHP settings. The DNS
records of the sites are made by ``dns.build_zones`` from the same list, so a
name is typed once.
"""

from __future__ import annotations

import copy
import re

from . import names
from . import schema

APPS = schema.WEB_APPS
# Service group a VM must be in to serve a site of the application (so its
# data is backed up and watched: checks.SERVICE_PATHS, checks._service_checks).
APP_GROUPS = {"static": "web", "moodle": "moodle", "nextcloud": "owncloud"}
WEB_GROUPS = ("web", "moodle", "owncloud")
# Implicit sites (web.default_sites): group -> application.
GROUP_APPS = (("moodle", "moodle"), ("owncloud", "nextcloud"))

# Memory a web VM needs, in MiB (docs/web.md "Memory"): the base is Debian,
# Apache (event MPM) and the PHP-FPM master; each application adds its
# PHP-FPM workers (up to max_children at 40-60 MiB each, the opcache is shared)
# and the MariaDB server with its 128 MiB buffer pool that the application's
# role puts on the same VM. Measured in the molecule web scenario (docs/web.md):
# Moodle logged in and cron run on a 768 MiB VM leave the page cache room.
BASE_MEMORY_MB = 256
MEMORY_MB = {"static": 0, "moodle": 512, "nextcloud": 512}

# Where each application lives on the web VM. ``app_root`` is the code (owned
# by root), ``document_root`` what Apache serves; Moodle 5.1 serves public/.
APP_PATHS = {
    "moodle": {"app_root": "/var/www/moodle", "document_root": "/var/www/moodle/public"},
    "nextcloud": {"app_root": "/var/www/nextcloud", "document_root": "/var/www/nextcloud"},
}
STATIC_ROOT = "/var/www/%s"
# Certificates the branch CA issues for a site (on the web VM).
CERT_DIR = "/etc/ssl/smbvdc/sites"
KEY_DIR = "/etc/ssl/private"
PHP_VERSION = "8.2"

# PHP-FPM pool per application: its own user, socket and the PHP settings the
# application checks (Moodle's environment check: max_input_vars >= 5000).
POOLS = {
    "moodle": {
        "pm": {"pm": "dynamic", "max_children": 6, "start_servers": 2, "min_spare_servers": 1,
               "max_spare_servers": 3, "max_requests": 500},
        "php_admin_value": {"max_input_vars": "5000", "memory_limit": "256M", "upload_max_filesize": "64M",
                            "post_max_size": "64M", "max_execution_time": "300"},
    },
    "nextcloud": {
        "pm": {"pm": "dynamic", "max_children": 6, "start_servers": 2, "min_spare_servers": 1,
               "max_spare_servers": 3, "max_requests": 500},
        "php_admin_value": {"memory_limit": "512M", "upload_max_filesize": "512M", "post_max_size": "512M",
                            "max_execution_time": "3600", "output_buffering": "0"},
        # Nextcloud's setup check: getenv("PATH") must answer in the pool
        # (PHP-FPM clears the environment of its workers)
        "env": {"PATH": "/usr/local/bin:/usr/bin:/bin"},
    },
}


def _fqdn(value, domain):
    """A site name as an FQDN (lowercase, no trailing dot), or None when it is not a DNS name."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().rstrip(".").lower()
    if "." not in text:
        return "%s.%s" % (text, domain) if names.is_label(text) and domain else None
    return text if names.is_domain(text) else None


def _zone_of(fqdn, zones):
    """The deepest of the branch's forward zones that holds ``fqdn`` (None: a name the branch does not serve)."""
    best = None
    for z in zones:
        if (fqdn == z or fqdn.endswith("." + z)) and (best is None or len(z) > len(best)):
            best = z
    return best


def _existing_names(domain, vms, kvm_hosts, external, services, dns_settings):
    """Names the branch's DNS already has: fqdn -> (what it is, the hosts a record of it points at, or None)."""
    out = {}
    # a host's own name may be the name of a site on that host (cloud.<domain> on VM cloud)
    for h in list(vms) + list(kvm_hosts):
        out["%s.%s" % (h, domain)] = ("the name of host %s" % h, [h])
    for h in external:
        if names.is_label(h):
            out["%s.%s" % (h, domain)] = ("the name of host %s" % h, [h])
    for group, snames in sorted((dns_settings.get("service_names") or {}).items()):
        members = services.get(group) or []
        if not members:
            continue
        for s in snames:
            fqdn = "%s.%s" % (s, domain)
            if fqdn not in out:
                out[fqdn] = ("service name '%s' of group %s (smbvdc_branch.dns.service_names.%s)" % (s, group, group),
                             sorted(members))
    for i, r in enumerate(dns_settings.get("records") or []):
        if not isinstance(r, dict) or not isinstance(r.get("name", "@"), (str, int)):
            continue
        zone = str(r.get("zone") or domain).rstrip(".").lower()
        name = str(r.get("name", "@")).strip()
        if name in ("@", ""):
            continue        # data at a zone apex sits beside the site's A records
        fqdn = name.rstrip(".").lower() if name.endswith(".") else "%s.%s" % (name.lower(), zone)
        out.setdefault(fqdn, ("a record of smbvdc_branch.dns.records[%d]" % i, None))
    return out


def _section(raw, problems):
    var = "smbvdc_branch.web"
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        problems.add(var, "must be a mapping, got %r." % (raw,), "write it as web: {sites: [...]} (docs/web.md).")
        raw = {}
    for k in raw:
        if k not in schema.WEB:
            problems.add("%s.%s" % (var, k), "is not a known setting.", "use one of: %s (a typo?)." % ", ".join(schema.WEB))
    out = {}
    for key, spec in schema.WEB.items():
        value = raw[key] if key in raw else copy.deepcopy(spec.default)
        out[key] = schema.check(value, spec, "%s.%s" % (var, key), problems)
    return out


def validate_settings(branch, domain, mail_domains, vms, kvm_hosts, external, services, dns_settings, problems):
    """``smbvdc_branch.web`` normalised: ``{"default_sites", "sites": [...]}``; problems name the variable and fix.

    :param vms, kvm_hosts, external: the model's hosts (``external`` are
        machines outside the branch's VMs); :param services: group -> hosts;
        :param dns_settings: the validated ``smbvdc_branch.dns``.
    """
    settings = _section(branch.get("web"), problems)
    zones = [d for d in [domain] + list(mail_domains or []) if d]
    web_hosts = sorted({h for g in WEB_GROUPS for h in services.get(g, [])})
    existing = _existing_names(domain, vms, kvm_hosts, external, services, dns_settings)
    taken = {}          # fqdn -> variable of the site that has it
    sites = []

    raw_sites = [(i, s, "smbvdc_branch.web.sites[%d]" % i) for i, s in enumerate(settings["sites"] or [])]
    for i, raw, var in raw_sites:
        if isinstance(raw, str):
            raw = {"name": raw}
        if not isinstance(raw, dict):
            problems.add(var, "must be a mapping {name, app, ...}, got %r." % (raw,), "e.g. {name: www, app: static}")
            continue
        for k in raw:
            if k not in schema.WEBSITE:
                problems.add("%s.%s" % (var, k), "is not a known site key.",
                             "use one of: %s (a typo?)." % ", ".join(schema.WEBSITE))
        site = _site(raw, var, domain, zones, services, web_hosts, problems)
        if site is not None:
            sites.append(site)

    if settings["default_sites"]:
        for group, app in GROUP_APPS:
            snames = (dns_settings.get("service_names") or {}).get(group) or []
            # several VMs in the group: the service name points at all of
            # them, so which VM serves which site is the admin's to list
            members = services.get(group, [])
            for h in members if len(members) == 1 else []:
                if h not in vms or any(s["app"] == app and s["host"] == h for s in sites):
                    continue
                if not snames:
                    problems.add("smbvdc_branch.dns.service_names.%s" % group, "is empty, so the %s VM %s gets no "
                                 "default site." % (app, h), "list a site for it in smbvdc_branch.web.sites, or "
                                 "give the group a service name.")
                    continue
                var = "smbvdc_branch.web.default_sites[%s:%s]" % (h, app)
                site = _site({"name": snames[0], "app": app, "host": h}, var, domain, zones, services, web_hosts,
                             problems)
                if site is not None:
                    sites.append(site)

    # names: unique among the sites, and not a name DNS has for something else
    for site in sites:
        for key, fqdn in [("name", site["name"])] + [("aliases", a) for a in site["aliases"]]:
            variable = site["variable"] + "." + key
            if fqdn in taken:
                problems.add(variable, "%s is also a name of %s." % (fqdn, taken[fqdn]),
                             "give every site its own names (one site per name).")
                continue
            taken[fqdn] = site["variable"]
            what = existing.get(fqdn)
            if what is not None and what[1] != [site["host"]]:
                problems.add(variable, "%s is already %s in the branch's DNS, so the site's record would collide "
                             "with it." % (fqdn, what[0]), "choose another name for the site, or rename the other "
                             "one.")
            if fqdn == domain and dns_settings.get("apex_web") and services.get("web") and \
                    services.get("web") != [site["host"]]:
                problems.add(variable, "%s is the branch domain, whose A records (smbvdc_branch.dns.apex_web) point "
                             "at every web VM (%s), not only at %s." % (fqdn, ", ".join(services["web"]), site["host"]),
                             "use a name such as www for the site, or set dns.apex_web: false.")

    # one site per application per VM, and the VM's memory
    per_host = {}
    for site in sites:
        per_host.setdefault(site["host"], []).append(site)
    for h, hs in sorted(per_host.items()):
        apps = [s["app"] for s in hs if s["app"] != "static"]
        for app in sorted(set(apps)):
            if apps.count(app) > 1:
                problems.add("smbvdc_branch.web.sites", "%s has %d %s sites (%s); a web VM runs one %s."
                             % (h, apps.count(app), app, ", ".join(s["name"] for s in hs if s["app"] == app), app),
                             "give each %s site its own web VM, or use aliases for further names." % app)
        need = memory_needed([s["app"] for s in hs])
        have = vms[h]["memory_mb"] if h in vms else None
        if have is not None and have < need:
            problems.add("hostvars['%s'].vm_memory_mb" % h, "%d MiB is less than its sites need: %d MiB (%s)."
                         % (have, need, _memory_text([s["app"] for s in hs])),
                         "set vm_memory_mb: %d or more for %s (the budget shows what fits), or move a site to "
                         "another web VM (sites[].host)." % (need, h))
    settings["sites"] = sites
    return settings


def memory_needed(apps):
    """MiB a web VM serving sites of ``apps`` needs (base + each application once)."""
    return BASE_MEMORY_MB + sum(MEMORY_MB.get(a, 0) for a in sorted(set(apps)))


def _memory_text(apps):
    parts = ["%d for Debian, Apache and PHP-FPM" % BASE_MEMORY_MB]
    parts += ["%d for %s with its PHP workers and MariaDB" % (MEMORY_MB[a], a.capitalize())
              for a in sorted(set(apps)) if MEMORY_MB.get(a)]
    return " + ".join(parts)


def _site(raw, var, domain, zones, services, web_hosts, problems):
    """One site normalised, or None after recording its problems."""
    before = len(problems)
    if raw.get("name") is None:
        problems.add(var + ".name", "is required.", schema.WEBSITE["name"].fix)
        return None
    name = schema.check(raw.get("name"), schema.WEBSITE["name"], var + ".name", problems)
    fqdn = _fqdn(name, domain) if name is not None else None
    if name is not None and fqdn is None:
        problems.add(var + ".name", "%r is not a DNS name." % (name,),
                     "use a label such as www (it becomes www.%s) or a full name." % domain)
    app = schema.check(raw.get("app", schema.WEBSITE["app"].default), schema.WEBSITE["app"], var + ".app", problems)
    aliases = []
    for j, a in enumerate(schema.check(raw.get("aliases"), schema.WEBSITE["aliases"], var + ".aliases", problems)
                          or []):
        afqdn = _fqdn(a, domain)
        if afqdn is None:
            problems.add("%s.aliases[%d]" % (var, j), "%r is not a DNS name." % (a,), "e.g. aliases: [learn]")
        elif afqdn != fqdn and afqdn not in aliases:
            aliases.append(afqdn)
    host = schema.check(raw.get("host"), schema.WEBSITE["host"], var + ".host", problems,
                        web_hosts[0] if web_hosts else None)
    group = APP_GROUPS.get(app)
    if app is not None:
        candidates = services.get(group, []) if app != "static" else web_hosts
        if host is None and raw.get("host") is None:
            if len(candidates) == 1:
                host = candidates[0]
            else:
                problems.add(var + ".host", "is needed: the branch has %s VMs for a %s site (%s)."
                             % ("no" if not candidates else len(candidates), app, ", ".join(candidates) or "groups['%s'] is empty" % group),
                             "add the web VM to groups['%s'] in hosts.yml%s." % (
                                 group, "" if not candidates else ", and name it: host: %s" % candidates[0]))
        elif host is not None and host not in candidates:
            if host in web_hosts or host in services.get("web", []):
                problems.add(var + ".host", "%s serves a %s site but is not in groups['%s'] (its data would not "
                             "be backed up or watched)." % (host, app, group),
                             "add %s to groups['%s'] in hosts.yml." % (host, group))
            else:
                problems.add(var + ".host", "%s is not a web VM (groups web, moodle, owncloud: %s)."
                             % (host, ", ".join(web_hosts) or "none"),
                             "name a VM of the web tier, or add %s to groups['%s']." % (host, group))
    wwwroot = schema.check(raw.get("wwwroot"), schema.WEBSITE["wwwroot"], var + ".wwwroot", problems)
    if wwwroot is None and "wwwroot" not in raw and fqdn:
        wwwroot = "https://%s" % fqdn
    elif wwwroot is not None:
        m = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*)://([^/:?#]+)(:[0-9]+)?(/.*)?$", wwwroot.strip())
        if not m or m.group(1).lower() != "https":
            problems.add(var + ".wwwroot", "%r is not an https:// URL: every site is served over HTTPS (plain "
                         "HTTP only redirects), and an application told an http:// address writes http:// links "
                         "and cookies without the secure flag." % (wwwroot,),
                         "write it as https://%s." % (fqdn or "<name>"))
        elif m.group(2).lower().rstrip(".") not in [fqdn] + aliases or (m.group(4) or "/") != "/" or m.group(3):
            problems.add(var + ".wwwroot", "%r must be https:// and the site's name or an alias (%s), without a port "
                         "or a path." % (wwwroot, ", ".join([fqdn] + aliases) if fqdn else "?"),
                         "write it as https://%s." % (fqdn or "<name>"))
        else:
            wwwroot = "https://%s" % m.group(2).lower().rstrip(".")
    document_root = schema.check(raw.get("document_root"), schema.WEBSITE["document_root"], var + ".document_root",
                                 problems)
    if document_root is not None and app not in (None, "static"):
        problems.add(var + ".document_root", "is set for a %s site; the application's role installs it at %s."
                     % (app, APP_PATHS[app]["document_root"]), "remove document_root (it is for static sites).")
    elif document_root is not None and (not document_root.startswith("/") or re.search(r"\s|/\.\.(/|$)|//",
                                                                                        document_root)):
        problems.add(var + ".document_root", "%r is not an absolute directory path." % (document_root,),
                     schema.WEBSITE["document_root"].fix)
    tls = schema.check(raw.get("tls"), schema.WEBSITE["tls"], var + ".tls", problems)
    if tls is not None:
        bad = [k for k in tls if k not in ("cert", "key")]
        if bad or not all(isinstance(tls.get(k), str) and tls[k].startswith("/") for k in ("cert", "key")):
            problems.add(var + ".tls", "must give both cert and key as absolute paths on the web VM, got %r." % (tls,),
                         schema.WEBSITE["tls"].fix + ", or remove tls to get a certificate from the branch CA.")
    if len(problems) > before:
        return None
    paths = APP_PATHS.get(app, {})
    root = document_root or paths.get("document_root") or STATIC_ROOT % fqdn
    return {
        "name": fqdn,
        "aliases": aliases,
        "app": app,
        "host": host,
        "wwwroot": wwwroot,
        "document_root": root.rstrip("/") or "/",
        "app_root": paths.get("app_root") or (root.rstrip("/") or "/"),
        "zone": _zone_of(fqdn, zones),
        "alias_zones": [_zone_of(a, zones) for a in aliases],
        "tls": ({"provider": "external", "cert": tls["cert"], "key": tls["key"]} if tls else
                {"provider": "branch_ca", "cert": "%s/%s.crt" % (CERT_DIR, fqdn),
                 "key": "%s/smbvdc-site-%s.key" % (KEY_DIR, fqdn)}),
        "variable": var,
    }


# --- what one web VM serves ------------------------------------------------------------------------
def _pool(app, php_version=PHP_VERSION):
    spec = POOLS[app]
    return {
        "name": app,
        "app": app,
        "user": app,
        "group": app,
        "socket": "/run/php/php%s-fpm-%s.sock" % (php_version, app),
        "pm": dict(spec["pm"]),
        "php_admin_value": dict(spec["php_admin_value"]),
        "env": dict(spec.get("env") or {}),
    }


def web_sites(model, host=None):
    """Per web VM: its virtual hosts and PHP-FPM pools (``{host: {...}}``, or one host's entry).

    Each entry: ``host``, ``fqdn``, ``addresses`` (IPv4 and IPv6), ``sites``
    (as in ``model["web"]["sites"]`` plus ``names`` (name first, then the
    aliases) and ``pool`` (the socket of its PHP-FPM pool, or None for static
    files)), ``pools`` (one per application: user, socket, pm settings, PHP
    settings, environment of its workers), ``apps``, ``memory_mb`` and
    ``memory_needed_mb``, and ``default_site``: the VM's own name, whose
    HTTPS answer redirects to the first application site (else the first
    site, or serves an empty page when it has none); None when a site is
    named like the VM.
    """
    if not isinstance(model, dict) or "services" not in model or "vms" not in model:
        raise TypeError("web_sites: input must be the branch model")
    web = model.get("web") or {"sites": []}
    hosts = sorted({h for g in WEB_GROUPS for h in model["services"].get(g, []) if h in model["vms"]})
    out = {}
    for h in hosts:
        vm = model["vms"][h]
        sites = []
        apps = []
        for s in web.get("sites") or []:
            if s["host"] != h:
                continue
            site = copy.deepcopy(s)
            site["names"] = [s["name"]] + list(s["aliases"])
            site["pool"] = _pool(s["app"])["socket"] if s["app"] in POOLS else None
            sites.append(site)
            if s["app"] in POOLS and s["app"] not in apps:
                apps.append(s["app"])
        # the VM's own name leads to its first application (the monitoring's
        # "HTTPS" check asks the VM's name), else its first site
        first = next((s for s in sites if s["app"] != "static"), sites[0] if sites else None)
        own = any(vm["fqdn"] in s["names"] for s in sites)
        out[h] = {
            "host": h,
            "fqdn": vm["fqdn"],
            "addresses": [a for a in (vm.get("ipv4"), vm.get("ipv6")) if a],
            "sites": sites,
            "pools": [_pool(a) for a in apps],
            "apps": apps,
            "memory_mb": vm["memory_mb"],
            "memory_needed_mb": memory_needed([s["app"] for s in sites]),
            # the VM's own name, unless a site has it
            "default_site": None if own else {
                "name": vm["fqdn"],
                "redirect": first["wwwroot"] if first else None,
                "document_root": "/var/www/html",
                "tls": {"provider": "branch_ca", "cert": "%s/%s.crt" % (CERT_DIR, vm["fqdn"]),
                        "key": "%s/smbvdc-site-%s.key" % (KEY_DIR, vm["fqdn"])},
            },
        }
    if host is not None:
        if host not in out:
            raise ValueError("%s is not a web VM of the branch (groups web, moodle, owncloud: %s)"
                             % (host, ", ".join(hosts) or "none"))
        return out[host]
    return out


def site_records(model):
    """DNS data of the sites: ``[(fqdn, zone, host, variable)]`` for every name and alias in a served zone."""
    out = []
    for s in (model.get("web") or {}).get("sites") or []:
        out.append((s["name"], s.get("zone"), s["host"], s["variable"] + ".name"))
        for a, z in zip(s["aliases"], s.get("alias_zones") or [None] * len(s["aliases"])):
            out.append((a, z, s["host"], s["variable"] + ".aliases"))
    return out
