# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smbvdc.datacenter developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Preflight of every layer: run each derivation that can fail before any host changes.

The branch model (``model.build_model``) validates the inventory's own
variables. The layers derive more from it later (zones, TSIG keys, the mail
tables), and each derivation can reject bad input. Running them only in
their layer would stop a run after the VMs are built; ``check_layers`` runs
them all on the controller, in the preflight play, and reports every problem
at once, each naming its variable and the fix.

``lint_inventory`` reads the inventory's own YAML files with a strict loader,
so that a key given twice in one mapping (which Ansible only warns about,
keeping the last value) or a YAML syntax error in hosts.yml (which Ansible
turns into "no hosts" plus a warning) is reported with its file and line.
"""

from __future__ import annotations

import base64
import binascii
import os
import re

try:
    import yaml
    HAS_YAML = True
except ImportError:  # pragma: no cover
    HAS_YAML = False

from . import dns as dns_mod
from . import mail as mail_mod
from . import role_vars
from .errors import Collector, ModelError
from .role_vars import MISSING as _MISSING, _Vars

TSIG_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]*$")


def _tsig(model, hostvars, problems, bad):
    # the key's type and nsd_tsig_algorithm's choices are checked with the nsd role's argument_specs
    for h in model["services"].get("dns_primary", []) + model["services"].get("dns_secondary", []):
        hv = _Vars(hostvars, h)
        name = hv.get("nsd_tsig_key_name")
        label = "hostvars['%s'].nsd_tsig_key_name" % h
        if isinstance(name, str) and label not in bad and not TSIG_NAME.match(name):
            problems.add(label, "must be a DNS-style name, got %r." % (name,),
                         "e.g. nsd_tsig_key_name: smbvdc-%s-xfr, or leave it unset." % model["name"])
        secret = hv.get("nsd_tsig_secret")
        if secret in (None, _MISSING, "") or "hostvars['%s'].nsd_tsig_secret" % h in bad:
            continue
        try:
            raw = base64.b64decode(str(secret), validate=True) if isinstance(secret, str) else None
        except (binascii.Error, ValueError):
            raw = None
        # the value is a secret: the message never repeats it
        if raw is None:
            problems.add("hostvars['%s'].nsd_tsig_secret" % h, "is not a base64 string.",
                         "leave it empty to generate one (kept 0600 on the controller), or paste the base64 secret "
                         "from `tsig-keygen` (vault-encrypted).")
        elif len(raw) < 16:
            problems.add("hostvars['%s'].nsd_tsig_secret" % h, "is only %d bytes long; TSIG keys need at least 16 "
                         "(RFC 8945 6)." % len(raw), "generate a new key (leave nsd_tsig_secret empty).")


def _layered(hv, name, host, problems, bad):
    """``mail_x + mail_group_x + mail_host_x`` of one host, each checked to be a list."""
    out = []
    for key in ("mail_%s" % name, "mail_group_%s" % name, "mail_host_%s" % name):
        value = hv.get(key, [])
        if value is _MISSING or any(b.startswith("hostvars['%s'].%s" % (host, key)) for b in bad):
            return None     # unknown here, or its type is already reported
        if value is None:
            continue
        if not isinstance(value, list):
            problems.add("hostvars['%s'].%s" % (host, key), "must be a list, got %s %r."
                         % (type(value).__name__, value if not isinstance(value, str) else value[:40]),
                         "write it as a YAML list of mappings, e.g. [{address: alice@%s}]."
                         % "example.org")
            continue
        out += value
    return out


def _mail(model, hostvars, problems, bad):
    for h in model["services"].get("mail", []):
        hv = _Vars(hostvars, h)
        boxes = _layered(hv, "mailboxes", h, problems, bad)
        aliases = _layered(hv, "aliases", h, problems, bad)
        postmaster = hv.get("mail_postmaster", "")
        quota = hv.get("mail_default_quota", "1G")
        if boxes is None or aliases is None or _MISSING in (postmaster, quota) or any(
                "hostvars['%s'].%s" % (h, v) in bad for v in ("mail_postmaster", "mail_default_quota")):
            continue
        try:
            mail_mod.build_accounts(model, boxes, aliases, postmaster=postmaster or None, default_quota=quota,
                                    check_only=True)
        except ModelError as exc:
            for p in exc.problems:
                problems.add("hostvars['%s'].%s" % (h, p.variable), p.message, p.fix)


def check_layers(model, hostvars):
    """Run every layer's derivation that can fail; raise one ``ModelError`` listing all problems.

    :param model: the branch model.
    :param hostvars: Ansible's ``hostvars`` (or ``{host: {var: value}}``).
    :returns: ``{"zones": [zone names], "checked": [what was checked], "warnings": [text]}``.
    """
    problems = Collector()
    zones = []
    checked = ["tsig", "mail accounts", "role variables"]
    # A branch without a DNS server has no zones to serve (the DNS layer has
    # no host to run on); DKIM keys are made by the mail layer, and their
    # records are checked there.
    if model["services"].get("dns_primary"):
        checked.insert(0, "dns zones")
        try:
            zones = sorted(dns_mod.build_zones(model, {}))
        except ModelError as exc:
            problems.problems.extend(exc.problems)
    # the roles' own variables (argument_specs and the rules between them), first: a variable of the
    # wrong type is reported once, by them, and left out of the derivations below
    warnings = role_vars.check_role_vars(model, hostvars, problems)
    bad = set(p.variable for p in problems.problems)
    _tsig(model, hostvars, problems, bad)
    _mail(model, hostvars, problems, bad)
    problems.raise_if_any(ModelError, title="the branch's layers would fail on this inventory")
    return {"zones": zones, "checked": checked, "warnings": warnings}


# --- the inventory's files -------------------------------------------------

INVENTORY_EXTENSIONS = ("", ".yml", ".yaml", ".json")


def _loader():
    class StrictLoader(yaml.SafeLoader):
        """SafeLoader that reports duplicate keys and accepts Ansible's tags (!vault, !unsafe)."""

    def construct_mapping(loader, node, deep=False):
        seen = {}
        for key_node, _value_node in node.value:
            try:
                key = loader.construct_object(key_node, deep=deep)
            except yaml.YAMLError:
                continue
            if isinstance(key, (str, int, float, bool)) or key is None:
                if key in seen:
                    loader.duplicates.append((key, seen[key], key_node.start_mark.line + 1))
                else:
                    seen[key] = key_node.start_mark.line + 1
        loader.flatten_mapping(node)
        return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)

    def any_tag(loader, _suffix, node):
        if isinstance(node, yaml.ScalarNode):
            return loader.construct_scalar(node)
        if isinstance(node, yaml.SequenceNode):
            return loader.construct_sequence(node)
        return loader.construct_mapping(node)

    StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    StrictLoader.add_multi_constructor("!", any_tag)
    return StrictLoader


