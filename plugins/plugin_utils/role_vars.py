# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smbvdc.datacenter developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Preflight of the roles' own variables, on the controller, before any host changes.

Each role declares its public variables in ``meta/argument_specs.yml``. Ansible
checks them only when the role starts, on its host, after the layers before
it have run (the VMs are built by then). ``check_role_vars`` checks them all
in the preflight play instead:

- which roles run on which host comes from the model and one table,
  ``services.ROLE_TARGETS`` (+ ``services.ROLE_INCLUDES`` for the roles a role
  brings in);
- every variable the inventory sets for such a host (``hostvars``: role
  defaults are not there) that the role's entry point declares is validated
  with Ansible's own ``ArgumentSpecValidator`` against its option (type,
  choices, the keys of list entries), after a stricter shape check: a role
  uses the variable as written, so a string where a list is expected (which
  the validator would split at commas) is wrong;
- the rules argument_specs cannot express (ranges, patterns, rules between
  variables and against the model) are the functions in ``RULES``; the roles
  keep their own asserts in ``tasks/preflight.yml`` for use by FQCN alone.

A value that cannot be templated on the controller (it needs facts) is
skipped, as in ``preflight.check_layers``. Every problem names
``hostvars['<host>'].<variable>`` and the fix; values of secret options
(``no_log``, or a name with ``password``/``secret``) are never repeated.
"""

from __future__ import annotations

import base64
import binascii
import copy
import ipaddress
import os
import re

try:
    from collections.abc import Mapping
except ImportError:  # pragma: no cover
    from collections import Mapping

import yaml

try:
    from jinja2 import Undefined
except ImportError:  # pragma: no cover - jinja2 comes with ansible-core
    Undefined = ()

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.errors import RequiredError, UnsupportedError

from . import checks as checks_mod
from . import services

ROLES_DIR = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "roles"))
MISSING = object()      # set, but cannot be evaluated on the controller
UNSET = object()        # not set in the inventory
SECRET_NAME = re.compile(r"password|secret", re.I)
_SPECS = {}
_DEFAULTS = {}


class _Vars(object):
    """One host's variables as Ansible gives them; a value that cannot be templated here is ``MISSING``."""

    def __init__(self, hostvars, host):
        try:
            self._hv = hostvars[host]
        except (KeyError, TypeError):
            self._hv = {}

    def get(self, key, default=None):
        """The value, ``default`` when unset, ``MISSING`` when it cannot be evaluated on the controller."""
        try:
            if key not in self._hv:
                return default
            value = self._hv[key]
            # ansible-core 2.19 returns a template that failed (a lookup of a file that is not there, a
            # fact) as an Undefined marker instead of raising; it raises once used
            return MISSING if _undefined(value) else value
        except Exception:  # a template that needs the layer's own facts: checked by the layer itself
            return MISSING


def _undefined(value, depth=0):
    """Whether ``value`` is, or holds, a value Ansible could not template."""
    if isinstance(value, Undefined):
        return True
    if depth < 8 and isinstance(value, Mapping):
        return any(_undefined(v, depth + 1) for v in value.values())
    if depth < 8 and isinstance(value, (list, tuple)):
        return any(_undefined(v, depth + 1) for v in value)
    return False


# --- the roles' declarations --------------------------------------------------

def _yaml(path):
    with open(path) as f:
        return yaml.safe_load(f) or {}


def entry_options(role, entry="main"):
    """The options of one entry point of ``roles/<role>/meta/argument_specs.yml`` (``{}`` when none)."""
    if role not in _SPECS:
        path = os.path.join(ROLES_DIR, role, "meta", "argument_specs.yml")
        _SPECS[role] = (_yaml(path).get("argument_specs") or {}) if os.path.exists(path) else {}
    return (_SPECS[role].get(entry) or {}).get("options") or {}


def role_defaults(role):
    """``roles/<role>/defaults/main.yml``."""
    if role not in _DEFAULTS:
        path = os.path.join(ROLES_DIR, role, "defaults", "main.yml")
        _DEFAULTS[role] = _yaml(path) if os.path.exists(path) else {}
    return _DEFAULTS[role]


def _group_hosts(model, group):
    if group == services.EVERY_VM:
        return sorted(model.get("vms") or {})
    if group == "kvm_hosts":
        return sorted(model.get("kvm_hosts") or {})
    return list(model["services"].get(group) or [])


def targets(model):
    """``{host: [(role, entry point), ...]}``: what the layers will run on each host of the model."""
    out = {}
    for (role, entry), (groups, needs) in sorted(services.ROLE_TARGETS.items()):
        if needs and not model["services"].get(needs):
            continue
        pairs = [(role, entry)] + [(inc, "main") for inc in services.ROLE_INCLUDES.get(role, ())]
        for group in groups:
            for host in _group_hosts(model, group):
                for pair in pairs:
                    if pair not in out.setdefault(host, []):
                        out[host].append(pair)
    return out


# --- one value against its option ----------------------------------------------

_TYPE_WORDS = {"str": "a string", "path": "a path (string)", "int": "an integer", "float": "a number",
               "bool": "true or false", "list": "a list", "dict": "a mapping", "raw": "any value"}
_EXAMPLES = {"str": "'text'", "path": "/an/absolute/path", "int": "10", "float": "5.0", "bool": "true",
             "list": "[a, b]", "dict": "{key: value}"}


