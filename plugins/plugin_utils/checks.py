# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smbvdc.datacenter developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the branch watches and what it backs up, derived from the model.

The model puts services on hosts through the service groups (dns_primary,
mail, web, ...). This module turns that into

- the monitoring plan (``monitoring_plan``): Nagios hosts, services, command
  definitions and the fixed NRPE commands of every monitored host;
- the backup plan (``backup_plan``): Amanda's clients and their disk list
  entries (DLEs), with the MariaDB dump hook where a database runs;

so the nagios and amanda roles never type a host, a port or a path of
another layer. ``validate_settings`` checks ``smbvdc_branch.monitoring`` and
``smbvdc_branch.backup`` (their keys are declared in ``schema.py``) together
with the rest of the model, before any host is touched.

How to add a check: add a line to the table of its service group in
``_service_checks`` (an active check from the Nagios server) or
``_nrpe_checks`` (run on the host through NRPE); docs/monitoring.md.
How to add a backed-up directory: ``SERVICE_PATHS`` for every host of a
group, or ``smbvdc_branch.backup.extra_paths`` for one host; docs/backups.md.
"""

from __future__ import annotations

import copy
import re

from . import names
from . import schema

PLUGINS = "$USER1$"                               # /usr/lib/nagios/plugins on the Nagios server
NRPE_PLUGINS = "/usr/lib/nagios/plugins"          # on the monitored hosts
LOCAL_PLUGINS = "/usr/local/lib/nagios/plugins"   # the collection's own plugins
NRPE_PORT = 5666
MARIADB_SOCKET = "/run/mysqld/mysqld.sock"
MARIADB_DUMP_DIR = "/var/backups/mariadb"

# Directories each service group's data lives in (the roles' defaults), backed
# up on every host of the group. /etc is backed up everywhere.
SERVICE_PATHS = {
    "mail": [("/var/vmail", "Maildirs")],
    "dns_primary": [("/var/lib/nsd", "NSD state and transferred zones")],
    "dns_secondary": [("/var/lib/nsd", "NSD state and transferred zones")],
    "web": [("/var/www", "web sites")],
    "moodle": [("/var/lib/moodledata", "Moodle data")],
    "owncloud": [("/var/lib/nextcloud/data", "file cloud data")],
    "monitoring": [("/var/lib/nagios4", "Nagios state and retention")],
}
# Directories that change while they are read, by design, with each file
# either immutable or replaced by a rename (so tar reads one whole version):
# Maildir messages never change after delivery (flags are renames), Nagios
# rewrites status.dat and retention.dat through a temporary file, Moodle's
# filedir is content-addressed (its sessions and caches come and go). GNU
# tar's "file changed as we read it" there is normal, not a failed backup;
# the amanda role gives these DLEs the dumptype smbvdc-live. (Seen on the lab:
# every dump of /var/lib/nagios4 came out STRANGE, so amdump and its systemd
# unit failed every night.) Everything else stays strict.
LIVE_PATHS = ("/var/vmail", "/var/lib/nagios4", "/var/lib/moodledata")
# Groups whose hosts run MariaDB: the mail host keeps Roundcube's database, a
# Moodle or file cloud VM its application's (the moodle and nextcloud roles
# make it on the VM itself). Each gets the dump before the backup and the
# Nagios connection check; a group missing here is a database not backed up.
MARIADB_GROUPS = ("mail", "database", "moodle", "owncloud")
# Age of a VM's last good backup in hours (the schedule is daily): warning
# after one missed run, critical after two. Nagios' "Backup age" and
# playbooks/status.yml use these (backup_plan's age_hours).
BACKUP_AGE_HOURS = (24 + 2, 2 * 24 + 2)
# Everything of a host: /etc (NSD zones and keys are in /etc/nsd).
BASE_PATHS = [("/etc", "configuration")]


# --- settings ---------------------------------------------------------------------------------
def _section(branch, key, spec_section, problems):
    raw = branch.get(key)
    var = "smbvdc_branch.%s" % key
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        problems.add(var, "must be a mapping, got %r." % (raw,), "write its settings as key: value pairs "
                     "(docs/branch-model.md).")
        raw = {}
    out = {}
    for k in raw:
        if k not in spec_section:
            problems.add("%s.%s" % (var, k), "is not a known setting.",
                         "use one of: %s (a typo?)." % ", ".join(spec_section))
    for name, spec in spec_section.items():
        if name not in raw:
            out[name] = schema.check(None, spec, "%s.%s" % (var, name), problems) if spec.nullable \
                else copy.deepcopy(spec.default)
        else:
            out[name] = schema.check(raw[name], spec, "%s.%s" % (var, name), problems)
    return out


def _is_address(text):
    return bool(re.match(r"^[^@\s]+@[^@\s]+$", text or ""))


def validate_settings(branch, domain, mail_domains, problems):
    """``(monitoring, backup)`` settings, normalised; problems name the variable and the fix."""
    mon = _section(branch, "monitoring", schema.MONITORING, problems)
    bak = _section(branch, "backup", schema.BACKUP, problems)

    if mon["notify"] is None or not mon["notify"]:
        mon["notify"] = ["hostmaster@%s" % domain] if domain else []
    relay = mon["relay"] or ""
    if relay:
        host, _sep, port = relay.rpartition(":") if relay.count(":") == 1 else (relay, "", "")
        if not names.is_hostname(host, min_labels=1) and not re.match(r"^[0-9.]+$", host or ""):
            problems.add("smbvdc_branch.monitoring.relay", "%r is not host or host:port." % relay,
                         "e.g. relay: smtp.isp.example:587")
        elif port and not (port.isdigit() and 1 <= int(port) <= 65535):
            problems.add("smbvdc_branch.monitoring.relay", "the port of %r is not 1-65535." % relay,
                         "e.g. relay: smtp.isp.example:587")
    own = set(mail_domains or [])
    for i, address in enumerate(mon["notify"] or []):
        var = "smbvdc_branch.monitoring.notify[%d]" % i
        address = str(address)
        if not _is_address(address) or not names.is_domain(address.rpartition("@")[2]):
            problems.add(var, "%r is not a mail address." % address, "e.g. notify: [admin@%s]" % (domain or "example.org"))
            continue
        if address.rpartition("@")[2].lower() not in own and not relay:
            problems.add(var, "%s is outside the branch's mail domains (%s), and no relay is set: the branch's "
                         "mail server delivers only its own domains, so the notification would never arrive."
                         % (address, ", ".join(sorted(own)) or "none"),
                         "set smbvdc_branch.monitoring.relay to your provider's smarthost, or notify an address "
                         "of a branch mail domain.")
    mon["notify"] = [str(a) for a in mon["notify"] or []]
    if mon["cert_warn_days"] is not None and mon["cert_crit_days"] is not None \
            and mon["cert_crit_days"] >= mon["cert_warn_days"]:
        problems.add("smbvdc_branch.monitoring.cert_crit_days", "(%d) must be fewer days than cert_warn_days (%d)."
                     % (mon["cert_crit_days"], mon["cert_warn_days"]), "e.g. cert_warn_days: 21, cert_crit_days: 7.")
    if mon["disk_warn_pct"] is not None and mon["disk_crit_pct"] is not None \
            and mon["disk_crit_pct"] >= mon["disk_warn_pct"]:
        problems.add("smbvdc_branch.monitoring.disk_crit_pct", "(%d %% free) must be below disk_warn_pct (%d %%)."
                     % (mon["disk_crit_pct"], mon["disk_warn_pct"]), "e.g. disk_warn_pct: 20, disk_crit_pct: 10.")

    if bak["retention_days"] is not None and bak["dumpcycle_days"] is not None \
            and bak["retention_days"] < bak["dumpcycle_days"]:
        problems.add("smbvdc_branch.backup.retention_days",
                     "(%d days) is shorter than the dump cycle (dumpcycle_days: %d): Amanda would overwrite the "
                     "last full dump of a disk before the next one is taken, and a restore could miss files."
                     % (bak["retention_days"], bak["dumpcycle_days"]),
                     "set retention_days to at least dumpcycle_days (twice it keeps two full dumps).")
    if not re.match(r"^[A-Za-z0-9*:/ ,.~-]+$", bak["schedule"] or ""):
        problems.add("smbvdc_branch.backup.schedule", "%r is not a systemd calendar expression." % (bak["schedule"],),
                     'e.g. schedule: "*-*-* 01:30:00" (man systemd.time).')
    extra = []
    for i, item in enumerate(bak["extra_paths"] or []):
        var = "smbvdc_branch.backup.extra_paths[%d]" % i
        if not isinstance(item, dict) or not item.get("host") or not item.get("path"):
            problems.add(var, "must be a mapping with host and path, got %r." % (item,),
                         "e.g. {host: web1, path: /srv/data}")
            continue
        path = str(item["path"])
        if not path.startswith("/") or "//" in path or "/../" in path + "/" or re.search(r"\s", path):
            problems.add(var + ".path", "%r is not an absolute directory path." % path, "e.g. /srv/data")
            continue
        extra.append({"host": str(item["host"]), "path": path.rstrip("/") or "/",
                      "what": str(item.get("what") or "extra directory")})
    bak["extra_paths"] = extra
    return mon, bak


def check_backup_hosts(backup, vms, problems):
    """Every extra backup path belongs to a VM of the branch (a host whose data some service owns)."""
    for i, item in enumerate(backup.get("extra_paths") or []):
        if item["host"] not in vms:
            problems.add("smbvdc_branch.backup.extra_paths[%d].host" % i,
                         "%s is not a VM of this branch, so no service there owns %s and nothing would back it up."
                         % (item["host"], item["path"]),
                         "name one of the branch's VMs (%s), or remove the entry." % ", ".join(sorted(vms)))


# --- monitoring plan ----------------------------------------------------------------------------
def _zones(model):
    """Forward zones (the branch domain and mail domains) and reverse zones of the branch."""
    zones = [model["domain"]] + [d for d in model.get("mail_domains", []) if d != model["domain"]]
    for net in sorted(model["networks"].values(), key=lambda n: n["name"]):
        for z in net.get("reverse_zones") or []:
            z = z["zone"] if isinstance(z, dict) else z
            if z not in zones:
                zones.append(z)
    return zones


COMMANDS = {
    "smbvdc_check_nrpe": "%s/check_nrpe -H $HOSTADDRESS$ -t 30 -c $ARG1$" % PLUGINS,
    "smbvdc_check_nrpe_at": "%s/check_nrpe -H $ARG1$ -t 60 -c $ARG2$" % PLUGINS,
    "smbvdc_check_nrpe_alive": "%s/check_nrpe -H $HOSTADDRESS$ -t 30" % PLUGINS,
    "smbvdc_check_ping": "%s/check_ping -H $HOSTADDRESS$ -w 1000,20%% -c 3000,60%% -p 3" % PLUGINS,
    # check_dig 2.3 answers only WARNING when the server does not answer at
    # all; check_dns_soa (the nagios role's) is CRITICAL then
    "smbvdc_check_dns_zone": "%s/check_dns_soa -H $HOSTADDRESS$ -z $ARG1$ -t 10" % LOCAL_PLUGINS,
    "smbvdc_check_dns_serial": "%s/check_dns_serial -H $HOSTADDRESS$ -P $ARG1$ -z $ARG2$" % LOCAL_PLUGINS,
    "smbvdc_check_dns_txt": "%s/check_dns_txt -H $HOSTADDRESS$ -n $ARG1$ -s $ARG2$" % LOCAL_PLUGINS,
    "smbvdc_check_smtp": "%s/check_smtp -H $HOSTADDRESS$ -p $ARG1$ -t 20" % PLUGINS,
    "smbvdc_check_smtp_starttls": "%s/check_smtp -H $HOSTADDRESS$ -p $ARG1$ -S -t 20" % PLUGINS,
    "smbvdc_check_smtps": "%s/check_ssmtp -H $HOSTADDRESS$ -p $ARG1$ -t 20" % PLUGINS,
    "smbvdc_check_imaps": "%s/check_imap -H $HOSTADDRESS$ -p 993 -S -t 20" % PLUGINS,
    "smbvdc_check_pop3s": "%s/check_pop -H $HOSTADDRESS$ -p 995 -S -t 20" % PLUGINS,
    # -f sticky: follow a redirect (a VM's own name -> its site) but to the
    # same address. With -f follow check_http resolved the redirect's name on
    # the Nagios server, whose resolver (the KVM network's) does not carry the
    # branch zones: web1 stayed CRITICAL "Name or service not known" in the
    # lab while the site answered.
    "smbvdc_check_https": "%s/check_http -I $HOSTADDRESS$ -H $ARG1$ -S --sni -u $ARG2$ -t 30 -f sticky" % PLUGINS,
    "smbvdc_check_https_string": "%s/check_http -I $HOSTADDRESS$ -H $ARG1$ -S --sni -u $ARG2$ -s $ARG3$ -t 30 "
                                 "-f sticky" % PLUGINS,
    "smbvdc_check_cert": "%s/check_http -I $HOSTADDRESS$ -H $ARG1$ -S --sni -p $ARG2$ -C $ARG3$,$ARG4$ -t 30" % PLUGINS,
    "smbvdc_check_smtp_cert": "%s/check_smtp -H $HOSTADDRESS$ -p $ARG1$ -S -D $ARG2$,$ARG3$ -t 20" % PLUGINS,
}


def _svc(host, description, command, args=(), unit=None, service="base"):
    return {"host": host, "description": description,
            "check_command": "!".join([command] + [str(a) for a in args]), "unit": unit, "service": service}


def _service_checks(model, name, groups, settings, dns_primary_address):
    """Active checks the Nagios server runs against one host."""
    out = []
    fqdn = model["vms"][name]["fqdn"] if name in model["vms"] else name
    if {"dns_primary", "dns_secondary"} & set(groups):
        for zone in _zones(model):
            out.append(_svc(name, "DNS %s" % zone, "smbvdc_check_dns_zone", [zone], unit="nsd", service="dns"))
        if "dns_secondary" in groups and dns_primary_address:
            for zone in _zones(model):
                out.append(_svc(name, "DNS serial %s" % zone, "smbvdc_check_dns_serial", [dns_primary_address, zone],
                                service="dns"))
    if "dns_primary" in groups and model["services"].get("mail"):
        for domain in model.get("mail_domains", []):
            out.append(_svc(name, "SPF %s" % domain, "smbvdc_check_dns_txt", [domain, "v=spf1"], service="dns"))
            out.append(_svc(name, "DMARC %s" % domain, "smbvdc_check_dns_txt", ["_dmarc." + domain, "v=DMARC1"],
                            service="dns"))
            selector = (model.get("mail") or {}).get("dkim_selector")
            if selector:
                out.append(_svc(name, "DKIM %s" % domain, "smbvdc_check_dns_txt",
                                ["%s._domainkey.%s" % (selector, domain), "v=DKIM1"], service="dns"))
    if "mail" in groups:
        warn, crit = settings["cert_warn_days"], settings["cert_crit_days"]
        out += [
            _svc(name, "SMTP", "smbvdc_check_smtp", [25], unit="postfix", service="mail"),
            _svc(name, "SMTP STARTTLS", "smbvdc_check_smtp_starttls", [25], unit="postfix", service="mail"),
            _svc(name, "Submission STARTTLS", "smbvdc_check_smtp_starttls", [587], unit="postfix", service="mail"),
            _svc(name, "Submissions TLS", "smbvdc_check_smtps", [465], unit="postfix", service="mail"),
            _svc(name, "IMAPS", "smbvdc_check_imaps", unit="dovecot", service="mail"),
            _svc(name, "POP3S", "smbvdc_check_pop3s", unit="dovecot", service="mail"),
            _svc(name, "SMTP certificate", "smbvdc_check_smtp_cert", [25, warn, crit], service="mail"),
            _svc(name, "Webmail HTTPS", "smbvdc_check_https", [fqdn, "/"], unit="apache2", service="mail"),
        ]
    if {"web", "moodle", "owncloud", "monitoring"} & set(groups):
        warn, crit = settings["cert_warn_days"], settings["cert_crit_days"]
        if not {"mail"} & set(groups):
            out.append(_svc(name, "HTTPS", "smbvdc_check_https", [fqdn, "/"], unit="apache2", service="web"))
        out.append(_svc(name, "HTTPS certificate", "smbvdc_check_cert", [fqdn, 443, warn, crit], service="web"))
    # the application's own site (the VM's name redirects to the first
    # application only: Moodle, when one VM runs Moodle and the file cloud)
    if "moodle" in groups:
        out.append(_svc(name, "Moodle login", "smbvdc_check_https_string",
                        [_app_site(model, name, "moodle", fqdn), "/login/index.php", "login"],
                        unit="apache2", service="moodle"))
    if "owncloud" in groups:
        out.append(_svc(name, "File cloud status", "smbvdc_check_https_string",
                        [_app_site(model, name, "nextcloud", fqdn), "/status.php", '"installed":true'],
                        unit="apache2", service="owncloud"))
    return out


def _app_site(model, host, app, default):
    """The name of ``host``'s site of ``app`` (smbvdc_branch.web), else ``default`` (the VM's name)."""
    for site in (model.get("web") or {}).get("sites") or []:
        if site.get("host") == host and site.get("app") == app:
            return site["name"]
    return default


def _nrpe_checks(model, name, groups, settings, kind):
    """NRPE commands of one host: ``[(command name, command line, description, unit, service)]``."""
    out = []
    if kind == "vm":
        out += [
            ("check_disk_root", "%s/check_disk -w %d%% -c %d%% -p / -e" % (NRPE_PLUGINS, settings["disk_warn_pct"],
                                                                         settings["disk_crit_pct"]),
             "Disk /", None, "base"),
            ("check_load", "%s/check_load -r -w 4,3,2 -c 8,6,4" % NRPE_PLUGINS, "Load", None, "base"),
            ("check_swap", "%s/check_swap -n ok -w 50%% -c 20%%" % NRPE_PLUGINS, "Swap", None, "base"),
        ]
        if settings.get("ntp_server"):
            out.append(("check_ntp_time", "%s/check_ntp_time -H %s -w 0.5 -c 1" % (NRPE_PLUGINS, settings["ntp_server"]),
                        "NTP offset", None, "base"))
    if kind == "kvm_host":
        expected = " ".join("%s=%s" % (v, model["vms"][v].get("state") or "running")
                            for v in sorted(model["kvm_hosts"][name]["vms"]))
        budget = (model.get("budgets") or {}).get(name) or {}
        available = budget.get("available_mb") or budget.get("y_a_mb") or model["kvm_hosts"][name]["memory_mb"]
        out += [
            ("check_smbvdc_vms", "%s/check_smbvdc_vms %s" % (LOCAL_PLUGINS, expected or "--none"),
             "VM states", "libvirtd", "libvirt"),
            ("check_smbvdc_budget", "%s/check_smbvdc_vms --budget --available-mb %d" % (LOCAL_PLUGINS, int(available)),
             "RAM budget", None, "libvirt"),
        ]
    if "mail" in groups:
        out.append(("check_mailq", "%s/check_mailq -w 50 -c 200 -M postfix" % NRPE_PLUGINS, "Mail queue", None,
                    "mail"))
    if set(MARIADB_GROUPS) & set(groups):
        # the NRPE daemon runs as user nagios; MariaDB lets it in by unix_socket (no password)
        out.append(("check_mariadb", "%s/check_mysql -u nagios -s %s" % (NRPE_PLUGINS, MARIADB_SOCKET),
                    "MariaDB", "mariadb", "mariadb"))
    return out


def _address(model, name):
    if name in model["vms"]:
        return model["vms"][name]["ipv4"] or model["vms"][name]["ipv6"]
    if name in model["kvm_hosts"]:
        for a in (model["kvm_hosts"][name].get("addresses") or {}).values():
            if a.get("ipv4") or a.get("ipv6"):
                return a.get("ipv4") or a.get("ipv6")
        return None
    if name in (model.get("external_hosts") or {}):
        return model["external_hosts"][name]["ansible_host"]
    return None


def monitoring_plan(model):
    """The Nagios configuration the branch implies (see docs/monitoring.md)."""
    settings = dict(model.get("monitoring") or {})
    for key, spec in schema.MONITORING.items():
        settings.setdefault(key, spec.default)
    if not settings.get("notify"):
        settings["notify"] = ["hostmaster@%s" % model["domain"]]
    servers = model["services"].get("monitoring") or []
    server = servers[0] if servers else None
    mail_hosts = model["services"].get("mail") or []
    if settings.get("relay"):
        mail_relay = settings["relay"]
    elif mail_hosts:
        mail_relay = model["vms"][mail_hosts[0]]["fqdn"] if mail_hosts[0] in model["vms"] else mail_hosts[0]
    else:
        mail_relay = None
    settings["mail_relay"] = mail_relay
    settings["nrpe_port"] = NRPE_PORT
    primaries = model["services"].get("dns_primary") or []
    dns_primary_address = _address(model, primaries[0]) if primaries else None

    hosts, services, nrpe, warnings = [], [], {}, []
    for name, vm in sorted(model["vms"].items()):
        hosts.append({"name": name, "fqdn": vm["fqdn"], "address": _address(model, name), "groups": vm["groups"],
                      "parent": vm["kvm_host"], "kind": "vm"})
    for name, k in sorted(model["kvm_hosts"].items()):
        address = _address(model, name)
        if address is None:
            warnings.append("KVM host %s has no address on a branch network, so the monitoring server cannot reach "
                            "it: its VM states and RAM budget are not watched. Fix: give it kvm_addresses."
                            % name)
            continue
        hosts.append({"name": name, "fqdn": k["fqdn"], "address": address, "groups": ["kvm_hosts"],
                      "parent": None, "kind": "kvm_host"})
    for name, e in sorted((model.get("external_hosts") or {}).items()):
        hosts.append({"name": name, "fqdn": "%s.%s" % (name, model["domain"]), "address": e["ansible_host"],
                      "groups": e["groups"], "parent": None, "kind": "external"})

    backup_server = (model["services"].get("backup") or [None])[0]
    backup_address = _address(model, backup_server) if backup_server else None
    backup_hours = BACKUP_AGE_HOURS
    if backup_server:
        nrpe.setdefault(backup_server, {})
    for h in hosts:
        name, kind = h["name"], h["kind"]
        if kind == "external":
            # another branch's or an old machine: only what it serves, from here
            services.extend(_service_checks(model, name, h["groups"], settings, dns_primary_address))
            continue
        services.append(_svc(name, "NRPE", "smbvdc_check_nrpe_alive", unit="nagios-nrpe-server"))
        for cmd, line, description, unit, service in _nrpe_checks(model, name, h["groups"], settings, kind):
            nrpe.setdefault(name, {})[cmd] = line
            services.append(_svc(name, description, "smbvdc_check_nrpe", [cmd], unit=unit, service=service))
        if kind == "vm":
            services.extend(_service_checks(model, name, h["groups"], settings, dns_primary_address))
            if backup_server:
                cmd = "check_backup_age_%s" % name.replace("-", "_")
                nrpe[backup_server][cmd] = "%s/check_amanda_age %s %s %d %d" % (
                    LOCAL_PLUGINS, model["name"], model["vms"][name]["fqdn"], backup_hours[0], backup_hours[1])
                services.append(_svc(name, "Backup age", "smbvdc_check_nrpe_at", [backup_address, cmd],
                                     service="backup"))
    return {
        "server": server,
        "server_address": _address(model, server) if server else None,
        "settings": settings,
        "hosts": hosts,
        "commands": [{"name": n, "line": COMMANDS[n]} for n in sorted(COMMANDS)],
        "services": services,
        "nrpe": nrpe,
        "plugins": ["check_dns_serial", "check_dns_soa", "check_dns_txt"],
        "warnings": warnings,
    }


# --- backup plan --------------------------------------------------------------------------------
def backup_plan(model):
    """Amanda's clients and disk lists (see docs/backups.md)."""
    settings = dict(model.get("backup") or {})
    for key, spec in schema.BACKUP.items():
        settings.setdefault(key, spec.default)
    servers = model["services"].get("backup") or []
    server = servers[0] if servers else None
    # one run a day (the schedule is daily): runspercycle = dumpcycle days;
    # tapecycle = the runs kept + 1, so the oldest tape is only overwritten
    # once the retention has passed
    settings["runspercycle"] = settings["dumpcycle_days"]
    settings["tapecycle"] = settings["retention_days"] + 1
    settings["auth"] = "ssh"
    extra = {}
    for item in settings.get("extra_paths") or []:
        extra.setdefault(item["host"], []).append((item["path"], item["what"], "extra"))
    clients = []
    for name, vm in sorted(model["vms"].items()):
        entries = [(p, w, "base") for p, w in BASE_PATHS]
        for group in vm["groups"]:
            entries += [(p, w, group) for p, w in SERVICE_PATHS.get(group, [])]
        mariadb = bool(set(MARIADB_GROUPS) & set(vm["groups"]))
        if mariadb:
            entries.append((MARIADB_DUMP_DIR, "MariaDB dumps", "mariadb"))
        entries += extra.get(name, [])
        dles, seen = [], set()
        for path, what, service in entries:
            if path in seen:
                continue
            seen.add(path)
            dles.append({"path": path, "what": what, "service": service, "live": path in LIVE_PATHS})
        clients.append({"name": name, "fqdn": vm["fqdn"], "address": vm["ipv4"] or vm["ipv6"],
                        "mariadb_dump": mariadb, "dump_dir": MARIADB_DUMP_DIR, "dles": dles})
    return {
        "server": server,
        "server_fqdn": model["vms"][server]["fqdn"] if server in model["vms"] else server,
        "server_address": _address(model, server) if server else None,
        "config": model["name"],
        # warning and critical age of a VM's last good backup (check_amanda_age, playbooks/status.yml)
        "age_hours": list(BACKUP_AGE_HOURS),
        "settings": settings,
        "clients": clients,
    }
