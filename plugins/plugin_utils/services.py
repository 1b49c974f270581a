# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smbvdc.datacenter developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which services (and so which listening ports) each service group implies.

The branch model puts services on hosts through inventory groups
(dns_primary, mail, web, ...). Every consumer that needs to know "what runs
here" (the firewall baseline, monitoring checks, backup disk lists) derives it
from this one table instead of typing ports again.
"""

from __future__ import annotations

# group -> list of (service name, port, protocol)
SERVICE_GROUPS = {
    "dns_primary": [("dns", 53, "udp"), ("dns", 53, "tcp")],
    "dns_secondary": [("dns", 53, "udp"), ("dns", 53, "tcp")],
    "mail": [
        ("smtp", 25, "tcp"),
        ("submissions", 465, "tcp"),
        ("submission", 587, "tcp"),
        ("imap", 143, "tcp"),
        ("imaps", 993, "tcp"),
        ("pop3", 110, "tcp"),
        ("pop3s", 995, "tcp"),
        ("http", 80, "tcp"),
        ("https", 443, "tcp"),
    ],
    "web": [("http", 80, "tcp"), ("https", 443, "tcp")],
    "moodle": [("http", 80, "tcp"), ("https", 443, "tcp")],
    "owncloud": [("http", 80, "tcp"), ("https", 443, "tcp")],
    "monitoring": [("http", 80, "tcp"), ("https", 443, "tcp")],
    # Amanda runs over SSH (auth "ssh", docs/backups.md): nothing beyond SSH
    "backup": [],
    "database": [("mysql", 3306, "tcp")],
    "kvm_hosts": [],
}

# Every managed host is reachable over SSH (the collection manages it that way).
BASELINE = [("ssh", 22, "tcp")]

# Backup clients (every VM) accept the Amanda server's connection.
# Kept separate so a branch without a backup server opens nothing for it.
BACKUP_CLIENT = [("amanda", 10080, "tcp")]

# Hosts the branch's Nagios server watches accept its NRPE connections
# (NRPE itself admits only the monitoring server's address, allowed_hosts).
MONITORED = [("nrpe", 5666, "tcp")]

SERVICE_GROUP_NAMES = tuple(sorted(SERVICE_GROUPS))

# Service groups that fight over one VM: (group, group, why). A host in both
# still works in some cases, so the model warns, naming both groups.
SERVICE_CONFLICTS = (
    ("mail", "web", "both serve HTTPS on port 443: Roundcube's Apache site and the web sites"),
    ("mail", "moodle", "both serve HTTPS on port 443: Roundcube's Apache site and Moodle"),
    ("mail", "owncloud", "both serve HTTPS on port 443: Roundcube's Apache site and the file cloud"),
    ("backup", "mail", "the backup server would hold the mail and its only backup: one lost VM loses both"),
    ("backup", "database", "the backup server would hold the databases and their only backup"),
    ("backup", "owncloud", "the backup server would hold the files and their only backup"),
    ("backup", "moodle", "the backup server would hold the course data and its only backup"),
    ("monitoring", "mail", "monitoring on the mail host cannot report the mail host's outage (nor mail it)"),
)


def service_ports(group_names, extra=None, backup_client=False, monitored=False):
    """Return the sorted, de-duplicated list of ports a host must open.

    :param group_names: the groups the host is in (Ansible's ``group_names``).
    :param extra: optional list of ``{"port": int, "proto": "tcp"|"udp", "service": str}``.
    :param backup_client: open the Amanda client port too (bsdtcp; the
        collection's own Amanda setup uses SSH and does not need it).
    :param monitored: open the NRPE port for the branch's monitoring server.
    :returns: list of ``{"service", "port", "proto"}`` dicts sorted by port, proto.
    """
    if isinstance(group_names, str):
        raise ValueError("group_names must be a list of group names, not the string %r" % group_names)
    entries = list(BASELINE)
    for group in group_names or []:
        entries.extend(SERVICE_GROUPS.get(group, []))
    if backup_client:
        entries.extend(BACKUP_CLIENT)
    if monitored:
        entries.extend(MONITORED)
    for i, item in enumerate(extra or []):
        if not isinstance(item, dict) or "port" not in item:
            raise ValueError("extra[%d] must be a mapping with at least 'port' (and 'proto', 'service'); got %r" % (i, item))
        try:
            port = int(item["port"])
        except (TypeError, ValueError):
            raise ValueError("extra[%d].port must be an integer 1-65535; got %r" % (i, item["port"]))
        if not 1 <= port <= 65535:
            raise ValueError("extra[%d].port must be 1-65535; got %d" % (i, port))
        proto = str(item.get("proto", "tcp")).lower()
        if proto not in ("tcp", "udp"):
            raise ValueError("extra[%d].proto must be 'tcp' or 'udp'; got %r" % (i, item.get("proto")))
        entries.append((str(item.get("service", "custom-%d" % port)), port, proto))
    seen = {}
    for service, port, proto in entries:
        key = (port, proto)
        if key not in seen:
            seen[key] = {"service": service, "port": port, "proto": proto}
    return [seen[k] for k in sorted(seen)]


# --- which roles configure which hosts ----------------------------------------
# Where the layer playbooks (playbooks/*.yml) apply each role, for the
# preflight of the roles' variables (role_vars.py): (role, entry point) ->
# the hosts it runs on, as groups of the model (a service group, "kvm_hosts",
# or "vms" for every VM), and the service group the branch must have for the
# entry point to run at all (None: always). A unit test reads the playbooks
# and fails when they and this table disagree.
EVERY_VM = "vms"
ROLE_TARGETS = {
    ("kvm_host", "main"): (("kvm_hosts",), None),
    ("vm", "main"): (("kvm_hosts",), None),
    ("common", "main"): ((EVERY_VM,), None),
    ("nsd", "main"): (("dns_primary", "dns_secondary"), None),
    ("mail", "main"): (("mail",), None),
    ("mail", "dkim_key"): (("mail",), None),
    ("web", "main"): (("web", "moodle", "owncloud"), None),
    ("moodle", "main"): (("moodle",), None),
    ("nextcloud", "main"): (("owncloud",), None),
    ("nagios", "main"): (("monitoring",), None),
    ("nagios", "nrpe"): ((EVERY_VM,), "monitoring"),
    ("amanda", "main"): (("backup",), None),
    ("amanda", "client"): ((EVERY_VM,), "backup"),
    ("amanda", "first_dump"): (("backup",), "backup"),
}

# Roles that a role brings in itself (include_role of their main entry point,
# or of an entry point that runs it first): they run on the same hosts. A
# unit test reads the roles' tasks and fails when they and this table disagree.
ROLE_INCLUDES = {
    "mail": ("branch_ca", "mariadb"),
    "moodle": ("mariadb",),
    "nextcloud": ("mariadb",),
    "web": ("branch_ca",),
}