def _kind(value):
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    if isinstance(value, Mapping):
        return "mapping"
    if isinstance(value, (list, tuple)):
        return "list"
    return type(value).__name__


def _show(value, secret):
    if secret:
        return "a %s (not shown: a secret)" % _kind(value)
    text = repr(value)
    return "%s %s" % (_kind(value), text if len(text) <= 60 else text[:57] + "...")


def _shape(kind, value):
    """What is wrong with ``value``'s shape for an option of type ``kind`` (None: fine).

    Stricter than the validator: the role uses the value as written, so it must
    already have the right shape (a str is not a list, a list is not a str, a
    bool is not a number).
    """
    if kind == "list" and not isinstance(value, (list, tuple)):
        return "list"
    if kind == "dict" and not isinstance(value, Mapping):
        return "dict"
    if kind in ("str", "path", "int", "float", "bool") and isinstance(value, (Mapping, list, tuple)):
        return kind
    if kind in ("int", "float") and isinstance(value, bool):
        return kind
    return None


def _fix(role, name, option):
    kind = option.get("type", "str")
    if option.get("choices"):
        return "set %s to one of %s (see roles/%s/README.md)." % (
            name, ", ".join(repr(c) for c in option["choices"]), role)
    if kind == "list" and option.get("elements"):
        what = {"dict": "mappings", "str": "strings", "path": "paths", "int": "integers"}.get(
            option["elements"], "%ss" % option["elements"])
        keys = ""
        if option.get("options"):
            keys = " with the keys %s" % ", ".join(
                k + ("" if not o.get("required") else " (required)") for k, o in option["options"].items())
        return "write %s as a YAML list of %s%s (see roles/%s/README.md)." % (name, what, keys, role)
    example = role_defaults(role).get(name)
    if example is None or (isinstance(example, str) and "{{" in example) or _shape(kind, example) \
            or isinstance(example, (list, tuple, Mapping)) or example == "":
        example = _EXAMPLES.get(kind, "...")
    else:
        example = "%s (the default)" % (example if not isinstance(example, bool) else str(example).lower())
    return "write %s as %s, e.g. %s: %s (see roles/%s/README.md)." % (
        name, _TYPE_WORDS.get(kind, kind), name, example, role)


def _top_spec(option):
    """The option for the validator without what is about the role's own default (required, default)."""
    spec = copy.deepcopy(option)
    for key in ("required", "default", "description", "version_added"):
        spec.pop(key, None)

    def clean(opts):
        for o in (opts or {}).values():
            o.pop("description", None)
            clean(o.get("options"))
    clean(spec.get("options"))
    return spec


_CONVERT = re.compile(r"^argument '(?P<key>[^']+)' is of type (?P<got>\S+)(?: found in .*?)? and we were unable "
                      r"to convert to (?P<want>\w+)")
_ELEMENT = re.compile(r"^Elements value for option '(?P<key>[^']+)'(?: found in .*?)? is of type (?P<got>\S+) and we "
                      r"were unable to convert to (?P<want>\w+)")


def _clean_message(msg, param, value, secret):
    """The validator's message about ``param``, rephrased for an inventory user."""
    m = _CONVERT.match(msg)
    if m:
        want = _TYPE_WORDS.get(m.group("want"), m.group("want"))
        if m.group("key") == param:
            return "must be %s, got %s." % (want, _show(value, secret))
        return "key %s must be %s, got %s." % (m.group("key"), want, m.group("got"))
    m = _ELEMENT.match(msg)
    if m:
        want = _TYPE_WORDS.get(m.group("want"), m.group("want"))
        if m.group("key") == param:
            return "every element must be %s, one is %s." % (want, m.group("got"))
        return "every element of key %s must be %s, one is %s." % (m.group("key"), want, m.group("got"))
    msg = re.sub(r"\s*found in '?%s'?\.?" % re.escape(param), "", msg)
    msg = msg.replace("value of %s must" % param, "must")
    msg = re.sub(r"^value of (\S+) must", r"key \1 must", msg)
    return msg.rstrip(". ") + "."


def _validate(param, option, value, secret_values, secret=False):
    """Run Ansible's ArgumentSpecValidator on one value; its messages, secrets removed."""
    result = ArgumentSpecValidator({param: option}).validate({param: value})
    out = []
    for err in result.errors:
        if isinstance(err, RequiredError):
            text = re.sub(r"^missing required arguments: (.*?)(\s+found in.*)?$", r"misses the key(s) \1", err.msg)
            out.append(text.rstrip(".") + ".")
        elif isinstance(err, UnsupportedError):
            keys = re.findall(r"%s(?:\[\d+\])?\.([^,.\s]+)" % re.escape(param), err.msg)
            supported = err.msg.split("Supported parameters include:", 1)[-1].strip().rstrip(".")
            out.append("has the unknown key(s) %s (the keys are: %s)." % (", ".join(keys) or "?", supported))
        else:
            out.append(_clean_message(err.msg, param, value, secret))
    for text in secret_values | set(str(v) for v in result._no_log_values):
        if text:
            out = [m.replace(text, "********") for m in out]
    return out


