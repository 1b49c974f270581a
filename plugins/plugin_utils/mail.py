# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smbvdc.datacenter developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Mail data computed from the branch model and the mail role's variables.

Mailboxes and aliases are inventory data (``mail_mailboxes`` /
``mail_aliases``); this module validates them against the branch model (only
the branch's ``mail_domains`` are served) and computes everything the mail
host needs from them, so that Postfix, Dovecot and the tests read one result:

- the virtual mailbox, virtual alias and sender-login tables of Postfix,
- the Dovecot passwd-file (SHA512-CRYPT hashes with a salt that is stable
  between runs, so an unchanged password gives an unchanged file),
- the DKIM records the NSD role publishes (``nsd_dkim_keys``),
- the names and addresses the mail host's TLS certificate must carry.

Every problem names the variable and the fix (``ModelError``), and all
problems of one call are reported together.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from .errors import Collector, ModelError

LOCAL_PART = re.compile(r"^[a-z0-9](?:[a-z0-9_+=-]|\.(?!\.))*(?<!\.)$")
DOMAIN = re.compile(r"^(?=.{1,253}$)(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))+$")
QUOTA = re.compile(r"^(0|[1-9][0-9]*[KMGT]?)$")
HASH_SCHEMES = ("SHA512-CRYPT", "SHA256-CRYPT", "BLF-CRYPT", "ARGON2ID", "ARGON2I", "CRYPT", "SSHA512", "PBKDF2")
# rsaEncryption OID 1.2.840.113549.1.1.1 as it appears in a DER SubjectPublicKeyInfo
RSA_OID = bytes.fromhex("06092a864886f70d010101")
# RFC 2142 / RFC 5321: every served domain must accept these
REQUIRED_LOCAL_PARTS = ("postmaster", "abuse")
MAILBOX_KEYS = ("address", "name", "quota", "password_hash", "state")
ALIAS_KEYS = ("address", "to", "state")


class MailError(ModelError):
    """The mail accounts (mailboxes, aliases, DKIM) are not valid."""

    def __init__(self, problems, title="the mail accounts are not valid"):
        super(MailError, self).__init__(problems, title=title)


# --- SHA512-CRYPT (Drepper's SHA-crypt, the $6$ scheme of glibc) -------------

_B64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_PERM = ((0, 21, 42), (22, 43, 1), (44, 2, 23), (3, 24, 45), (25, 46, 4), (47, 5, 26), (6, 27, 48), (28, 49, 7),
         (50, 8, 29), (9, 30, 51), (31, 52, 10), (53, 11, 32), (12, 33, 54), (34, 55, 13), (56, 14, 35),
         (15, 36, 57), (37, 58, 16), (59, 17, 38), (18, 39, 60), (40, 61, 19), (62, 20, 41))


def _b64_24(b2, b1, b0, n):
    w = (b2 << 16) | (b1 << 8) | b0
    out = ""
    for _ in range(n):
        out += _B64[w & 0x3F]
        w >>= 6
    return out


def sha512_crypt(password, salt, rounds=5000):
    """``$6$`` hash of ``password`` (the algorithm of glibc's crypt(3), spec by U. Drepper).

    Implemented here so that the controller needs neither passlib nor the
    ``crypt`` module (gone in Python 3.13); Dovecot verifies it as SHA512-CRYPT.
    """
    pw = password.encode("utf-8")
    salt = salt[:16]
    s = salt.encode("ascii")
    b = hashlib.sha512(pw + s + pw).digest()
    a = hashlib.sha512(pw + s)
    n = len(pw)
    while n > 64:
        a.update(b)
        n -= 64
    a.update(b[:n])
    n = len(pw)
    while n:
        a.update(b if n & 1 else pw)
        n >>= 1
    a = a.digest()
    dp = hashlib.sha512(pw * len(pw)).digest()
    p = (dp * (len(pw) // 64 + 1))[:len(pw)]
    ds = hashlib.sha512(s * (16 + a[0])).digest()
    sb = (ds * (len(s) // 64 + 1))[:len(s)]
    c = a
    for i in range(rounds):
        h = hashlib.sha512()
        h.update(p if i & 1 else c)
        if i % 3:
            h.update(sb)
        if i % 7:
            h.update(p)
        h.update(c if i & 1 else p)
        c = h.digest()
    out = "".join(_b64_24(c[x], c[y], c[z], 4) for x, y, z in _PERM) + _b64_24(0, 0, c[63], 2)
    prefix = "$6$" if rounds == 5000 else "$6$rounds=%d$" % rounds
    return "%s%s$%s" % (prefix, salt, out)


def stable_salt(address, password):
    """A 16-character crypt salt that stays the same while the password does."""
    digest = hmac.new(password.encode("utf-8"), b"smbvdc-mail-salt:" + address.encode("utf-8"), hashlib.sha256).digest()
    return "".join(_B64[x & 0x3F] for x in digest[:16])


def password_hash(address, password):
    """Dovecot passwd-file password field for a plain-text password."""
    return "{SHA512-CRYPT}" + sha512_crypt(password, stable_salt(address, password))


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
                     "give a hash such as {SHA512-CRYPT}$6$... (doveadm pw -s SHA512-CRYPT).")
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
                 "`doveadm pw -s SHA512-CRYPT`, or leave it out to generate a password.")
    return None


def build_accounts(model, mailboxes, aliases=None, passwords=None, postmaster=None, default_quota="1G",
                   vmail_dir="/var/vmail", check_only=False):
    """Validate mailboxes and aliases and compute the mail host's tables.

    :param model: the branch model (``mail_domains``, ``services``).
    :param mailboxes: ``[{address, name?, quota?, password_hash?, state?}]`` (``mail_mailboxes`` with its
        group/host layers already added).
    :param aliases: ``[{address, to: [address, ...], state?}]``.
    :param passwords: ``{address: plain-text password}`` for mailboxes without ``password_hash``.
    :param postmaster: where ``postmaster@`` and ``abuse@`` of every domain go when no alias says otherwise.
    :param check_only: validate only (the preflight): no passwords are needed and none are hashed.
    :returns: dict with ``domains``, ``mailboxes``, ``aliases``, ``virtual_mailboxes``, ``virtual_aliases``,
        ``sender_logins`` (lists of ``[key, value]``) and ``dovecot_users`` (passwd-file lines).
    :raises MailError: naming every offending variable.
    """
    problems = Collector()
    domains = list(model.get("mail_domains") or [])
    passwords = passwords or {}
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
            pw_hash = password_hash(address, str(passwords[address]))
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


def dkim_public_key(pem, variable="mail_dkim_public_key"):
    """The base64 ``p=`` value of an RSA public key given as PEM (or bare base64 DER)."""
    problems = Collector()
    text = str(pem or "")
    body = re.sub(r"-----(BEGIN|END) [A-Z ]+-----", "", text)
    body = re.sub(r"\s+", "", body)
    try:
        der = base64.b64decode(body, validate=True) if body else b""
    except (ValueError, TypeError):
        der = b""
    if not der:
        problems.add(variable, "is not a PEM or base64 public key.", "pass the public_key of the DKIM private key.")
    elif RSA_OID not in der[:32] or len(der) < 160:
        problems.add(variable, "is not an RSA public key of at least 1024 bits.",
                     "generate the DKIM key as RSA with 2048 bits (DNS TXT records fit it).")
    problems.raise_if_any(MailError, title="the DKIM key is not valid")
    return base64.b64encode(der).decode("ascii")


def dkim_dns_keys(model, public_key, selector=None, domains=None):
    """``{domain: {selector, public_key}}`` for every mail domain: what ``nsd_dkim_keys`` takes."""
    problems = Collector()
    mail = model.get("mail") or {}
    selector = selector or mail.get("dkim_selector") or "smbvdc"
    if not model.get("services", {}).get("mail"):
        problems.add("smbvdc_branch.mail.dkim_selector", "a DKIM key (selector %s) is given but the branch has no "
                     "mail host." % selector, "add the mail VM to the mail group, or drop the DKIM key.")
    if not re.match(r"^[a-z0-9][a-z0-9-]{0,62}$", str(selector)):
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
