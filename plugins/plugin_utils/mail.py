# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smbvdc.datacenter developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Mail data computed from the branch model and the mail role's variables.

Mailboxes and aliases are inventory data (``mail_mailboxes`` /
``mail_aliases``); this module validates them against the branch model (only
the branch's ``mail_domains`` are served) and computes everything the mail
host needs from them, so that Postfix, Dovecot and the tests read one result:

- the virtual mailbox, virtual alias and sender-login tables of Postfix,
- the Dovecot passwd-file (BLF-CRYPT hashes from the bcrypt library; a hash
  the host already has is kept while it still matches the password, so an
  unchanged password gives an unchanged file, also for older SHA512-CRYPT ones),
- the DKIM records the NSD role publishes (``nsd_dkim_keys``), the key checked
  with the cryptography library,
- the names and addresses the mail host's TLS certificate must carry,
- the mail policy of the branch (``smbvdc_branch.mail``: SPF, DMARC, DKIM
  selector, MX priority), which the model validates here and the zones publish.

Every problem names the variable and the fix (``ModelError``), and all
problems of one call are reported together.
"""

from __future__ import annotations

import base64
import ipaddress
import re
import types
import warnings

from . import names
from .errors import Collector, ModelError

LOCAL_PART = re.compile(r"^[a-z0-9](?:[a-z0-9_+=-]|\.(?!\.))*(?<!\.)$")
DOMAIN = names.DOMAIN_RE
QUOTA = re.compile(r"^(0|[1-9][0-9]*[KMGT]?)$")
HASH_SCHEMES = ("SHA512-CRYPT", "SHA256-CRYPT", "BLF-CRYPT", "ARGON2ID", "ARGON2I", "CRYPT", "SSHA512", "PBKDF2")
# RFC 8301 3.2: DKIM verifiers ignore RSA keys under 1024 bits (2048 is what the role generates)
DKIM_MIN_BITS = 1024
# RFC 2142 / RFC 5321: every served domain must accept these
REQUIRED_LOCAL_PARTS = ("postmaster", "abuse")
MAILBOX_KEYS = ("address", "name", "quota", "password_hash", "state")
ALIAS_KEYS = ("address", "to", "state")


class MailError(ModelError):
    """The mail accounts (mailboxes, aliases, DKIM) are not valid."""

    def __init__(self, problems, title="the mail accounts are not valid"):
        super(MailError, self).__init__(problems, title=title)


# --- Dovecot password hashes ------------------------------------------------
#
# New hashes are BLF-CRYPT: bcrypt with a random salt, written with the $2y$
# prefix that `doveadm pw -s BLF-CRYPT` writes (Dovecot 2.3 verifies it with
# its bundled crypt_blowfish). ARGON2ID would need `service auth { vsz_limit =
# 2G }` in dovecot.conf (Dovecot's advice) and 64 MiB per login on a small VM.
# A hash the host already has (``previous``) is kept while it matches the
# password, also the SHA512-CRYPT ones of older releases (verified with
# passlib), so a second run and an upgraded host report no change.

BLF_ROUNDS = 10                 # bcrypt cost: 2^10 rounds (Dovecot's own default is 5)
BLF_MAX_BYTES = 72              # bcrypt uses the first 72 bytes of a password only


def require_bcrypt():
    """The bcrypt module, imported when a password is hashed (building the model does not need it)."""
    try:
        import bcrypt
    except ImportError:  # pragma: no cover
        raise ImportError("the python library bcrypt is required on the controller (pip install bcrypt)")
    return bcrypt


def password_hash(password, rounds=BLF_ROUNDS):
    """Dovecot passwd-file password field ``{BLF-CRYPT}$2y$...`` for a plain-text password (random salt)."""
    bcrypt = require_bcrypt()
    data = password.encode("utf-8")
    if len(data) > BLF_MAX_BYTES:
        raise ValueError("a password longer than %d bytes cannot be hashed with BLF-CRYPT" % BLF_MAX_BYTES)
    hashed = bcrypt.hashpw(data, bcrypt.gensalt(rounds)).decode("ascii")
    return "{BLF-CRYPT}$2y$" + hashed[len("$2b$"):]


def _sha_crypt(kind):
    """passlib's sha512_crypt ($6$) or sha256_crypt ($5$) handler."""
    with warnings.catch_warnings():
        # passlib 1.7 imports the stdlib crypt module where there is one (deprecated in 3.11, gone in 3.13;
        # passlib then uses its own implementation)
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            from passlib.hash import sha256_crypt, sha512_crypt
        except ImportError:
            raise ImportError("the python library passlib is required on the controller to check SHA512-CRYPT "
                              "hashes (pip install passlib)")
    return sha512_crypt if kind == "6" else sha256_crypt


def verify_password(password, stored):
    """True when the passwd-file password field ``stored`` is a hash of ``password``.

    Knows BLF-CRYPT, SHA512-CRYPT and SHA256-CRYPT, with their ``{SCHEME}``
    prefix or as ``{CRYPT}``/bare crypt strings. Any other scheme or a
    malformed hash gives False (the caller then writes a new hash).
    """
    m = re.match(r"^\{([A-Z0-9.-]+)\}(.*)$", str(stored or ""), re.S)
    scheme, text = (m.group(1), m.group(2)) if m else ("CRYPT", str(stored or ""))
    data = password.encode("utf-8")
    if scheme in ("BLF-CRYPT", "CRYPT") and re.match(r"^\$2[aby]\$[0-9]{2}\$[./A-Za-z0-9]{53}$", text):
        bcrypt = require_bcrypt()
        if len(data) > BLF_MAX_BYTES:
            return False
        try:
            return bcrypt.checkpw(data, text.encode("ascii"))
        except ValueError:
            return False
    for kind, name in (("6", "SHA512-CRYPT"), ("5", "SHA256-CRYPT")):
        if scheme in (name, "CRYPT") and text.startswith("$%s$" % kind):
            try:
                return bool(_sha_crypt(kind).verify(password, text))
            except (ValueError, TypeError):
                return False
    return False


def previous_hashes(previous):
    """``{address: password field}`` from the passwd-file on the host (its text) or a ready dict."""
    if isinstance(previous, dict):
        return {str(k): str(v) for k, v in previous.items() if v}
    out = {}
    for line in str(previous or "").splitlines():
        if not line.strip() or line.lstrip().startswith("#") or ":" not in line:
            continue
        user, field = line.split(":", 2)[:2]
        if field:
            out[user.strip()] = field
    return out


def _password_field(address, password, old, problems):
    """The passwd-file field for a generated password: ``old`` while it matches, else a new BLF-CRYPT hash."""
    if old and verify_password(password, old):
        return old
    size = len(password.encode("utf-8"))
    if size > BLF_MAX_BYTES:
        problems.add("mail_password_length", "the password of %s is %d bytes long; BLF-CRYPT uses %d at most."
                     % (address, size, BLF_MAX_BYTES), "set mail_password_length to %d or less." % BLF_MAX_BYTES)
        return None
    return password_hash(password)


# --- addresses -----------------------------------------------------------


def split_address(value, variable, problems):
    """(local, domain) of a lowercase address, or None after recording a problem."""
    if not isinstance(value, str) or value.count("@") != 1:
        problems.add(variable, "%r is not a mail address (local@domain)." % (value,), "write it as name@domain.")
        return None
    local, domain = value.strip().split("@")
    if value != value.strip().lower():
        problems.add(variable, "%r must be written in lowercase without spaces." % (value,),
                     "write it as %r." % value.strip().lower())
        return None
    if not LOCAL_PART.match(local) or len(local) > 64:
        problems.add(variable, "%r has an invalid local part %r." % (value, local),
                     "use letters, digits and . _ + = - (no leading, trailing or double dots).")
        return None
    if not DOMAIN.match(domain):
        problems.add(variable, "%r has an invalid domain %r." % (value, domain), "fix the domain.")
        return None
    return local, domain


def _layered(value, variable, problems):
    if value is None:
        return []
    if not isinstance(value, list):
        problems.add(variable, "must be a list, got %r." % (value,), "write it as a YAML list.")
        return []
    return value


def _quota(value, default, variable, problems):
    if value is None:
        value = default
    text = str(value).strip().upper()
    if not QUOTA.match(text):
        problems.add(variable, "%r is not a quota." % (value,), "use a size such as 512M, 2G or 0 for unlimited.")
        return None
    return text


def _hash(value, variable, problems):
    text = str(value).strip()
    if ":" in text.split("}", 1)[-1] or "\n" in text or " " in text:
        problems.add(variable, "contains ':' or whitespace, which the passwd-file cannot hold.",
                     "give a hash such as {BLF-CRYPT}$2y$... (doveadm pw -s BLF-CRYPT).")
        return None
    m = re.match(r"^\{([A-Z0-9.-]+)\}.+$", text)
    if m:
        if m.group(1) not in HASH_SCHEMES:
            problems.add(variable, "uses the scheme {%s}." % m.group(1), "use one of %s." % ", ".join(HASH_SCHEMES))
            return None
        return text
    if re.match(r"^\$(6|5|2[aby]|argon2id|argon2i)\$", text):
        return "{CRYPT}" + text
    problems.add(variable, "is not a password hash.", "give {SCHEME}hash, e.g. the output of "
                 "`doveadm pw -s BLF-CRYPT`, or leave it out to generate a password.")
    return None


def build_accounts(model, mailboxes, aliases=None, passwords=None, postmaster=None, default_quota="1G",
                   vmail_dir="/var/vmail", check_only=False, previous=None):
    """Validate mailboxes and aliases and compute the mail host's tables.

    :param model: the branch model (``mail_domains``, ``services``).
    :param mailboxes: ``[{address, name?, quota?, password_hash?, state?}]`` (``mail_mailboxes`` with its
        group/host layers already added).
    :param aliases: ``[{address, to: [address, ...], state?}]``.
    :param passwords: ``{address: plain-text password}`` for mailboxes without ``password_hash``.
    :param postmaster: where ``postmaster@`` and ``abuse@`` of every domain go when no alias says otherwise.
    :param check_only: validate only (the preflight): no passwords are needed and none are hashed.
    :param previous: the passwd-file the mail host has now (text), or ``{address: password field}``: a
        field that still matches the address's password is kept as it is (no new salt, no change).
    :returns: dict with ``domains``, ``mailboxes``, ``aliases``, ``virtual_mailboxes``, ``virtual_aliases``,
        ``sender_logins`` (lists of ``[key, value]``) and ``dovecot_users`` (passwd-file lines).
    :raises MailError: naming every offending variable.
    """
    problems = Collector()
    domains = list(model.get("mail_domains") or [])
    passwords = passwords or {}
    old_hashes = previous_hashes(previous)
    if not model.get("services", {}).get("mail"):
        problems.add("groups['mail']", "the branch has no mail host, so it serves no mail domain.",
                     "add the mail VM (e.g. mail1) to the mail group.")
    seen = {}      # address -> variable that defined it

    def served(address, local_domain, variable):
        local, domain = local_domain
        if domain not in domains:
            problems.add(variable, "%s is in %s, which the branch does not serve (mail_domains: %s)."
                         % (address, domain, ", ".join(domains) or "none"),
                         "add %s to smbvdc_branch.mail_domains or correct the address." % domain)
            return False
        return True

    def claim(address, variable):
        if address in seen:
            problems.add(variable, "%s is defined twice (also %s)." % (address, seen[address]),
                         "keep one mailbox or alias per address.")
            return False
        seen[address] = variable
        return True

    boxes = []
    for i, box in enumerate(_layered(mailboxes, "mail_mailboxes", problems)):
        var = "mail_mailboxes[%d]" % i
        if not isinstance(box, dict) or "address" not in box:
            problems.add(var, "must be a mapping with at least 'address', got %r." % (box,),
                         "e.g. {address: alice@example.org, quota: 1G}")
            continue
        unknown = sorted(set(box) - set(MAILBOX_KEYS))
        if unknown:
            problems.add(var, "has unknown keys %s." % ", ".join(unknown), "use %s." % ", ".join(MAILBOX_KEYS))
        if box.get("state", "present") not in ("present", "absent"):
            problems.add(var + ".state", "must be present or absent, got %r." % (box.get("state"),), "")
            continue
        if box.get("state", "present") == "absent":
            continue
        parts = split_address(box["address"], var + ".address", problems)
        if not parts or not served(box["address"], parts, var + ".address"):
            continue
        address = box["address"]
        if not claim(address, var):
            continue
        quota = _quota(box.get("quota"), default_quota, var + ".quota", problems)
        if box.get("password_hash"):
            pw_hash = _hash(box["password_hash"], var + ".password_hash", problems)
        elif check_only:
            pw_hash = ""   # not hashed: the result is only validated
        elif passwords.get(address):
            pw_hash = _password_field(address, str(passwords[address]), old_hashes.get(address), problems)
        else:
            problems.add(var + ".password_hash", "%s has neither a password hash nor a generated password." % address,
                         "give password_hash (from vault) or let the role generate the password.")
            pw_hash = None
        name = box.get("name") or ""
        if not isinstance(name, str) or re.search(r"[:\n]", name):
            problems.add(var + ".name", "must be text without ':' or newlines, got %r." % (name,), "")
            name = ""
        boxes.append({"address": address, "local": parts[0], "domain": parts[1], "name": name, "quota": quota,
                      "maildir": "%s/%s/" % (parts[1], parts[0]),
                      "home": "%s/%s/%s" % (vmail_dir.rstrip("/"), parts[1], parts[0]), "password_hash": pw_hash})

    alias_map = {}
    alias_var = {}
    for i, alias in enumerate(_layered(aliases, "mail_aliases", problems)):
        var = "mail_aliases[%d]" % i
        if not isinstance(alias, dict) or "address" not in alias or "to" not in alias:
            problems.add(var, "must be a mapping with 'address' and 'to', got %r." % (alias,),
                         "e.g. {address: info@example.org, to: [alice@example.org]}")
            continue
        unknown = sorted(set(alias) - set(ALIAS_KEYS))
        if unknown:
            problems.add(var, "has unknown keys %s." % ", ".join(unknown), "use %s." % ", ".join(ALIAS_KEYS))
        if alias.get("state", "present") == "absent":
            continue
        parts = split_address(alias["address"], var + ".address", problems)
        if not parts or not served(alias["address"], parts, var + ".address"):
            continue
        targets = alias["to"] if isinstance(alias["to"], list) else [alias["to"]]
        if not targets:
            problems.add(var + ".to", "is empty.", "list at least one address.")
            continue
        good = []
        for j, t in enumerate(targets):
            tvar = "%s.to[%d]" % (var, j)
            if split_address(t, tvar, problems):
                if t in good:
                    problems.add(tvar, "%s is listed twice." % t, "remove the duplicate.")
                else:
                    good.append(t)
        if not claim(alias["address"], var):
            continue
        alias_map[alias["address"]] = good
        alias_var[alias["address"]] = var

    box_addresses = {b["address"] for b in boxes}
    if postmaster and not split_address(postmaster, "mail_postmaster", problems):
        postmaster = None
    for domain in domains:
        for local in REQUIRED_LOCAL_PARTS:
            address = "%s@%s" % (local, domain)
            if address in box_addresses or address in alias_map:
                continue
            if not postmaster:
                problems.add("mail_postmaster", "%s has no mailbox or alias, and mail_postmaster is empty." % address,
                             "set mail_postmaster to a mailbox address, or add an alias for %s." % address)
                continue
            alias_map[address] = [postmaster]
            alias_var[address] = "mail_postmaster"

    # every local target must exist; aliases must not loop
    for address, targets in sorted(alias_map.items()):
        for t in targets:
            if t.split("@", 1)[1] in domains and t not in box_addresses and t not in alias_map:
                problems.add(alias_var[address], "%s forwards to %s, which is neither a mailbox nor an alias."
                             % (address, t), "create the mailbox %s or correct the target." % t)
    cycles = _alias_cycles(alias_map)
    for cycle in cycles:
        problems.add(alias_var[cycle[0]], "the aliases loop: %s." % " -> ".join(cycle + [cycle[0]]),
                     "make one of them deliver to a mailbox instead.")
    problems.raise_if_any(MailError)

    owners = {}
    for b in boxes:
        owners.setdefault(b["address"], set()).add(b["address"])
    for address in alias_map:
        owners.setdefault(address, set()).update(m for m in _expand(address, alias_map, box_addresses))
    boxes.sort(key=lambda b: (b["domain"], b["local"]))
    out_aliases = [{"address": a, "to": alias_map[a]} for a in sorted(alias_map)]
    users = []
    for b in boxes:
        extra = "userdb_quota_rule=*:storage=%s" % b["quota"]
        users.append(":".join([b["address"], b["password_hash"], "", "", b["name"], "", "", extra]))
    return {
        "domains": domains,
        "mailboxes": [{k: v for k, v in b.items() if k != "password_hash"} for b in boxes],
        "aliases": out_aliases,
        "virtual_mailboxes": [[b["address"], b["maildir"]] for b in boxes],
        "virtual_aliases": [[a["address"], ",".join(a["to"])] for a in out_aliases],
        "sender_logins": [[a, ",".join(sorted(owners[a]))] for a in sorted(owners) if owners[a]],
        "dovecot_users": users,
    }


def _expand(address, alias_map, boxes, depth=0):
    """The local mailboxes an address finally delivers to."""
    if address in boxes:
        return {address}
    out = set()
    if depth > 20:
        return out
    for t in alias_map.get(address, []):
        out |= _expand(t, alias_map, boxes, depth + 1)
    return out


def _alias_cycles(alias_map):
    """Every cycle among aliases, each once, as a list starting at its smallest address."""
    cycles = set()
    state = {}

    def visit(node, path):
        state[node] = 1
        path.append(node)
        for t in alias_map.get(node, []):
            if t not in alias_map:
                continue
            if state.get(t) == 1:
                cyc = path[path.index(t):]
                k = cyc.index(min(cyc))
                cycles.add(tuple(cyc[k:] + cyc[:k]))
            elif not state.get(t):
                visit(t, path)
        path.pop()
        state[node] = 2

    for node in sorted(alias_map):
        if not state.get(node):
            visit(node, [])
    return [list(c) for c in sorted(cycles)]


# --- DKIM ----------------------------------------------------------------


def require_cryptography():
    """The parts of the cryptography library the DKIM check uses, imported when a key is checked."""
    try:
        from cryptography.exceptions import UnsupportedAlgorithm
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
    except ImportError:  # pragma: no cover
        raise ImportError("the python library cryptography is required on the controller (pip install cryptography)")
    return types.SimpleNamespace(UnsupportedAlgorithm=UnsupportedAlgorithm, serialization=serialization,
                                 ec=ec, ed25519=ed25519, rsa=rsa)


def _load_public_key(crypto, text):
    """The public key in ``text`` (PEM, or bare base64 DER), or None when it holds none."""
    try:
        if "-----BEGIN" in text:
            return crypto.serialization.load_pem_public_key(text.encode("ascii"))
        body = re.sub(r"\s+", "", text)
        return crypto.serialization.load_der_public_key(base64.b64decode(body, validate=True)) if body else None
    except (ValueError, TypeError, crypto.UnsupportedAlgorithm):   # binascii.Error and UnicodeError are ValueErrors
        return None


def _key_kind(crypto, key):
    if isinstance(key, crypto.ec.EllipticCurvePublicKey):
        return "an EC key (%s)" % key.curve.name
    if isinstance(key, crypto.ed25519.Ed25519PublicKey):
        return "an Ed25519 key"
    return "a %s" % type(key).__name__


def dkim_public_key(pem, variable="mail_dkim_public_key"):
    """The base64 ``p=`` value (DER SubjectPublicKeyInfo) of an RSA public key given as PEM or base64 DER.

    The key is loaded with the cryptography library: it must be RSA (the zone
    publishes ``k=rsa``) of at least 1024 bits (RFC 8301 3.2).
    """
    crypto = require_cryptography()
    problems = Collector()
    key = _load_public_key(crypto, str(pem or "").strip())
    fix = "generate the DKIM key as RSA with 2048 bits (mail_dkim_key_bits: 2048; DNS TXT records fit it)."
    if key is None:
        problems.add(variable, "is not a PEM or base64 public key.", "pass the public_key of the DKIM private key.")
    elif not isinstance(key, crypto.rsa.RSAPublicKey):
        problems.add(variable, "is %s, not an RSA public key; the zone publishes DKIM keys as k=rsa."
                     % _key_kind(crypto, key), fix)
    elif key.key_size < DKIM_MIN_BITS:
        problems.add(variable, "is an RSA key of %d bits; DKIM needs at least %d (RFC 8301), verifiers ignore "
                     "smaller ones." % (key.key_size, DKIM_MIN_BITS), fix)
    problems.raise_if_any(MailError, title="the DKIM key is not valid")
    der = key.public_bytes(crypto.serialization.Encoding.DER, crypto.serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode("ascii")


def dkim_dns_keys(model, public_key, selector=None, domains=None):
    """``{domain: {selector, public_key}}`` for every mail domain: what ``nsd_dkim_keys`` takes."""
    problems = Collector()
    mail = model.get("mail") or {}
    selector = selector or mail.get("dkim_selector") or "smbvdc"
    if not model.get("services", {}).get("mail"):
        problems.add("smbvdc_branch.mail.dkim_selector", "a DKIM key (selector %s) is given but the branch has no "
                     "mail host." % selector, "add the mail VM to the mail group, or drop the DKIM key.")
    if not names.is_label(str(selector)):
        problems.add("mail_dkim_selector", "%r is not a DNS label." % (selector,), "use e.g. smbvdc or 2026a.")
    wanted = list(domains) if domains is not None else list(model.get("mail_domains") or [])
    for d in wanted:
        if d not in (model.get("mail_domains") or []):
            problems.add("mail_dkim_domains", "%s is not one of the branch's mail domains (%s)."
                         % (d, ", ".join(model.get("mail_domains") or [])), "add it to smbvdc_branch.mail_domains.")
    problems.raise_if_any(MailError, title="the DKIM records cannot be computed")
    key = dkim_public_key(public_key)
    return {d: {"selector": selector, "public_key": key} for d in wanted}


# --- the mail host -------------------------------------------------------


def host_names(model, host):
    """Names and addresses of a mail host: ``{fqdn, names, ipv4, ipv6, domains}``.

    ``names`` are the DNS names that point at the host (its own name and the
    mail service names of the branch domain, e.g. mail. and webmail.), which
    its TLS certificate must carry.
    """
    problems = Collector()
    if host not in model.get("services", {}).get("mail", []):
        problems.add("groups['mail']", "%s is not a mail host of the branch model (mail: %s)."
                     % (host, ", ".join(model.get("services", {}).get("mail", [])) or "none"),
                     "put %s in the mail group." % host)
        problems.raise_if_any(MailError, title="the mail host is not in the model")
    vm = model.get("vms", {}).get(host)
    if vm:
        fqdn, v4, v6 = vm["fqdn"], [vm["ipv4"]] if vm.get("ipv4") else [], [vm["ipv6"]] if vm.get("ipv6") else []
    else:
        fqdn, v4, v6 = "%s.%s" % (host, model["domain"]), [], []
        ext = model.get("external_hosts", {}).get(host) or {}
        addr = str(ext.get("ansible_host", ""))
        if re.match(r"^\d+\.\d+\.\d+\.\d+$", addr):
            v4 = [addr]
        elif ":" in addr:
            v6 = [addr]
    names = [fqdn]
    service_names = ((model.get("dns") or {}).get("service_names") or {}).get("mail", ["mail", "webmail"])
    for s in service_names:
        name = "%s.%s" % (s, model["domain"])
        if name not in names:
            names.append(name)
    return {"fqdn": fqdn, "names": names, "ipv4": v4, "ipv6": v6, "domains": list(model.get("mail_domains") or [])}


# --- mail policy (smbvdc_branch.mail) -------------------------------------
#
# What the branch's zones publish for mail (MX priority, SPF, DMARC, the DKIM
# selector) is mail policy: validated here, written as records by dns.py.

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
SPF_MAX_LOOKUPS = 10            # RFC 7208 4.6.4
MAILTO = re.compile(r"^mailto:(?P<local>[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+)@(?P<domain>[^@\s,;!]+)"
                    r"(?P<size>![0-9]+[kmgtKMGT]?)?$")


def spf_term_problem(term):
    """(problem text or None, DNS lookups it costs) for one SPF term of ``spf_extra`` (RFC 7208 5, 6)."""
    if not isinstance(term, str) or not term or any(c.isspace() for c in term):
        return "%r is not an SPF term (one mechanism, no spaces)." % (term,), 0
    mod = re.match(r"^(redirect|exp)=(.*)$", term, re.I)
    if mod:
        if not _domain_spec(mod.group(2)):
            return "%r: %r is not a domain." % (term, mod.group(2)), 0
        return None, 1 if mod.group(1).lower() == "redirect" else 0
    body = term[1:] if term[0] in "+-~?" else term
    m = re.match(r"^([A-Za-z0-9]+)(.*)$", body)
    mech, arg = (m.group(1).lower(), m.group(2)) if m else ("", body)
    if mech == "all":
        return "%r: 'all' is set by smbvdc_branch.mail.spf_policy, not in spf_extra." % term, 0
    if mech in ("ip4", "ip6"):
        if not arg.startswith(":"):
            return "%r: %s needs an address (%s:<address>[/prefix])." % (term, mech, mech), 0
        value = arg[1:]
        try:
            net = ipaddress.ip_network(value, strict=False)
        except ValueError:
            return "%r: %r is not an IPv%s address or network." % (term, value, mech[-1]), 0
        if net.version != int(mech[-1]):
            return "%r: %s is an IPv%d address." % (term, value, net.version), 0
        return None, 0
    if mech in ("include", "exists"):
        if not arg.startswith(":") or not _domain_spec(arg[1:]):
            return "%r: %s needs a domain (%s:<domain>)." % (term, mech, mech), 0
        return None, 1
    if mech in ("a", "mx"):
        m = re.match(r"^(?::([^/]+))?(?:/(\d{1,2}))?(?://(\d{1,3}))?$", arg)
        if not m or (m.group(1) and not _domain_spec(m.group(1))) \
                or (m.group(2) and int(m.group(2)) > 32) or (m.group(3) and int(m.group(3)) > 128):
            return "%r: not %s[:domain][/prefix4][//prefix6]." % (term, mech), 0
        return None, 1
    if mech == "ptr":
        return "%r: the ptr mechanism is deprecated (RFC 7208 5.5) and many receivers ignore it." % term, 1
    return "%r is not an SPF mechanism." % term, 0


def _domain_spec(value):
    # a domain-spec with macros (%{d}) cannot be checked without a sender; accept it
    return bool(value) and ("%{" in value or names.is_hostname(value.rstrip(".")))


def parse_mailto_uris(value, variable, problems):
    """DMARC rua/ruf: ``mailto:`` URIs (a string, comma-separated, or a list) -> list, or None."""
    if value is None:
        return None
    items = value if isinstance(value, list) else str(value).split(",")
    out = []
    for i, item in enumerate(items):
        uri = str(item).strip()
        m = MAILTO.match(uri)
        if not m or not names.is_hostname(m.group("domain")):
            problems.add(variable if not isinstance(value, list) else "%s[%d]" % (variable, i),
                         "%r is not a mailto: URI with a mail address (RFC 7489 6.2)." % (uri,),
                         "e.g. mailto:dmarc@example.org")
            continue
        out.append("mailto:%s@%s%s" % (m.group("local"), m.group("domain").lower(), m.group("size") or ""))
    return out or None


def mailto_domains(uris):
    """The domains of ``mailto:`` URIs (in order, without duplicates)."""
    out = []
    for uri in uris or []:
        m = MAILTO.match(uri)
        if m and m.group("domain").lower() not in out:
            out.append(m.group("domain").lower())
    return out


def uri_list(value):
    """DMARC rua/ruf as a list (validate_settings gives lists; a comma-separated string is split)."""
    if not value:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [u.strip() for u in str(value).split(",")]


def validate_settings(branch, problems):
    """Normalise ``smbvdc_branch.mail`` (defaults MAIL_DEFAULTS); record problems naming the variable."""
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
        if key == "dkim_selector" and not names.is_label(value):
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
            lookups = 0
            for i, term in enumerate(value):
                problem, cost = spf_term_problem(term)
                lookups += cost
                if problem:
                    problems.add("%s[%d]" % (var, i), problem,
                                 "use include:<domain>, ip4:<address>[/prefix], ip6:<address>[/prefix], a, mx or "
                                 "exists:<domain> terms (RFC 7208); receivers answer permerror for all mail otherwise.")
            if lookups > SPF_MAX_LOOKUPS:
                problems.add(var, "costs %d DNS lookups; receivers stop at %d and answer permerror (RFC 7208 4.6.4)."
                             % (lookups, SPF_MAX_LOOKUPS), "list the senders' ip4:/ip6: networks instead of some includes.")
        if key == "dmarc_policy" and value not in ("none", "quarantine", "reject"):
            problems.add(var, "must be none, quarantine or reject, got %r." % (value,), "start with quarantine.")
            continue
        if key in ("dmarc_rua", "dmarc_ruf"):
            before = len(problems)
            value = parse_mailto_uris(value, var, problems)
            if len(problems) > before:
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
    return mail