def _secret_values(option, value, name):
    out = set()
    if option.get("no_log") or SECRET_NAME.search(name):
        if isinstance(value, (str, int, float)):
            out.add(str(value))
    if isinstance(value, (list, tuple)) and option.get("options"):
        for item in value:
            if isinstance(item, Mapping):
                for k, o in option["options"].items():
                    if (o.get("no_log") or SECRET_NAME.search(k)) and isinstance(item.get(k), (str, int, float)):
                        out.add(str(item[k]))
    return out


def check_value(role, name, option, value, label, problems):
    """Check one variable against its option; ``True`` when it passed."""
    kind = option.get("type", "str")
    secret = bool(option.get("no_log") or SECRET_NAME.search(name))
    if kind == "raw" or value is None:
        return True
    wanted = _shape(kind, value)
    if wanted:
        problems.add(label, "must be %s, got %s." % (_TYPE_WORDS.get(wanted, wanted), _show(value, secret)),
                     _fix(role, name, option))
        return False
    ok = True
    elements = option.get("elements")
    if kind == "list" and elements:
        for i, item in enumerate(value):
            wanted = _shape(elements, item) if item is not None else None
            if wanted:
                problems.add("%s[%d]" % (label, i), "must be %s, got %s." % (
                    _TYPE_WORDS.get(wanted, wanted), _show(item, secret)), _fix(role, name, option))
                ok = False
        if not ok:
            return False
    secrets = _secret_values(option, value, name)
    spec = _top_spec(option)
    if kind == "list" and elements == "dict" and spec.get("options"):
        # entry by entry, so that each problem names its index
        item_spec = {"type": "dict", "options": spec["options"]}
        for i, item in enumerate(value):
            for msg in _validate(name, item_spec, item, secrets):
                problems.add("%s[%d]" % (label, i), msg, _fix(role, name, option))
                ok = False
        return ok
    for msg in _validate(name, spec, value, secrets, secret):
        problems.add(label, msg, _fix(role, name, option))
        ok = False
    return ok


# --- rules between values ----------------------------------------------------------

class Host(object):
    """One host's variables for the rules: what the inventory sets, else the role's plain default."""

    def __init__(self, model, hostvars, host, problems):
        self.model = model
        self.name = host
        self.vars = _Vars(hostvars, host)
        self.problems = problems
        self.bad = set()        # variables whose type is wrong: no rule looks at them
        self.role = None
        self.pairs = []         # the (role, entry point)s that run on this host

    def given(self, name):
        value = self.vars.get(name, UNSET)
        return value is not UNSET and value is not MISSING and value is not None

    def get(self, name):
        """The value; ``MISSING`` when unknown here (a template, a wrong type)."""
        if name in self.bad:
            return MISSING
        value = self.vars.get(name, UNSET)
        if value is UNSET or value is None:
            value = role_defaults(self.role).get(name, MISSING)
            if isinstance(value, str) and "{{" in value:
                return MISSING
        return value

    def label(self, name):
        return "hostvars['%s'].%s" % (self.name, name)

    def rule(self, names, ok, message, fix, sub=""):
        """Report ``message`` on ``names[0]`` (``sub``: a part of it, e.g. ``[0].port``) unless ``ok``.

        Only when the inventory set one of ``names``: the roles' own defaults are not the user's problem.
        """
        if ok or not any(self.given(n) for n in names):
            return
        self.problems.add(self.label(names[0]) + sub, message, fix)


def _int(value):
    if isinstance(value, bool) or value is MISSING:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _known(*values):
    return all(v is not MISSING for v in values)


def _minimum(h, name, low, fix=None, high=None):
    value = _int(h.get(name))
    if value is None:
        return
    if high is None:
        h.rule([name], value >= low, "must be %d or more, got %d." % (low, value),
               fix or "e.g. %s: %s (the default)." % (name, role_defaults(h.role).get(name, low)))
    else:
        h.rule([name], low <= value <= high, "must be %d-%d, got %d." % (low, high, value),
               fix or "e.g. %s: %s (the default)." % (name, role_defaults(h.role).get(name, low)))


def _pattern(h, name, regex, what, fix, allow_empty=False):
    value = h.get(name)
    if not isinstance(value, str) or (allow_empty and value == ""):
        return
    h.rule([name], re.match(regex, value) is not None, "must be %s, got %r." % (what, value), fix)


def _absolute(h, name, example):
    value = h.get(name)
    if not isinstance(value, str):
        return
    h.rule([name], value.startswith("/") and " " not in value and (value == "/" or not value.endswith("/")),
           "must be an absolute path without spaces or a trailing '/', got %r." % value, "e.g. %s: %s" % (name, example))


def _https(h, name, example, schemes=("https",)):
    value = h.get(name)
    if not isinstance(value, str) or value == "":
        return
    h.rule([name], re.match(r"^(%s)://[^\s/\"]+" % "|".join(schemes), value) is not None,
           "must be an %s:// URL, got %r." % ("(s)".join(schemes[:1]) if len(schemes) > 1 else schemes[0], value),
           "e.g. %s: %s" % (name, example))


def _address(text):
    try:
        ipaddress.ip_address(str(text))
        return True
    except ValueError:
        return False


DNS_LABEL = r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$"
DNS_NAME = r"^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$"
DB_NAME = r"^[A-Za-z0-9_]{1,64}$"
SHA256 = r"^[0-9a-fA-F]{64}$"
SSH_KEY = re.compile(r"^(ssh-|ecdsa-|sk-)")
# certificates are re-issued when fewer than 30 days are left (branch_ca_certificate_renew_days)
RENEW_DAYS = 30


