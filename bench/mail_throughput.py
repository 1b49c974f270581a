#!/usr/bin/env python3
"""Mail throughput of the mail host: messages delivered into Maildir per second.

Uses the mail host of the molecule scenario `mail` (container `mail1`,
converged by `molecule converge -s mail`; the script runs that itself when the
container is not there and removes it again afterwards unless --keep).

In one run, inside the mail container:

1. the ceiling: smtp-source (Postfix's load generator) sends N messages to
   smtp-sink (Postfix's sink, accepts and forgets) on the container's own
   address -> sink_per_s;
2. the delivery path: the same smtp-source command sends N messages to
   Postfix on port 25 of the same address (postscreen, smtpd with the OpenDKIM
   milter, cleanup, qmgr, LMTP into Dovecot's Maildir of the bench mailbox),
   with the amavis content filter switched off for this step (postconf -e,
   restored afterwards); the clock stops at the mtime of the last message file
   in the Maildir -> delivered_per_s;
3. the full pipeline with amavis + SpamAssassin on a smaller sample
   (--filtered-messages, default 200) -> filtered_per_s (SpamAssassin is the
   bottleneck: about 75-175 ms of CPU per message);
4. lost = messages sent in 2. and 3. that never reached the Maildir once the
   queue is empty (bounded wait).

The last line is
    mail_throughput: delivered_per_s=<x> sink_per_s=<y> ratio=<x/y> lost=<n> filtered_per_s=<f>
Traffic goes only to the container itself (its own address); every loop is
bounded in count and time.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scenario import Scenario  # noqa: E402  (what the scenario benchmarks share)
SCENARIO = Scenario("mail", "mail_throughput")
dexec = SCENARIO.dexec
running = SCENARIO.running
molecule = SCENARIO.molecule


def count(container, maildir):
    return int(dexec(container, "find %s/new %s/cur -type f 2>/dev/null | wc -l" % (maildir, maildir)) or 0)


def inject(c, src, address, maildir, n, timeout):
    """Send ``n`` messages with ``src`` to port 25; wait (bounded) until they are in the Maildir.

    Returns (delivered per second, delivered, seconds from the first byte to the last file).
    """
    dexec(c, "rm -rf %s/new/* %s/cur/* %s/tmp/*; true" % (maildir, maildir, maildir), check=False)
    before = count(c, maildir)
    dexec(c, "touch /tmp/bench-start")
    start = float(dexec(c, "date +%s.%N"))
    dexec(c, "%s %s:25 >/dev/null" % (src, address))
    injected = float(dexec(c, "date +%s.%N"))
    print("mail_throughput:   injection took %.2f s (%.0f/s accepted)" % (injected - start, n / (injected - start)),
          flush=True)
    deadline = time.monotonic() + timeout
    got, last_change, last_got = 0, time.monotonic(), -1
    while time.monotonic() < deadline:
        got = count(c, maildir) - before
        if got != last_got:
            last_got, last_change = got, time.monotonic()
        if got >= n:
            break
        queued = dexec(c, "postqueue -j | wc -l", check=False)
        if queued == "0" and time.monotonic() - last_change > 10:
            break
        time.sleep(1)
    got = count(c, maildir) - before
    last = dexec(c, "find %s/new %s/cur -type f -newer /tmp/bench-start -printf '%%T@\\n' | sort -n | tail -1"
                 % (maildir, maildir))
    elapsed = (float(last) - start) if last else float("inf")
    return (got / elapsed if got else 0.0), got, elapsed


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--messages", type=int, default=2000, help="messages per injection (at least 2000)")
    ap.add_argument("--filtered-messages", type=int, default=200,
                    help="messages of the extra run through amavis + SpamAssassin (0 skips it)")
    ap.add_argument("--size", type=int, default=2048, help="message size in bytes")
    ap.add_argument("--sessions", type=int, default=10, help="parallel SMTP sessions of smtp-source")
    ap.add_argument("--container", default="mail1")
    ap.add_argument("--recipient", default="bench@branch.smbvdc.test")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for delivery")
    ap.add_argument("--keep", action="store_true", help="keep containers this script created")
    args = ap.parse_args()
    if args.messages < 2000:
        ap.error("--messages must be at least 2000")
    n, c = args.messages, args.container

    created = False
    if not running(c):
        molecule("converge")
        created = True
    content_filter = None
    delivered_per_s = sink_per_s = filtered_per_s = 0.0
    lost = n + args.filtered_messages
    try:
        local, domain = args.recipient.split("@")
        maildir = "/var/vmail/%s/%s/Maildir" % (domain, local)
        address = dexec(c, "hostname -I | awk '{print $1}'")
        src = "smtp-source -s %d -l %d -f bench-sender@example.net -t %s -M bench.example.net" % (
            args.sessions, args.size, args.recipient)

        # 1. the ceiling: smtp-sink on the same address, the same smtp-source command
        dexec(c, "pkill -x smtp-sink; true", check=False)
        subprocess.run(["docker", "exec", "-d", c, "smtp-sink", "-u", "postfix", "-c", "%s:2526" % address, "256"],
                       check=True)
        time.sleep(1)
        t = dexec(c, "s=$(date +%%s.%%N); %s -m %d %s:2526 >/dev/null; e=$(date +%%s.%%N); echo $s $e"
                  % (src, n, address))
        start, end = map(float, t.split())
        dexec(c, "pkill -x smtp-sink; true", check=False)
        sink_per_s = n / (end - start)
        print("mail_throughput: smtp-sink: %d messages in %.2f s (%.0f/s)" % (n, end - start, sink_per_s), flush=True)

        # warm postscreen's cache for this client (its first connection waits
        # for the blocklist and the pre-greeting test), not measured
        dexec(c, "smtp-source -m 1 -f bench-sender@example.net -t %s %s:25" % (args.recipient, address))
        time.sleep(3)

        # 2. the delivery path: postscreen, smtpd (+ OpenDKIM milter), cleanup,
        # qmgr, LMTP, Dovecot, Maildir -- without the content filter
        content_filter = dexec(c, "postconf -h content_filter")
        if content_filter:
            dexec(c, "postconf -e content_filter= && postfix reload >/dev/null 2>&1")
        print("mail_throughput: Postfix -> LMTP -> Maildir, %d messages" % n, flush=True)
        delivered_per_s, got, elapsed = inject(c, src + " -m %d" % n, address, maildir, n, args.timeout)
        lost = n - got
        print("mail_throughput:   %d of %d in the Maildir, last after %.2f s: %.1f/s" % (got, n, elapsed,
                                                                                       delivered_per_s), flush=True)
        # 3. the same through amavis + SpamAssassin (a smaller, bounded sample)
        if content_filter:
            dexec(c, "postconf -e 'content_filter=%s' && postfix reload >/dev/null 2>&1" % content_filter)
            content_filter = None
            if args.filtered_messages > 0:
                f = args.filtered_messages
                print("mail_throughput: with amavis + SpamAssassin, %d messages" % f, flush=True)
                filtered_per_s, fgot, felapsed = inject(c, src + " -m %d" % f, address, maildir, f, args.timeout)
                lost += f - fgot
                print("mail_throughput:   %d of %d in the Maildir, last after %.2f s: filtered_per_s=%.1f"
                      % (fgot, f, felapsed, filtered_per_s), flush=True)
    finally:
        if content_filter:
            dexec(c, "postconf -e 'content_filter=%s' && postfix reload >/dev/null 2>&1" % content_filter, check=False)
        if created and not args.keep:
            molecule("destroy")
    ratio = delivered_per_s / sink_per_s if sink_per_s else 0.0
    # filtered_per_s (the default pipeline with amavis + SpamAssassin) is on
    # the last line too, so that the unfiltered figure is never read alone
    print("mail_throughput: delivered_per_s=%.1f sink_per_s=%.1f ratio=%.4f lost=%d filtered_per_s=%.1f"
          % (delivered_per_s, sink_per_s, ratio, lost, filtered_per_s))
    return 0 if lost == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