def _files(source, vars_only=False):
    if os.path.isfile(source):
        if not vars_only:
            yield source
        return
    if not os.path.isdir(source):
        return
    for name in sorted(os.listdir(source)):
        path = os.path.join(source, name)
        if not vars_only and os.path.isfile(path) and os.path.splitext(name)[1] in (".yml", ".yaml"):
            yield path
    for sub in ("group_vars", "host_vars"):
        top = os.path.join(source, sub)
        for root, dirs, names in os.walk(top):
            dirs.sort()
            for name in sorted(names):
                if os.path.splitext(name)[1] in INVENTORY_EXTENSIONS and not name.startswith("."):
                    yield os.path.join(root, name)


def lint_inventory(sources, vars_only=False):
    """Problems of the inventory's YAML files: syntax errors and keys given twice, with file and line.

    :param vars_only: read only the ``group_vars`` and ``host_vars`` below each source (what the vars
        plugin checks before Ansible loads them).
    """
    if not HAS_YAML:  # pragma: no cover - PyYAML comes with ansible-core
        return []
    loader_cls = _loader()
    out = []
    for source in sources or []:
        for path in _files(str(source), vars_only=vars_only):
            try:
                with open(path, "rb") as f:
                    data = f.read()
            except OSError as exc:
                out.append("%s: cannot be read (%s)." % (path, exc.strerror))
                continue
            if data.lstrip().startswith(b"$ANSIBLE_VAULT"):
                continue        # encrypted as a whole: Ansible decrypts it, nothing to read here
            text = data.decode("utf-8", errors="replace")
            if path.endswith(".ini") or (os.path.splitext(path)[1] == "" and not text.lstrip().startswith(("---", "{"))
                                         and re.search(r"^\[[^\]]+\]\s*$", text, re.M)):
                continue        # an INI inventory, not YAML
            loader = loader_cls(text)
            loader.duplicates = []
            try:
                while loader.check_data():
                    loader.get_data()
            except yaml.MarkedYAMLError as exc:
                mark = exc.problem_mark or exc.context_mark
                line = mark.line + 1 if mark is not None else 0
                out.append("%s:%d: YAML syntax error: %s. Fix: correct the YAML at that line." % (
                    path, line, exc.problem or exc))
                continue
            except yaml.YAMLError as exc:
                out.append("%s: YAML error: %s." % (path, exc))
                continue
            finally:
                loader.dispose()
            for key, first, again in loader.duplicates:
                out.append("%s:%d: key '%s' is given twice in one mapping (first on line %d); Ansible keeps the "
                           "last one only. Fix: remove one of them." % (path, again, key, first))
    return out


__all__ = ["check_layers", "lint_inventory"]