def _rules_amanda(h):
    if ("amanda", "main") not in h.pairs:
        return      # a client: the server's settings are not used here
    settings = checks_mod.backup_plan(h.model)["settings"] if h.model["services"].get("backup") else {}
    for name in ("amanda_dumpcycle_days", "amanda_runspercycle", "amanda_inparallel", "amanda_maxdumps",
                 "amanda_req_tries"):
        _minimum(h, name, 1)
    for name in ("amanda_vtape_size_mb", "amanda_holding_mb"):
        _minimum(h, name, 64, "use 64 MiB or more, e.g. %s: 1024." % name)
    runs = _int(h.get("amanda_runspercycle") if h.given("amanda_runspercycle") else settings.get("runspercycle"))
    tapes = _int(h.get("amanda_tapecycle") if h.given("amanda_tapecycle") else settings.get("tapecycle"))
    if runs is not None and tapes is not None:
        h.rule(["amanda_tapecycle", "amanda_runspercycle"], tapes >= runs + 1,
               "is %d, which must exceed amanda_runspercycle (%d): otherwise the only full dump gets overwritten."
               % (tapes, runs), "raise amanda_tapecycle to %d or more (or set retention_days in smbvdc_branch.backup "
               "and leave both unset)." % (runs + 1))
    _absolute(h, "amanda_vtape_dir", "/srv/amanda/vtapes")
    _absolute(h, "amanda_holding_dir", "/srv/amanda/holding")
    _absolute(h, "amanda_ssh_key", "/var/backups/.ssh/id_ed25519_amanda")
    disk = h.get("amanda_vtape_disk")
    if isinstance(disk, str) and disk and h.given("amanda_vtape_disk"):
        vm = (h.model.get("vms") or {}).get(h.name) or {}
        names = [d.get("name") for d in vm.get("data_disks") or []]
        h.rule(["amanda_vtape_disk"], disk in names,
               "is %r, which is not a data disk of %s (its vm_data_disks: %s)." % (
                   disk, h.name, ", ".join(names) or "none"),
               "set it to one of them, add {name: %s, size_gb: <GiB>} to vm_data_disks of %s, or set "
               "amanda_vtape_disk: '' to keep the vtapes on the system disk." % (disk, h.name))


def _rules_branch_ca(h):
    _minimum(h, "branch_ca_days", RENEW_DAYS + 1, "e.g. branch_ca_days: 3650 (ten years; the certificates it signs "
             "must end before it does).")
    _absolute(h, "branch_ca_cert_path", "/etc/ssl/smbvdc/ca.crt")
    _pattern(h, "branch_ca_dir", r"^/", "an absolute directory on the controller",
             "e.g. branch_ca_dir: /srv/smbvdc/ca, or leave it unset (<inventory>/.smbvdc/ca).")


def _entries(value):
    return [e for e in value if isinstance(e, Mapping)] if isinstance(value, (list, tuple)) else []


def _rules_common(h):
    _pattern(h, "common_hostname", DNS_LABEL, "one DNS label (letters, digits, '-', no dots)",
             "put the domain in common_domain, e.g. common_hostname: mail1, common_domain: branch.example.")
    _pattern(h, "common_domain", DNS_NAME, "a DNS domain name or ''", "e.g. common_domain: branch.example, or ''.",
             allow_empty=True)
    _https(h, "common_apt_proxy", "http://apt-cacher.branch.example:3142", schemes=("http", "https"))
    _pattern(h, "common_unattended_upgrades_automatic_reboot_time", r"^([01][0-9]|2[0-3]):[0-5][0-9]$",
             "a time HH:MM", "e.g. common_unattended_upgrades_automatic_reboot_time: '03:30' (quoted).")
    _minimum(h, "common_apt_cache_valid_time", 0)
    for layer in ("common_", "common_group_", "common_host_"):
        name = layer + "hosts_entries"
        for i, e in enumerate(_entries(h.get(name))):
            if "address" in e:
                h.rule([name], _address(e["address"]), "must be an IP address, got %r." % (e["address"],),
                       "e.g. {address: 192.0.2.10, names: [mail.branch.example, mail]}.", sub="[%d].address" % i)
            if isinstance(e.get("names"), (list, tuple)):
                h.rule([name], len(e["names"]) > 0, "is empty.", "list at least one host name.", sub="[%d].names" % i)
        name = layer + "firewall_extra_ports"
        for i, e in enumerate(_entries(h.get(name))):
            port = _int(e.get("port"))
            if port is not None:
                h.rule([name], 1 <= port <= 65535, "must be 1-65535, got %d." % port,
                       "e.g. {port: 8080, proto: tcp, service: http-alt}.", sub="[%d].port" % i)
        name = layer + "admin_users"
        for i, e in enumerate(_entries(h.get(name))):
            user = e.get("name")
            if isinstance(user, str):
                h.rule([name], re.match(r"^[a-z_][a-z0-9_-]{0,31}$", user) is not None,
                       "must be a lower-case login name, got %r." % user, "e.g. name: alice.", sub="[%d].name" % i)
            keys = e.get("ssh_keys")
            if e.get("state", "present") == "present" and (keys is None or isinstance(keys, (list, tuple))):
                h.rule([name], bool(keys), "(%s) is present but has no ssh_keys." % user,
                       "add at least one SSH public key to ssh_keys, or set state: absent.", sub="[%d]" % i)
            if isinstance(keys, (list, tuple)):
                bad = [k for k in keys if not isinstance(k, str) or not SSH_KEY.match(k)]
                h.rule([name], not bad, "has %d entr%s that %s not an SSH public key line." % (
                    len(bad), "y" if len(bad) == 1 else "ies", "is" if len(bad) == 1 else "are"),
                    "use lines starting with ssh-, ecdsa- or sk- (the contents of id_*.pub).", sub="[%d].ssh_keys" % i)


