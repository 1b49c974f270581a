#!/usr/bin/env python3
"""Smoke check of a running branch (default: the lab) over real protocols.

Run after `make lab` (`make lab-check`). Addresses and names come from the
branch model built from the inventory, nothing is typed twice. Checks:

- every DNS server of the model answers MX, SPF, DMARC, the DKIM key and the
  mail host's PTR, and the secondaries have the primary's SOA serial;
- submission on 587 offers AUTH only after STARTTLS;
- a message submitted as the first mailbox of the inventory whose password
  was generated into <inventory>/.smbvdc/secrets reaches its INBOX over IMAP
  (bounded wait), DKIM-signed and scanned by amavis;
- every web site of the model (tests/webcheck.py): its certificate validates
  against the branch CA, HTTP redirects to HTTPS, HTTPS answers with HSTS,
  and the Moodle admin logs in through the login form;
- with a monitoring server: Nagios checks every service of the monitoring
  plan and has no unhandled problem (not OK, not acknowledged, not in
  downtime), read from its status data;
- with a backup server: every VM's last good backup is younger than the
  schedule allows (Nagios' "Backup age" services, and amadmin on the server).

Traffic goes only to the branch's own VMs. Prints one line per check and
`lab-check: N passed, N failed` last; exits 1 on any failure. Passwords are
read from the secrets directory and never printed.
"""

from __future__ import annotations

import argparse
import os
import smtplib
import ssl
import sys
import time
import uuid
import imaplib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
import conftest  # noqa: E402,F401  (ansible_collections.smbvdc.datacenter importable)
import inventory_groups  # noqa: E402

import dns.message  # noqa: E402
import dns.query  # noqa: E402
import dns.rcode  # noqa: E402
import dns.rdatatype  # noqa: E402
import dns.reversename  # noqa: E402

from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import dns as dnsgen  # noqa: E402
from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import model as modelmod  # noqa: E402

RESULTS = []


def check(name, ok, detail=""):
    RESULTS.append(bool(ok))
    print("lab-check: %-4s %s%s" % ("ok" if ok else "FAIL", name, (" (%s)" % detail) if detail else ""), flush=True)


def inventory(path):
    return inventory_groups.load(Path(sys.executable).parent / "ansible-inventory", path)


def answers(server, name, rdtype):
    resp = dns.query.udp(dns.message.make_query(name, rdtype), server, timeout=5)
    if resp.rcode() != dns.rcode.NOERROR:
        return None
    return [r.to_text() for rrset in resp.answer if rrset.rdtype == dns.rdatatype.from_text(rdtype) for r in rrset]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-i", "--inventory", default=str(ROOT / "inventories" / "lab"))
    ap.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for the test message")
    args = ap.parse_args()

    hostvars, groups = inventory(args.inventory)
    any_host = next(iter(hostvars.values()))
    # where the VMs are and which addresses they were built with, as the
    # playbooks read it (a VM added later does not shift the others)
    current, addresses = inventory_groups.defined_vms(hostvars, groups)
    model = modelmod.build_model(any_host["smbvdc_branch"], {"groups": groups, "hostvars": hostvars},
                                 current=current, addresses=addresses)
    servers = dnsgen.server_addresses(model)
    domain = model["domain"]
    mail_hosts = model["services"].get("mail", [])

    primary = [a for s in servers["primary"] for a in s["ipv4"]]
    serials = {}
    for entry in servers["primary"] + servers["secondaries"]:
        for addr in entry["ipv4"]:
            try:
                soa = answers(addr, domain, "SOA")
                serials[addr] = soa[0].split()[2] if soa else None
                check("%s (%s) serves %s" % (entry["name"], addr, domain), soa)
                if mail_hosts:
                    mx = answers(addr, domain, "MX") or []
                    check("%s MX -> %s" % (entry["name"], mail_hosts[0]), any(mail_hosts[0] in m for m in mx), mx)
                    txt = answers(addr, domain, "TXT") or []
                    check("%s SPF" % entry["name"], any("v=spf1" in t for t in txt))
                    dmarc = answers(addr, "_dmarc." + domain, "TXT") or []
                    check("%s DMARC" % entry["name"], any("v=DMARC1" in t for t in dmarc))
                    selector = model.get("mail", {}).get("dkim_selector") or "smbvdc"
                    dkim = answers(addr, "%s._domainkey.%s" % (selector, domain), "TXT") or []
                    check("%s DKIM key %s._domainkey" % (entry["name"], selector), any("v=DKIM1" in t for t in dkim))
                    mail_ip = model["vms"][mail_hosts[0]]["ipv4"]
                    ptr = answers(addr, dns.reversename.from_address(mail_ip).to_text(), "PTR") or []
                    check("%s PTR of %s" % (entry["name"], mail_ip), any(mail_hosts[0] in p for p in ptr), ptr)
            except Exception as exc:  # a dead server is a failed check, not a crash
                check("%s (%s) answers" % (entry["name"], addr), False, exc)
    if primary:
        want = serials.get(primary[0])
        check("secondaries have the primary's serial %s" % want,
              want and all(v == want for v in serials.values()), serials)

    if mail_hosts:
        mail_ip = model["vms"][mail_hosts[0]]["ipv4"]
        ctx = ssl.create_default_context()
        # the lab's internal CA is on the mail host, not in this machine's store
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        try:
            s = smtplib.SMTP(mail_ip, 587, timeout=60)
            s.ehlo()
            before = s.has_extn("auth")
            s.starttls(context=ctx)
            s.ehlo()
            check("587: AUTH only after STARTTLS", not before and s.has_extn("auth"))
            s.quit()
        except Exception as exc:
            check("587: submission answers", False, exc)

        secrets = Path(args.inventory) / ".smbvdc" / "secrets"
        mailhv = hostvars[mail_hosts[0]]
        boxes = [b["address"] for b in (mailhv.get("mail_mailboxes") or []) if isinstance(b, dict)
                 and (secrets / ("mailbox-%s.password" % b["address"])).exists()]
        check("a mailbox with a generated password", boxes, "mail_mailboxes of %s" % mail_hosts[0])
        if boxes:
            box = boxes[0]
            password = (secrets / ("mailbox-%s.password" % box)).read_text().strip()
            tag = "lab-check %s" % uuid.uuid4()
            try:
                s = smtplib.SMTP(mail_ip, 587, timeout=60)
                s.starttls(context=ctx)
                s.login(box, password)
                s.sendmail(box, [box], "Subject: %s\r\nFrom: %s\r\nTo: %s\r\n\r\nlab check\r\n" % (tag, box, box))
                s.quit()
                raw, deadline = None, time.monotonic() + args.timeout
                while raw is None and time.monotonic() < deadline:
                    m = imaplib.IMAP4_SSL(mail_ip, 993, ssl_context=ctx)
                    m.login(box, password)
                    m.select("INBOX")
                    _, found = m.search(None, "SUBJECT", '"%s"' % tag)
                    if found[0]:
                        num = found[0].split()[-1]
                        _, msg = m.fetch(num, "(RFC822)")
                        raw = msg[0][1].decode(errors="replace")
                        m.store(num, "+FLAGS", "\\Deleted")
                        m.expunge()
                    m.logout()
                    if raw is None:
                        time.sleep(2)
                check("587 -> IMAP round trip for %s" % box, raw is not None)
                if raw is not None:
                    check("the message is DKIM-signed", "DKIM-Signature:" in raw)
                    check("the message went through amavis/SpamAssassin", "X-Spam-" in raw)
            except Exception as exc:
                check("587 -> IMAP round trip for %s" % box, False, exc)

    if any(model["services"].get(g) for g in ("web", "moodle", "owncloud")):
        import webcheck     # tests/webcheck.py: HTTPS, certificates, redirects, the Moodle login
        # the site names as a secondary serves them (the zone went through the transfer too)
        secondary = [a for e in servers["secondaries"] for a in e["ipv4"]]
        webcheck.web_checks(model, args.inventory, check, dns_servers=secondary[:1] or primary[:1])

    if model["services"].get("monitoring") or model["services"].get("backup"):
        monitoring_and_backups(args.inventory)

    passed = sum(RESULTS)
    print("lab-check: %d passed, %d failed" % (passed, len(RESULTS) - passed))
    return 0 if passed == len(RESULTS) else 1


