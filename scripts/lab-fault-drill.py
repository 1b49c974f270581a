#!/usr/bin/env python3
"""Fault drill on a running branch (default: the lab): does Nagios see it, and does it tell the admin?

For each fault (default: postfix on the first mail host, nsd on the first DNS
secondary, apache2 on the first web host; names and units come from the
model's monitoring plan, nothing is typed twice):

1. stop the unit on its VM (systemctl stop, over SSH with the branch's key);
2. poll Nagios' own status data on the monitoring VM (status.dat, not the
   plugin) until every service of the plan that watches that unit on that
   host is CRITICAL; the time is the detection time. Every one of them must
   be OK before the fault (a check already failing proves nothing);
3. keep the fault until Nagios confirms it (HARD state, after
   max_check_attempts), which is when it notifies;
4. start the unit again and poll until those services are OK;
5. read the admin mailbox over IMAPS on the mail host until Nagios' PROBLEM
   notification for one of those services ("host/service is CRITICAL") has
   arrived (for postfix on the mail host it can only arrive after the
   restart; the monitoring server's queue retries).

Prints one line per step with its time and `fault-drill: N passed, N failed`
last; exits 1 on any failure. A fault is always undone (the unit started
again) even when a step fails. Traffic goes only to the branch's own VMs;
passwords are read from <inventory>/.smbvdc/secrets and never printed.
"""

from __future__ import annotations

import argparse
import imaplib
import ssl
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from labcommon import ROOT, STATE, Branch  # noqa: E402

RESULTS = []


def report(name, ok, detail=""):
    RESULTS.append(bool(ok))
    print("fault-drill: %-4s %s%s" % ("ok" if ok else "FAIL", name, (" (%s)" % detail) if detail else ""), flush=True)


def wait_states(branch, keys, want, limit, hard=False, start=None):
    """Seconds from start until every key has state want (with hard=True: and one of
    them confirmed, state_type HARD), and the last states; None when the limit passed."""
    start = time.monotonic() if start is None else start
    last = {}
    while time.monotonic() - start < limit:
        states = branch.service_states(hard=True)
        last = {k: states.get(k, (None, False)) for k in keys}
        if all(v[0] == want for v in last.values()) and (not hard or any(v[1] for v in last.values())):
            return time.monotonic() - start, {k: v[0] for k, v in last.items()}
        time.sleep(5)
    return None, {k: v[0] for k, v in last.items()}