def _rules_kvm_host(h):
    networks = h.get("kvm_host_networks")
    if isinstance(networks, (list, tuple)):
        unknown = [n for n in networks if n not in (h.model.get("networks") or {})]
        h.rule(["kvm_host_networks"], not unknown, "names %s, which smbvdc_branch.networks does not define." % (
            ", ".join(map(str, unknown))), "use the names of smbvdc_branch.networks (%s)." % (
            ", ".join(sorted(h.model.get("networks") or {})) or "none"))
    pool, image = h.get("kvm_host_pool_path"), h.get("kvm_host_image_dir")
    _absolute(h, "kvm_host_pool_path", "/var/lib/smbvdc/images")
    _absolute(h, "kvm_host_image_dir", "/var/lib/smbvdc/base")
    if isinstance(pool, str) and isinstance(image, str):
        h.rule(["kvm_host_pool_path", "kvm_host_image_dir"],
               os.path.normpath(pool) != os.path.normpath(image),
               "is the same directory as kvm_host_image_dir (%s)." % image,
               "use two directories, e.g. /var/lib/smbvdc/images and /var/lib/smbvdc/base.")
    url, checksum = h.get("kvm_host_image_url"), h.get("kvm_host_image_checksum")
    _https(h, "kvm_host_image_url", "https://cloud.debian.org/images/cloud/bookworm/latest/"
           "debian-12-genericcloud-amd64.qcow2", schemes=("https", "http", "file"))
    if isinstance(url, str) and url and _known(checksum):
        h.rule(["kvm_host_image_checksum", "kvm_host_image_url"],
               isinstance(checksum, str) and re.match(r"^[a-z0-9]+:[0-9a-fA-F]{32,}$", checksum) is not None,
               "must be '<algorithm>:<hex digest>' when kvm_host_image_url is set, got %r." % (checksum,),
               "e.g. kvm_host_image_checksum: sha512:<digest from the image's SHA512SUMS>, or leave "
               "kvm_host_image_url empty to build the image from Debian packages.")
    size = _int(h.get("kvm_host_image_size_mb"))
    if size is not None:
        h.rule(["kvm_host_image_size_mb"], size >= 1024, "must be 1024 or more, got %d." % size,
               "e.g. kvm_host_image_size_mb: 2048 (the default).")
        vms = ((h.model.get("placement") or {}).get("hosts") or {}).get(h.name, {}).get("vms") or []
        disks = [(h.model["vms"][v]["disk_gb"], v) for v in vms if v in h.model.get("vms", {})]
        if disks and size >= 1024:
            smallest, vm = min(disks)
            h.rule(["kvm_host_image_size_mb"], smallest * 1024 >= size,
                   "is %d MiB, more than the disk of %s (%d GiB) placed on this host: VM disks are grown from the "
                   "image, never shrunk." % (size, vm, smallest),
                   "lower kvm_host_image_size_mb to %d or less, or raise vm_disk_gb of %s." % (smallest * 1024, vm))
    _minimum(h, "kvm_host_virt_probe_timeout", 5, "e.g. kvm_host_virt_probe_timeout: 20 (the default).")
    _minimum(h, "kvm_host_tcg_tb_cache_size_mb", 16, "e.g. kvm_host_tcg_tb_cache_size_mb: 128 (the default).")
    _minimum(h, "kvm_host_apt_proxy_port", 1, high=65535)
    _minimum(h, "kvm_host_apt_cache_valid_time", 0)
    _minimum(h, "kvm_host_ksm_pages_to_scan", 1)
    _minimum(h, "kvm_host_ksm_sleep_millisecs", 1)
    _minimum(h, "kvm_host_capacity_memory_tolerance_pct", 0)
    _minimum(h, "kvm_host_capacity_memory_margin_mb", 0)


