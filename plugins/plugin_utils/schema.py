# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smbvdc.datacenter developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One schema: the inventory variables the branch model reads, declared once.

Each ``Var`` gives a variable's type, default, bounds or choices, what it
means and how to fix a wrong value. Three things read it:

- the model (``model.py``): ``check`` validates a value against its ``Var``
  and reports a problem as ``variable: what is wrong. Fix: how`` (all
  problems are collected and reported together);
- the documentation: ``render_docs`` rewrites the tables between
  ``<!-- BEGIN schema:<section> -->`` and ``<!-- END schema:<section> -->``
  in docs/branch-model.md (``scripts/gen-docs.py``; a unit test fails when
  the file is out of date);
- the roles' argument specs: a unit test checks that no role redefines one of
  these variables with another type, default or choices.

Rules between variables (a network that exists, an address inside its
subnet, a VM that fits) stay in the model; this module holds what one value
must look like on its own.
"""

from __future__ import annotations

import copy
import re

from ansible_collections.smbvdc.datacenter.plugins.module_utils.domain_xml import DATA_DISK_SERIAL_PREFIX

from . import budget as budget_mod

VM_STATES = ("running", "defined", "shutdown", "destroyed", "paused", "saved", "undefined")
NETWORK_MODES = ("nat", "isolated", "bridge")
TYPES = ("int", "number", "str", "bool", "list", "mapping")


class Var(object):
    """One variable.

    :param type: int (a whole number, also as a string), number (anything
        ``float`` reads; ``cast`` turns it into int or float), str (one
        scalar value), bool, list (a string is a list of one), mapping.
    :param required: None is a problem (the model has no default for it).
    :param nullable: None means "unset" and gives ``default``. False for keys
        of a mapping, where the model applies the default only when the key is
        absent and an explicit null is a wrong value.
    :param fix: the fix-it text; ``{example}`` is replaced by the caller's
        example (e.g. the branch's first network) or ``example``.
    :param pattern: a str must match this regular expression (``expect``
        says what it must be, for the message).
    :param doc_type, doc_default: the type and default columns of the
        documentation when the plain rendering does not say enough.
    """

    __slots__ = ("name", "type", "default", "required", "nullable", "minimum", "maximum", "exclusive_minimum",
                 "exclusive_maximum", "choices", "cast", "expect", "description", "fix", "example", "doc_type",
                 "doc_default", "pattern")

    def __init__(self, name, type, description, fix=None, default=None, required=False, nullable=True,
                 minimum=None, maximum=None, exclusive_minimum=False, exclusive_maximum=False, choices=None,
                 cast=None, expect=None, example=None, doc_type=None, doc_default=None, pattern=None):
        if type not in TYPES:
            raise ValueError("%s: unknown type %r" % (name, type))
        self.name = name
        self.type = type
        self.default = default
        self.required = required
        self.nullable = nullable
        self.minimum = minimum
        self.maximum = maximum
        self.exclusive_minimum = exclusive_minimum
        self.exclusive_maximum = exclusive_maximum
        self.choices = tuple(choices) if choices is not None else None
        self.cast = cast
        self.expect = expect
        self.description = description
        self.fix = fix
        self.example = example
        self.doc_type = doc_type
        self.doc_default = doc_default
        self.pattern = re.compile(pattern) if pattern else None

    def __repr__(self):
        return "Var(%r, %r)" % (self.name, self.type)


def _section(*variables):
    return dict((v.name, v) for v in variables)


# --- smbvdc_branch -------------------------------------------------------------
BRANCH = _section(
    Var("name", "str", "short lowercase name of the branch (`[a-z0-9-]`)", "e.g. name: hq-vienna", required=True),
    Var("domain", "str", "the branch's DNS domain, no trailing dot; VMs are `<host>.<domain>`",
        "set the branch's DNS domain (no trailing dot).", required=True),
    Var("mail_domains", "list", "further domains the branch's mail serves (the branch domain is always included)",
        doc_default="`[domain]`"),
    Var("sites", "list", "physical sites", "write sites as a list of {name: hq}.",
        doc_type="list of `{name, description}`", doc_default="`[{name: main}]`"),
    Var("networks", "list", "networks VMs attach to", required=True, doc_type="list (below)",
        doc_default="required, ≥ 1"),
    Var("budget", "mapping", "capacity settings, see [capacity.md](capacity.md)", "see docs/capacity.md.",
        doc_type="mapping (below)", doc_default="defaults"),
    Var("dns", "mapping", "DNS settings of the branch's zones and servers, see [dns.md](dns.md)", "see docs/dns.md.",
        doc_default="defaults"),
    Var("mail", "mapping", "mail settings (DKIM, DMARC reports, ...), see [mail.md](mail.md)",
        doc_default="defaults"),
    Var("monitoring", "mapping", "what Nagios checks and whom it tells (table below), see "
        "[monitoring.md](monitoring.md)", doc_default="defaults"),
    Var("backup", "mapping", "when Amanda backs up and how long it keeps it (table below), see "
        "[backups.md](backups.md)", doc_default="defaults"),
    Var("web", "mapping", "the web sites and applications the web VMs serve (tables below), see [web.md](web.md)",
        doc_default="defaults"),
    Var("description", "str", "free text", default=""),
)

# --- smbvdc_branch.networks[] ----------------------------------------------------
NETWORK = _section(
    Var("name", "str", "unique network name", "e.g. name: lan", required=True),
    Var("site", "str", "the site the network is at", "name one site, e.g. site: hq", doc_default="first site"),
    Var("mode", "str", "libvirt network kind. `nat` and `isolated` exist inside one KVM host, so all their VMs must "
        "be placed on one host (the model checks this); `bridge` attaches to a LAN that all KVM hosts share "
        "(production)", "nat for a lab, bridge for production hosts sharing a LAN.", default="nat", nullable=False,
        choices=NETWORK_MODES),
    Var("bridge", "str", "the bridge interface", "use a short name such as br-lan.", doc_type="str (≤ 15 chars)",
        doc_default="`br-<name>`"),
    Var("ipv4", "str", "subnet, network address without host bits, /30 or larger",
        "give the network an IPv4 subnet, e.g. 10.77.10.0/24.", required=True, doc_type="CIDR"),
    Var("gateway4", "str", "default gateway (and the libvirt bridge address for nat/isolated)", doc_type="address",
        doc_default="first address"),
    Var("ipv6", "str", "optional IPv6 subnet", doc_type="CIDR"),
    Var("gateway6", "str", "IPv6 gateway", doc_type="address", doc_default="first address"),
    Var("pool_start", "int", "offset of the first automatic address in the subnet",
        "the offset of the first automatic address, e.g. 10.", default=10, nullable=False, minimum=2),
    Var("reverse_parent", "bool", "for an IPv4 subnet longer than /24 (RFC 2317 classless reverse): the branch "
        "also serves the parent /24 reverse zone with the CNAMEs into the classless zone; false prints the records "
        "to hand to the ISP instead ([dns.md](dns.md))",
        "true when the branch owns the whole /24 around this subnet.", doc_default="true for RFC 1918 space"),
    Var("description", "str", "free text", default=""),
)

# --- smbvdc_branch.budget (defaults: budget.BUDGET_DEFAULTS) ------------------------
_D = budget_mod.BUDGET_DEFAULTS
BUDGET = _section(
    Var("vm_overhead_mb", "number", "MiB per VM for the QEMU process beyond guest RAM", "use 0 or more MiB.",
        default=_D["vm_overhead_mb"], nullable=False, minimum=0, cast=int),
    Var("ram_allocation_ratio", "number", "RAM over-commit; 1.0 is none", "1.0 means no over-commit.",
        default=_D["ram_allocation_ratio"], nullable=False, minimum=0, exclusive_minimum=True, maximum=16,
        cast=float),
    Var("cpu_allocation_ratio", "number", "vCPUs per host CPU thread", "1.0 means no over-commit.",
        default=_D["cpu_allocation_ratio"], nullable=False, minimum=0, exclusive_minimum=True, maximum=16,
        cast=float),
    Var("disk_allocation_ratio", "number", "disk over-commit of the storage pool", "1.0 means no over-commit.",
        default=_D["disk_allocation_ratio"], nullable=False, minimum=0, exclusive_minimum=True, maximum=16,
        cast=float),
    Var("os_reserve_base_mb", "number", "fixed part of the default `kvm_os_reserve_mb`", "use 0 or more MiB.",
        default=_D["os_reserve_base_mb"], nullable=False, minimum=0, cast=int),
    Var("os_reserve_fraction", "number", "share of the host's RAM added to the default `kvm_os_reserve_mb`",
        "0.05 reserves 5 % of RAM.", default=_D["os_reserve_fraction"], nullable=False, minimum=0, maximum=1,
        exclusive_maximum=True, cast=float),
    Var("os_reserve_max_mb", "number", "upper limit of the default `kvm_os_reserve_mb`", "use 0 or more MiB.",
        default=_D["os_reserve_max_mb"], nullable=False, minimum=0, cast=int),
)
del _D

# --- host variables of the KVM hosts (group kvm_hosts) ------------------------------------
KVM = _section(
    Var("kvm_memory_mb", "int", "physical RAM y in MiB",
        "set the host's physical RAM in MiB, e.g. kvm_memory_mb: 32768.", required=True, minimum=512),
    Var("kvm_vcpus", "int", "CPU threads", "set the host's CPU threads, e.g. kvm_vcpus: 8.", required=True, minimum=1),
    Var("kvm_disk_gb", "int", "GiB the VM storage pool may use",
        "set the GiB the VM storage pool may use, e.g. kvm_disk_gb: 500.", required=True, minimum=1),
    Var("kvm_os_reserve_mb", "int", "y_os, RAM kept for the host",
        "RAM kept for the host OS in MiB, or leave it unset for the default.", minimum=0,
        doc_default="1024 + 5 % of RAM, ≤ 8192"),
    Var("kvm_site", "str", "where the host stands", "name one site, e.g. kvm_site: hq", doc_default="first site"),
    Var("kvm_addresses", "mapping", "the host's own addresses on bridged networks (checked for collisions)",
        "e.g. kvm_addresses: {lan: 10.77.10.2}", default={}, expect="map network names to addresses",
        doc_type="`{network: address}`"),
)

# --- host variables of the VMs (service groups, group vms) -----------------------------------
VM = _section(
    Var("vm_memory_mb", "int", "guest RAM", "set the VM's RAM in MiB, e.g. vm_memory_mb: 1024.", required=True,
        minimum=128),
    Var("vm_vcpus", "int", "vCPUs", "e.g. vm_vcpus: 1.", default=1, minimum=1),
    Var("vm_disk_gb", "int", "system disk size", "e.g. vm_disk_gb: 10.", default=10, minimum=2),
    Var("vm_data_disks", "list", "further disks (table below), each an empty qcow2 `<pool>/<vm>-<name>.qcow2` "
        "the guest finds as `/dev/disk/by-id/virtio-smbvdc-<name>`; counted in the host's disk budget",
        "write a list of {name, size_gb}, e.g. vm_data_disks: [{name: vtapes, size_gb: 8}].", default=[],
        doc_type="list of `{name, size_gb}`"),
    Var("vm_network", "str", "network to attach to; required when there are several",
        "name one network, e.g. vm_network: {example}", example="lan", doc_default="the only network"),
    Var("vm_address", "str", "static address", "give one address, e.g. 10.77.10.20", doc_type="IPv4",
        doc_default="next free from `pool_start`"),
    Var("vm_address6", "str", "static IPv6 address (if the network has IPv6)",
        "give one address, e.g. fd00:77:10::20", doc_type="IPv6", doc_default="same host part as IPv4"),
    Var("vm_host", "str", "pin to a KVM host", "name one KVM host, e.g. vm_host: {example}", example="kvm1",
        doc_default="placed"),
    Var("vm_anti_affinity", "list", "group names; members are spread over the hosts", "write it as a YAML list.",
        default=[], doc_type="list of str"),
    Var("vm_state", "str", "state the vm role converges the VM to ([vm-lifecycle.md](vm-lifecycle.md))",
        "set a valid vm_state in the VM's host variables, or remove it (the vm role's vm_role_default_state "
        "applies).", choices=VM_STATES, doc_default="`vm_role_default_state` (`running`)"),
    Var("ansible_host", "str", "only for an outside machine (a host in a service group without `vm_memory_mb`): "
        "its address or name", "give the machine's address or name, e.g. ansible_host: 192.0.2.53",
        doc_default="none"),
)

# --- vm_data_disks[] of a VM (vmconfig.py renders them, the vm_domain module creates them) -----------
# The guest sees a data disk by its virtio serial smbvdc-<name>, and a virtio-blk
# serial holds 20 bytes (VIRTIO_BLK_ID_BYTES): 7 for "smbvdc-", 13 for the name.
DATA_DISK_NAME_MAX = 20 - len(DATA_DISK_SERIAL_PREFIX)
DATA_DISK = _section(
    Var("name", "str", "label of the disk, unique per VM: `a-z`, `0-9` and `-`, starting with a letter, at most "
        "%d characters (the virtio serial `smbvdc-<name>` the guest sees holds 20)" % DATA_DISK_NAME_MAX,
        "name it like vtapes or drbd0.", required=True, pattern=r"^[a-z][a-z0-9-]{0,%d}$" % (DATA_DISK_NAME_MAX - 1),
        expect="be a label of a-z, 0-9 and '-' starting with a letter, at most %d characters" % DATA_DISK_NAME_MAX),
    Var("size_gb", "int", "virtual size of the new disk in GiB; an existing disk is never resized",
        "give the size in GiB, e.g. size_gb: 8.", required=True, minimum=1),
)

# --- smbvdc_branch.monitoring (plugin_utils/checks.py derives the checks) -------------------
MONITORING = _section(
    Var("check_interval", "int", "minutes between two checks of a service", "use 1 or more minutes, e.g. 5.",
        default=5, nullable=False, minimum=1),
    Var("retry_interval", "int", "minutes between re-checks of a service that is not OK", "use 1 or more minutes.",
        default=1, nullable=False, minimum=1),
    Var("max_check_attempts", "int", "failed checks in a row before a problem is confirmed and notified",
        "use 1 or more, e.g. 3.", default=3, nullable=False, minimum=1),
    Var("notify", "list", "addresses Nagios mails problems to", "write it as a list of mail addresses.",
        doc_type="list of addresses", doc_default="`[hostmaster@<domain>]`"),
    Var("relay", "str", "smarthost `host[:port]` the monitoring server sends through; required when an address "
        "of `notify` is outside the branch's mail domains", "e.g. relay: smtp.isp.example:587", default="",
        nullable=False),
    Var("ntp_server", "str", "NTP server every host's clock offset is checked against (none: no offset check)",
        "give a host name or address, e.g. ntp_server: 10.77.10.1", default="", nullable=False),
    Var("cert_warn_days", "int", "certificate expiry: warn this many days before", "e.g. 21.", default=21,
        nullable=False, minimum=1),
    Var("cert_crit_days", "int", "certificate expiry: critical this many days before", "e.g. 7.", default=7,
        nullable=False, minimum=1),
    Var("disk_warn_pct", "int", "free disk space below which a disk warns", "1-99 (percent free).", default=20,
        nullable=False, minimum=1, maximum=99),
    Var("disk_crit_pct", "int", "free disk space below which a disk is critical", "1-99 (percent free).", default=10,
        nullable=False, minimum=1, maximum=99),
)

# --- smbvdc_branch.backup (plugin_utils/checks.py derives the backup plan) --------------------
BACKUP = _section(
    Var("schedule", "str", "systemd `OnCalendar` of the daily amdump", 'e.g. schedule: "*-*-* 01:30:00".',
        default="*-*-* 01:30:00", nullable=False),
    Var("dumpcycle_days", "int", "every disk gets a full dump at least this often", "e.g. 7.", default=7,
        nullable=False, minimum=1),
    Var("retention_days", "int", "backups are kept (vtapes reused after) this many days; at least "
        "`dumpcycle_days`, so a full dump is always kept", "e.g. 14.", default=14, nullable=False, minimum=1),
    Var("vtape_size_mb", "int", "size of one virtual tape", "e.g. 4096.", default=4096, nullable=False,
        minimum=64),
    Var("holding_mb", "int", "holding disk space on the backup server", "e.g. 4096.", default=4096,
        nullable=False, minimum=64),
    Var("extra_paths", "list", "further directories to back up", "write a list of {host, path}.", default=[],
        doc_type="list of `{host, path}`"),
)

# --- smbvdc_branch.web (plugin_utils/web.py derives each web VM's sites) ----------------------
WEB_APPS = ("static", "moodle", "nextcloud")
WEB = _section(
    Var("sites", "list", "the branch's web sites (table below); each name is published in DNS as a record of its "
        "web VM", "write a list of {name, app}, e.g. [{name: www, app: static}].", default=[],
        doc_type="list of sites (below)"),
    Var("default_sites", "bool", "the VM of group `moodle` (`owncloud`), when the group has one VM and `sites` "
        "none for it, gets a site named by the group's first `dns.service_names` entry (`moodle.<domain>`, "
        "`cloud.<domain>`)",
        "true or false.", default=True, nullable=False),
)

# --- smbvdc_branch.web.sites[] ------------------------------------------------------------------
WEBSITE = _section(
    Var("name", "str", "the site's DNS name: a label (`www` becomes `www.<domain>`) or a name in one of the "
        "branch's zones; must not be a name DNS already has for something else", "e.g. name: www",
        required=True),
    Var("app", "str", "what the site serves: files from `document_root`, or the application the `moodle` / "
        "`nextcloud` role installs", "use static, moodle or nextcloud (the collection's applications).",
        default="static", nullable=False, choices=WEB_APPS),
    Var("host", "str", "the web VM serving it (in group `web`; a Moodle site's VM also in `moodle`, a Nextcloud "
        "site's in `owncloud`)", "name one VM of the web tier, e.g. host: {example}", example="web1",
        doc_default="the only VM of the app's group"),
    Var("aliases", "list", "further names of the site (same rules as `name`); they redirect to `wwwroot`",
        "write it as a YAML list, e.g. [learn].", default=[], doc_type="list of names"),
    Var("wwwroot", "str", "the URL users reach the site at (Moodle's `$CFG->wwwroot`, Nextcloud's overwrite URL): "
        "`https://` and the site's name or an alias, no path", "e.g. wwwroot: https://moodle.example.org",
        doc_default="`https://<name>`"),
    Var("document_root", "str", "directory of a static site's files (applications have theirs)",
        "an absolute path, e.g. /srv/www/intranet.", doc_default="`/var/www/<name>`"),
    Var("tls", "mapping", "an external certificate: `{cert, key}`, paths on the web VM (cert with its chain); "
        "none: the branch CA issues one", "e.g. tls: {cert: /etc/ssl/acme/www.crt, key: /etc/ssl/acme/www.key}",
        doc_type="`{cert, key}`", doc_default="branch CA"),
)

SECTIONS = {"branch": BRANCH, "network": NETWORK, "budget": BUDGET, "kvm": KVM, "vm": VM, "datadisk": DATA_DISK,
            "monitoring": MONITORING, "backup": BACKUP, "web": WEB, "website": WEBSITE}
# The first column's title per section in the documentation.
_KEY_TITLE = {"branch": "key", "network": "key", "budget": "setting", "kvm": "variable", "vm": "variable",
              "datadisk": "key",
              "monitoring": "setting", "backup": "setting", "web": "setting", "website": "key"}
HOST_VARS = dict(KVM, **VM)


# --- validation -------------------------------------------------------------------------------
def _bounds(spec):
    out = []
    if spec.minimum is not None:
        out.append("%s %s" % (">" if spec.exclusive_minimum else ">=", spec.minimum))
    if spec.maximum is not None:
        out.append("%s %s" % ("<" if spec.exclusive_maximum else "<=", spec.maximum))
    return " and ".join(out)


def _in_bounds(spec, number):
    if spec.minimum is not None and (number <= spec.minimum if spec.exclusive_minimum else number < spec.minimum):
        return False
    if spec.maximum is not None and (number >= spec.maximum if spec.exclusive_maximum else number > spec.maximum):
        return False
    return True


def _expected(spec):
    """What a wrong value is told it must be."""
    if spec.expect:
        return spec.expect
    if spec.choices is not None:
        return "be one of %s" % ", ".join(spec.choices)
    if spec.type == "int":
        return "be an integer %s" % _bounds(spec) if _bounds(spec) else "be an integer"
    if spec.type == "number":
        return "be a number %s" % _bounds(spec) if _bounds(spec) else "be a number"
    return {"str": "be a single value", "bool": "be true or false", "list": "be a list",
            "mapping": "be a mapping"}[spec.type]


def fix_text(spec, example=None):
    if spec.fix and "{example}" in spec.fix:
        return spec.fix.replace("{example}", str(example if example is not None else spec.example))
    return spec.fix


def check(value, spec, variable, problems, example=None):
    """Validate one value against its ``Var``; the normalised value, or None after adding a problem.

    ``variable`` is the full name in messages (``hostvars['web1'].vm_vcpus``).
    None is ``spec.default`` unless the variable is required or not nullable.
    """
    fix = fix_text(spec, example)

    def bad(shown=None):
        problems.add(variable, "must %s, got %s." % (_expected(spec), shown if shown is not None else repr(value)), fix)
        return None

    if value is None and not spec.required and spec.nullable:
        return copy.deepcopy(spec.default)     # [] and {} are the caller's to change
    if value is None and spec.type != "number":     # a number says "must be a number, got None."
        return bad()
    if spec.choices is not None:
        return value if value in spec.choices else bad()
    if spec.type == "int":
        if isinstance(value, bool):
            return bad()
        try:
            number = int(str(value).strip())
        except (TypeError, ValueError):
            return bad()
        return number if _in_bounds(spec, number) else bad()
    if spec.type == "number":
        try:
            number = float(value)
        except (TypeError, ValueError):
            problems.add(variable, "must be a number, got %r." % (value,), fix)
            return None
        if not _in_bounds(spec, number):
            return bad()
        return spec.cast(number) if spec.cast else number
    if spec.type == "str":
        if isinstance(value, (list, tuple, dict, set, bool)):
            return bad("%s %r" % (type(value).__name__, value))
        if spec.pattern is not None and not spec.pattern.match(str(value)):
            return bad()
        return str(value)
    if spec.type == "bool":
        return value if isinstance(value, bool) else bad()
    if spec.type == "list":
        if isinstance(value, str):
            return [value]
        return list(value) if isinstance(value, (list, tuple)) else bad()
    # mapping
    return value if isinstance(value, dict) else bad()


# --- documentation ----------------------------------------------------------------------------
def _doc_value(value):
    if isinstance(value, bool):
        return "`%s`" % str(value).lower()
    if isinstance(value, (int, float)):
        return str(value)
    if value == "":
        return '`""`'
    if isinstance(value, (list, dict)) and not value:
        return "`%s`" % ("[]" if isinstance(value, list) else "{}")
    return "`%s`" % (value,)


def _doc_type(spec):
    if spec.doc_type:
        return spec.doc_type
    if spec.choices is not None:
        return " / ".join("`%s`" % c for c in spec.choices)
    if spec.type in ("int", "number") and _bounds(spec):
        return "%s %s" % (spec.type, _bounds(spec).replace(">=", "≥").replace("<=", "≤"))
    return spec.type


def _doc_default(spec):
    if spec.doc_default:
        return spec.doc_default
    if spec.required:
        return "required"
    if spec.default is None:
        return "none"
    return _doc_value(spec.default)


def render_table(section):
    """The markdown table of one section (``SECTIONS`` key)."""
    rows = ["| %s | type | default | meaning |" % _KEY_TITLE[section], "|---|---|---|---|"]
    for spec in SECTIONS[section].values():
        rows.append("| `%s` | %s | %s | %s |" % (spec.name, _doc_type(spec), _doc_default(spec),
                                                 spec.description.replace("|", "\\|")))
    return "\n".join(rows) + "\n"


_BLOCK = re.compile(r"(<!-- BEGIN schema:(?P<section>[a-z]+) -->\n)(?P<body>.*?)(<!-- END schema:(?P=section) -->)",
                    re.S)


def render_docs(text):
    """``text`` with every ``<!-- BEGIN schema:<section> -->`` block regenerated from the schema."""
    seen = set()

    def replace(match):
        section = match.group("section")
        if section not in SECTIONS:
            raise ValueError("unknown schema section %r (known: %s)" % (section, ", ".join(sorted(SECTIONS))))
        seen.add(section)
        return match.group(1) + render_table(section) + match.group(4)

    out = _BLOCK.sub(replace, text)
    missing = sorted(set(SECTIONS) - seen)
    if missing:
        raise ValueError("no <!-- BEGIN schema:%s --> ... <!-- END schema:%s --> block" % (missing[0], missing[0]))
    return out