def imap_subjects(branch, user, password):
    mail_host = branch.model["services"]["mail"][0]
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE     # the lab's own CA; the mail checks of playbooks/status.yml verify TLS
    with imaplib.IMAP4_SSL(branch.address(mail_host), 993, ssl_context=ctx, timeout=30) as imap:
        imap.login(user, password)
        imap.select("INBOX", readonly=True)
        _typ, data = imap.uid("SEARCH", None, "ALL")
        subjects = {}
        for uid in (data[0] or b"").split()[-200:]:
            _typ, msg = imap.uid("FETCH", uid, "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
            subjects[int(uid)] = msg[0][1].decode("utf-8", "replace").replace("\r\n", " ").strip()
        return subjects


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-i", "--inventory", default=str(ROOT / "inventories" / "lab"))
    ap.add_argument("--fault", action="append", metavar="GROUP:UNIT",
                    help="service group and unit to stop on the group's first host "
                         "(default: mail:postfix, dns_secondary:nsd, web:apache2)")
    ap.add_argument("--mail-timeout", type=float, default=900.0)
    args = ap.parse_args()
    branch = Branch(args.inventory)
    plan = branch.monitoring
    if not plan["server"]:
        report("the branch has a monitoring server", False, "no host in group monitoring")
        return 1
    settings = plan["settings"]
    interval = 60 * settings["check_interval"]
    # CRITICAL within two check intervals (plus the retry the plugin's timeout may take)
    detect_limit = 2 * interval + 60 * settings["retry_interval"] + 60
    # Nagios notifies when the problem is confirmed (HARD): after
    # max_check_attempts failed checks, the later ones retry_interval apart.
    # A fault undone before that sends no mail (an earlier version of this
    # drill restarted at the first CRITICAL and matched unrelated mail).
    hard_limit = detect_limit + 60 * settings["retry_interval"] * settings["max_check_attempts"]
    notify = settings["notify"][0]
    secret = branch.inventory / ".smbvdc" / "secrets" / ("mailbox-%s.password" % notify)
    password = secret.read_text().strip() if secret.exists() else None

    faults = []
    for spec in args.fault or ["mail:postfix", "dns_secondary:nsd", "web:apache2"]:
        group, _sep, unit = spec.partition(":")
        hosts = branch.model["services"].get(group) or []
        if not hosts:
            report("%s has a host" % group, False, "no host in group %s" % group)
            continue
        host = hosts[0]
        keys = [(s["host"], s["description"]) for s in plan["services"] if s["host"] == host and s["unit"] == unit]
        if not keys:
            report("%s/%s is watched" % (host, unit), False, "no service of the plan watches it")
            continue
        faults.append((host, unit, keys))

    before = branch.service_states()
    report("Nagios status data readable on %s" % plan["server"], len(before) > 0, "%d services" % len(before))
    problems = [k for k, v in before.items() if v != 0]
    if problems:
        print("fault-drill: note: not OK before the drill: %s" % ", ".join("%s/%s=%s" % (h, d, STATE.get(before[(h, d)]))
                                                                          for h, d in problems))

    # only mail that arrives during the drill counts
    seen = set(imap_subjects(branch, notify, password)) if password else set()
    pending_mail = []
    for host, unit, keys in faults:
        # a check that is not OK before its fault proves nothing by turning
        # CRITICAL, and never comes back OK: fix it first
        # (read now, not at the start: an earlier fault's recovery or a reload may have changed it)
        now = branch.service_states()
        not_ok = ["%s=%s" % (d, STATE.get(now.get((h, d)), now.get((h, d)))) for h, d in keys
                  if now.get((h, d)) != 0]
        if not_ok:
            report("%s/%s checks OK before the fault" % (host, unit), False, ", ".join(not_ok))
            continue
        t0 = time.time()
        stop = branch.ssh(host, "systemctl stop %s" % unit)
        report("stop %s on %s" % (unit, host), stop.returncode == 0, stop.stderr.strip()[:200])
        try:
            mono0 = time.monotonic()
            took, states = wait_states(branch, keys, 2, detect_limit, start=mono0)
            report("%s/%s CRITICAL in Nagios" % (host, unit), took is not None,
                   "detected in %.0f s, limit %d s; %d services: %s" % (
                       took if took is not None else -1, detect_limit, len(keys),
                       ", ".join("%s=%s" % (d, STATE.get(v, v)) for (_h, d), v in states.items())))
            if took is not None:
                hard, _states = wait_states(branch, keys, 2, hard_limit, hard=True, start=mono0)
                report("%s/%s confirmed (HARD) by Nagios, so notified" % (host, unit), hard is not None,
                       "after %.0f s, limit %d s" % (hard if hard is not None else -1, hard_limit))
        finally:
            start = branch.ssh(host, "systemctl start %s" % unit)
        report("start %s on %s" % (unit, host), start.returncode == 0, start.stderr.strip()[:200])
        took, states = wait_states(branch, keys, 0, detect_limit)
        report("%s/%s OK again in Nagios" % (host, unit), took is not None,
               "recovered in %.0f s" % (took if took is not None else -1))
        pending_mail.append((host, unit, keys, t0))

    if password is None:
        report("admin mailbox password", False, "no %s" % secret)
    else:
        for host, unit, keys, t0 in pending_mail:
            # the mail must be about a check this fault turned CRITICAL, not any
            # PROBLEM of the host (queued alerts of a boot would count)
            alerts = ["%s/%s is CRITICAL" % (h, d) for h, d in keys]
            deadline = time.monotonic() + args.mail_timeout
            found = None
            while time.monotonic() < deadline and not found:
                try:
                    subjects = imap_subjects(branch, notify, password)
                except Exception as exc:  # pylint: disable=broad-except
                    subjects = {}
                    print("fault-drill: note: IMAP: %s" % exc)
                found = next((s for uid, s in sorted(subjects.items())
                              if uid not in seen and "PROBLEM" in s and any(a in s for a in alerts)), None)
                if not found:
                    time.sleep(10)
            report("PROBLEM mail for %s in %s over IMAP" % (host, notify), bool(found),
                   "%.0f s after the fault: %s" % (time.time() - t0, found) if found else "none within %d s"
                   % args.mail_timeout)

    failed = RESULTS.count(False)
    print("fault-drill: %d passed, %d failed" % (len(RESULTS) - failed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