def _rules_mail(h):
    _minimum(h, "mail_rbl_threshold", 1)
    _minimum(h, "mail_password_length", 12, "e.g. mail_password_length: 20 (the default).")
    _minimum(h, "mail_vmail_uid", 1, high=65534)
    _minimum(h, "mail_message_size_limit", 1)
    _minimum(h, "mail_amavis_max_servers", 1)
    _minimum(h, "mail_dkim_key_bits", 1024, "e.g. mail_dkim_key_bits: 2048 (the default; DNS TXT records hold up to "
             "4096 bits).", high=4096)
    _minimum(h, "mail_tls_days", RENEW_DAYS + 1, "e.g. mail_tls_days: 825 (the default); the certificate is renewed "
             "30 days before its end, so fewer days would renew it on every run.")
    _pattern(h, "mail_dkim_selector", DNS_LABEL, "one DNS label", "e.g. mail_dkim_selector: smbvdc.")
    _pattern(h, "mail_roundcube_path", r"^/[^\s]*$", "a URL path starting with '/'",
             "e.g. mail_roundcube_path: /roundcube.")
    _pattern(h, "mail_roundcube_db_name", DB_NAME, "letters, digits and _ (at most 64)",
             "e.g. mail_roundcube_db_name: roundcube.")
    _pattern(h, "mail_default_quota", r"^(0|[1-9][0-9]*[KMGT]?)$", "a size like 500M, 2G or 0 (unlimited)",
             "e.g. mail_default_quota: 1G.")
    for i, e in enumerate(_entries(h.get("mail_postscreen_access"))):
        h.rule(["mail_postscreen_access"], "network" in e and e.get("action") in ("permit", "reject"),
               "must be {network, action: permit|reject}, got %r." % (e,),
               "e.g. mail_postscreen_access: [{network: 192.0.2.0/24, action: permit}].", sub="[%d]" % i)


def _rules_mariadb(h):
    _minimum(h, "mariadb_port", 1, high=65535)
    _minimum(h, "mariadb_password_length", 16, "e.g. mariadb_password_length: 32 (the default).")
    _minimum(h, "mariadb_max_connections", 1)
    _pattern(h, "mariadb_innodb_buffer_pool_size", r"^[0-9]+[KMGkmg]?$", "a size like 128M or 1G",
             "e.g. mariadb_innodb_buffer_pool_size: 256M.")
    for layer in ("mariadb_", "mariadb_group_", "mariadb_host_"):
        for kind in ("databases", "users"):
            name = layer + kind
            for i, e in enumerate(_entries(h.get(name))):
                value = e.get("name")
                regex = DB_NAME if kind == "databases" else r"^[A-Za-z0-9_.-]{1,80}$"
                h.rule([name], isinstance(value, str) and re.match(regex, value) is not None,
                       "must be letters, digits and _%s, got %r." % ("" if kind == "databases" else " . -", value),
                       "e.g. {name: app%s}." % ("" if kind == "databases" else ", priv: 'app.*:ALL'"),
                       sub="[%d].name" % i)


def _archive(h, app, url_example):
    url, path, sha = (h.get("%s_archive_%s" % (app, k)) for k in ("url", "path", "sha256"))
    _https(h, "%s_archive_url" % app, url_example)
    _pattern(h, "%s_archive_sha256" % app, SHA256, "64 hex digits (a sha256)",
             "copy the sha256 from the download page (or `sha256sum <archive>`).", allow_empty=True)
    return url, path, sha


def _rules_moodle(h):
    url, path, _sha = _archive(h, "moodle", "https://download.moodle.org/download.php/direct/stable501/moodle-5.1.tgz")
    if isinstance(url, str) and isinstance(path, str):
        h.rule(["moodle_archive_url", "moodle_archive_path"], not (url and path),
               "is set together with moodle_archive_path; the role takes one release archive.",
               "keep one: moodle_archive_url (a download) or moodle_archive_path (a .tgz on the controller).")
    _pattern(h, "moodle_db_name", DB_NAME, "letters, digits and _ (at most 64)", "e.g. moodle_db_name: moodle.")
    _pattern(h, "moodle_db_user", r"^[A-Za-z0-9_.-]{1,80}$", "letters, digits, _ . -", "e.g. moodle_db_user: moodle.")
    _pattern(h, "moodle_db_prefix", r"^[a-z][a-z0-9_]{0,9}$", "a lower-case table prefix (at most 10 characters)",
             "e.g. moodle_db_prefix: mdl_.")
    _pattern(h, "moodle_admin_email", r"^[^@\s]+@[^@\s]+\.[^@\s]+$", "a mail address",
             "e.g. moodle_admin_email: admin@branch.example.")
    _minimum(h, "moodle_password_length", 16, "e.g. moodle_password_length: 24 (the default).")
    _absolute(h, "moodle_data_dir", "/var/lib/moodledata")
    _absolute(h, "moodle_backup_dir", "/var/backups/moodle")


NEXTCLOUD_OWNED = ("trusted_domains", "datadirectory", "dbname", "dbuser", "dbpassword", "dbhost", "dbtableprefix",
                   "installed", "instanceid", "secret", "passwordsalt", "overwrite.cli.url", "overwriteprotocol",
                   "memcache.local", "upgrade.disable-web")


def _rules_nextcloud(h):
    _archive(h, "nextcloud", "https://download.nextcloud.com/server/releases/nextcloud-34.0.4.tar.bz2")
    _pattern(h, "nextcloud_db_name", DB_NAME, "letters, digits and _ (at most 64)", "e.g. nextcloud_db_name: nextcloud.")
    _pattern(h, "nextcloud_db_user", r"^[A-Za-z0-9_.-]{1,80}$", "letters, digits, _ . -",
             "e.g. nextcloud_db_user: nextcloud.")
    _pattern(h, "nextcloud_admin_user", r"^[A-Za-z0-9_.@-]{1,64}$", "a user name (letters, digits, _ . @ -)",
             "e.g. nextcloud_admin_user: admin.")
    _minimum(h, "nextcloud_password_length", 16, "e.g. nextcloud_password_length: 24 (the default).")
    _absolute(h, "nextcloud_data_dir", "/var/lib/nextcloud/data")
    config = h.get("nextcloud_system_config")
    if isinstance(config, Mapping):
        owned = sorted(k for k in config if k in NEXTCLOUD_OWNED or str(k).startswith("db"))
        h.rule(["nextcloud_system_config"], not owned, "sets %s, which the role or the installer owns." % (
            ", ".join(owned)), "remove those keys; the role sets them from the model.")