def monitoring_and_backups(inventory):
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from labcommon import STATE, Branch, checks

    branch = Branch(inventory)
    plan = branch.monitoring
    if plan["server"]:
        try:
            status = branch.nagios_status()
        except Exception as exc:  # an unreachable server is a failed check
            check("Nagios status data on %s" % plan["server"], False, exc)
            status = None
        if status is not None:
            want = {(s["host"], s["description"]) for s in plan["services"]}
            missing = sorted(want - set(status))
            check("Nagios on %s checks all %d services of the plan" % (plan["server"], len(want)), not missing,
                  "missing: %s" % ", ".join("%s/%s" % m for m in missing[:10]) if missing else "")
            unhandled = sorted("%s/%s=%s" % (h, d, STATE.get(int(v.get("current_state", 3))))
                               for (h, d), v in status.items()
                               if int(v.get("current_state", 3)) != 0
                               and v.get("problem_has_been_acknowledged") == "0"
                               and v.get("scheduled_downtime_depth", "0") == "0")
            check("Nagios has no unhandled problems", not unhandled, ", ".join(unhandled[:12]))
            never = sorted("%s/%s" % k for k, v in status.items() if v.get("has_been_checked") == "0")
            check("every service has been checked", not never, ", ".join(never[:10]))
            ages = {k[0]: v for k, v in status.items() if k[1] == "Backup age"}
            if branch.backup["server"]:
                bad = sorted("%s: %s" % (h, v.get("plugin_output", "")) for h, v in ages.items()
                             if v.get("current_state") != "0")
                check("Nagios: every VM's last backup is younger than its schedule", ages and not bad,
                      "; ".join(bad[:6]) or "%d VMs" % len(ages))
    if branch.backup["server"]:
        server, conf = branch.backup["server"], branch.backup["config"]
        clients = [c["fqdn"] for c in branch.backup["clients"]]
        warn, crit = checks.BACKUP_AGE_HOURS
        res = branch.ssh(server, "for h in %s; do /usr/local/lib/nagios/plugins/check_amanda_age %s $h %d %d; done"
                         % (" ".join(clients), conf, warn, crit))
        lines = [ln for ln in res.stdout.splitlines() if ln.strip()]
        ok = len(lines) == len(clients) and all(ln.startswith("OK") for ln in lines)
        check("amanda on %s: a good backup of every VM younger than %d h" % (server, warn), ok,
              "; ".join(lines[:3]) + (" ..." if len(lines) > 3 else "") if lines else res.stderr.strip()[:200])


if __name__ == "__main__":
    sys.exit(main())