def _plan_names(h):
    try:
        plan = checks_mod.monitoring_plan(h.model)
    except Exception:  # the model's own checks report it
        return None, None
    hosts = [x.get("name") for x in plan.get("hosts") or [] if isinstance(x, Mapping)]
    commands = [x.get("name") for x in plan.get("commands") or [] if isinstance(x, Mapping)]
    return hosts, commands


def _rules_nagios(h):
    if ("nagios", "main") in h.pairs:
        _rules_nagios_server(h)
    if ("nagios", "nrpe") not in h.pairs:
        return
    for layer in ("nagios_nrpe_", "nagios_nrpe_group_", "nagios_nrpe_host_"):
        name = layer + "commands"
        value = h.get(name)
        if isinstance(value, Mapping):
            bad = [k for k, v in value.items() if not re.match(r"^[A-Za-z0-9_.-]+$", str(k)) or not isinstance(v, str)]
            h.rule([name], not bad, "has entries that are not {name: command line} (names of letters, digits, "
                   "_ . -): %s." % ", ".join(map(str, bad)),
                   "e.g. %s: {check_disk_data: /usr/lib/nagios/plugins/check_disk -w 20%% -c 10%% -p /srv}." % name)


def _rules_nagios_server(h):
    _minimum(h, "nagios_interval_length", 1)
    _minimum(h, "nagios_status_update_interval", 2, "e.g. nagios_status_update_interval: 10 (Nagios refuses less "
             "than 2).")
    _minimum(h, "nagios_check_result_reaper_frequency", 1)
    _minimum(h, "nagios_admin_password_length", 16, "e.g. nagios_admin_password_length: 24 (the default).")
    _minimum(h, "nagios_tls_days", RENEW_DAYS + 1, "e.g. nagios_tls_days: 825 (the default); the certificate is "
             "renewed 30 days before its end.")
    extra = _entries(h.get("nagios_extra_services"))
    if extra:
        hosts, commands = _plan_names(h)
        if hosts is not None:
            commands = set(commands) | {c.get("name") for c in _entries(h.get("nagios_extra_commands"))}
            for i, e in enumerate(extra):
                if isinstance(e.get("host"), str):
                    h.rule(["nagios_extra_services"], e["host"] in hosts,
                           "%r is not a host of the monitoring plan." % (e["host"],),
                           "use one of %s." % ", ".join(sorted(hosts)), sub="[%d].host" % i)
                if isinstance(e.get("check_command"), str):
                    command = e["check_command"].split("!", 1)[0]
                    h.rule(["nagios_extra_services"], command in commands,
                           "names the command %r, which neither the plan nor nagios_extra_commands defines."
                           % command, "add {name: %s, line: ...} to nagios_extra_commands (docs/monitoring.md, "
                           "\"Adding a check\")." % command, sub="[%d].check_command" % i)


def _rules_nsd(h):
    role = h.get("nsd_server_role")
    if role in ("primary", "secondary"):
        group = "dns_" + role
        h.rule(["nsd_server_role"], h.name in (h.model["services"].get(group) or []),
               "is %r, but %s is not in group %s." % (role, h.name, group),
               "leave nsd_server_role unset (the host's group decides), or move the host to group %s." % group)
    _minimum(h, "nsd_xfrd_reload_timeout", 0)
    for i, zone in enumerate(_entries(h.get("nsd_remote_zones"))):
        secret = zone.get("tsig_secret")
        if isinstance(secret, str) and secret:
            try:
                ok = len(base64.b64decode(secret, validate=True)) >= 16
            except (binascii.Error, ValueError):
                ok = False
            # a secret: never repeated
            h.rule(["nsd_remote_zones"], ok, "is not a base64 TSIG secret of 16 bytes or more.",
                   "paste the other branch's base64 secret (from vault).", sub="[%d].tsig_secret" % i)
        for a in zone.get("primaries") or []:
            h.rule(["nsd_remote_zones"], _address(a), "has %r, which is not an IP address." % (a,),
                   "list the other branch's primary by address, e.g. primaries: [192.0.2.53].",
                   sub="[%d].primaries" % i)
    for i, zone in enumerate(h.get("nsd_extra_zones") if isinstance(h.get("nsd_extra_zones"), list) else []):
        h.rule(["nsd_extra_zones"], isinstance(zone, Mapping) and "name" in zone and "zonefile" in zone,
               "must be {name, zonefile}, got %r." % (zone,),
               "e.g. nsd_extra_zones: [{name: example.net, zonefile: /etc/nsd/zones/example.net.zone}].",
               sub="[%d]" % i)


def _rules_vm(h):
    action, vms = h.get("vm_action"), h.get("vm_action_vms")
    if isinstance(action, str) and action and _known(vms):
        names = vms if isinstance(vms, (list, tuple)) else [v.strip() for v in str(vms or "").split(",") if v.strip()]
        unknown = [str(v) for v in names if v not in (h.model.get("vms") or {}) and v != "all"]
        h.rule(["vm_action_vms", "vm_action"], names and not unknown,
               "must name the VMs vm_action=%s acts on (VMs of the branch, or 'all'); %s." % (
                   action, "it names none" if not names else "not VMs of the branch: %s" % ", ".join(unknown)),
               "e.g. -e vm_action=%s -e vm_action_vms=%s" % (action, ",".join(sorted(h.model.get("vms") or {})[:2])))
    _minimum(h, "vm_role_shutdown_timeout", 1)
    _minimum(h, "vm_role_ssh_timeout", 1)
    proxy = h.get("vm_role_apt_proxy")
    if isinstance(proxy, str) and proxy not in ("", "auto"):
        _https(h, "vm_role_apt_proxy", "http://10.0.0.1:3142", schemes=("http", "https"))
    _pattern(h, "vm_role_ready_group", r"^[A-Za-z_][A-Za-z0-9_]*$", "a group name (letters, digits, _)",
             "e.g. vm_role_ready_group: smbvdc_vms_ready.")
    _pattern(h, "vm_role_domain_name_prefix", r"^[A-Za-z0-9_.-]*$", "letters, digits, _ . - (or '')",
             "e.g. vm_role_domain_name_prefix: lm-.", allow_empty=True)
    keys = h.get("vm_role_ssh_extra_public_keys")
    if isinstance(keys, (list, tuple)):
        bad = [i for i, k in enumerate(keys) if not isinstance(k, str) or not SSH_KEY.match(k)]
        h.rule(["vm_role_ssh_extra_public_keys"], not bad, "has entries that are not SSH public key lines (index %s)."
               % ", ".join(map(str, bad)), "use lines starting with ssh-, ecdsa- or sk- (the contents of id_*.pub).")


def _rules_web(h):
    _minimum(h, "web_hsts_max_age", 0)
    _minimum(h, "web_tls_days", RENEW_DAYS + 1, "e.g. web_tls_days: 825 (the default); certificates are renewed "
             "30 days before their end, so fewer days would renew them on every run.")
    _pattern(h, "web_php_version", r"^[0-9]+\.[0-9]+$", "a version like 8.2 (quoted)", "e.g. web_php_version: '8.2'.")
    _absolute(h, "web_acme_webroot", "/var/www/acme")


RULES = {
    "amanda": _rules_amanda, "branch_ca": _rules_branch_ca, "common": _rules_common, "kvm_host": _rules_kvm_host,
    "mail": _rules_mail, "mariadb": _rules_mariadb, "moodle": _rules_moodle, "nagios": _rules_nagios,
    "nextcloud": _rules_nextcloud, "nsd": _rules_nsd, "vm": _rules_vm, "web": _rules_web,
}


def _warnings(model, hostvars, plan):
    """What would stop a layer later but is not wrong in itself (an application without its release archive)."""
    out = []
    for host, pairs in sorted(plan.items()):
        hv = _Vars(hostvars, host)
        for app, doc in (("moodle", "docs/web.md"), ("nextcloud", "docs/web.md")):
            if (app, "main") not in pairs:
                continue
            if app == "nextcloud" and hv.get("nextcloud_install", True) in (False, "false", "no"):
                continue
            url = hv.get("%s_archive_url" % app, role_defaults(app).get("%s_archive_url" % app, ""))
            path = hv.get("%s_archive_path" % app, "")
            sha = hv.get("%s_archive_sha256" % app, "")
            if MISSING in (url, path, sha):
                continue
            if not sha or not (url or path):
                out.append("hostvars['%s'].%s_archive_sha256: %s has no complete %s release (%s_archive_url or "
                           "_path, and %s_archive_sha256): the web layer will stop there. Fix: set them (%s)." % (
                               host, app, host, app.capitalize(), app, app, doc))
    return out


def check_role_vars(model, hostvars, problems):
    """Check every role variable the inventory sets for the hosts the roles run on.

    :param model: the branch model.
    :param hostvars: Ansible's ``hostvars`` (or ``{host: {var: value}}``).
    :param problems: an ``errors.Collector``; every problem is added there.
    :returns: the warnings (a list of strings).
    """
    plan = targets(model)
    before = len(problems.problems)
    for host, pairs in sorted(plan.items()):
        h = Host(model, hostvars, host, problems)
        h.pairs = pairs
        checked = set()
        for role, entry in pairs:
            for name, option in entry_options(role, entry).items():
                if name in checked:
                    continue
                checked.add(name)
                value = h.vars.get(name, UNSET)
                if value is UNSET or value is MISSING:
                    continue
                if not check_value(role, name, option, value, h.label(name), problems):
                    h.bad.add(name)
        for role in sorted({r for r, _e in pairs}):
            h.role = role
            RULES[role](h)
    # one problem once (an option two entry points share)
    seen, unique = set(), []
    for p in problems.problems[before:]:
        key = (p.variable, p.message)
        if key not in seen:
            seen.add(key)
            unique.append(p)
    problems.problems[before:] = unique
    return _warnings(model, hostvars, plan)


__all__ = ["check_role_vars", "check_value", "entry_options", "targets", "MISSING", "RULES"]
