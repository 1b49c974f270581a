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
   (--filtered-messages, default 200) -> filtered_per_s (CPU-bound: about
   115-130 ms of CPU per message in all, 50-55 of them SpamAssassin's rules,
   see docs/mail.md);
4. lost = messages sent in 2. and 3. that never reached the Maildir once the
   queue is empty (bounded wait).

Before 3. it prints which SpamAssassin network tests are in force, read from
the container's real configuration the way amavis loads it (amavis'
$sa_local_tests_only from its conf.d files, then SpamAssassin's own settings:
dns_available, skip_rbl_checks, skip_uribl_checks, use_razor2, use_pyzor,
use_dcc, the network plugins loaded and whether their helpers are installed),
as `network_tests_on=<list or none>`. After 3. it prints the container's CPU
time per filtered message (its cgroup's CPU counter over the run; with C
cores to itself the host could filter at most C*1000/cpu_ms messages per
second), and with --amavis-timing amavis' own per-section means (log_level 2
`TIMING` lines, set for the run only and restored afterwards).

The last line is
    mail_throughput: delivered_per_s=<x> sink_per_s=<y> ratio=<x/y> lost=<n> filtered_per_s=<f>
Traffic goes only to the container itself (its own address); every loop is
bounded in count and time.
"""

from __future__ import annotations

import argparse
import os
import collections
import re
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
# amavis log_level 2 for --amavis-timing (removed again afterwards)
TIMING_CONF = "/etc/amavis/conf.d/99-bench-timing"


# The SpamAssassin network tests in force, as amavis sets SpamAssassin up:
# amavis' configuration files first (for $sa_local_tests_only), then
# SpamAssassin with that setting and its site configuration.
SA_NETWORK_PROBE = r"""
use strict; no warnings;
my ($lto, @out) = (undef);
open(my $saved, '>&', \*STDERR); open(STDERR, '>', '/dev/null');
eval {
  require Amavis::Boot; require Amavis::Conf; require Amavis::Util;
  Amavis::Conf::include_config_files(
    Amavis::Util::find_config_files('/usr/share/amavis/conf.d', '/etc/amavis/conf.d'));
  $lto = $Amavis::Conf::sa_local_tests_only ? 1 : 0;
  push @out, "amavis_max_servers=$Amavis::Conf::max_servers", "amavis_max_requests=$Amavis::Conf::max_requests"; 1;
} or $lto = 'unknown';
require Mail::SpamAssassin;
my $sa = Mail::SpamAssassin->new({local_tests_only => $lto eq '1' ? 1 : 0, dont_copy_prefs => 1,
                                  userprefs_filename => '/nonexistent', home_dir_for_helpers => '/nonexistent'});
$sa->init(1);
open(STDERR, '>&', $saved);
my $c = $sa->{conf};
my %pl = map { (ref($_) =~ /::Plugin::(\w+)$/ ? ($1 => 1) : ()) } $sa->{plugins}->get_loaded_plugins_list;
my $razor = eval { require Razor2::Client::Agent; 1 } ? 1 : 0;
my $pyzor = grep { -x "$_/pyzor" } split(/:/, $ENV{PATH} || '/usr/bin:/bin');
my $dns = $c->{dns_available} || 'test';
my $v = sub { defined $_[0] ? $_[0] : '-' };
my @on;
if ($lto ne '1' && $dns ne 'no') {
  push @on, 'rbl' if !$c->{skip_rbl_checks};
  push @on, 'uribl' if $pl{URIDNSBL} && !$c->{skip_uribl_checks};
  push @on, grep { $pl{$_} } qw(SPF DKIM DMARC HashBL AskDNS TxRep);
  push @on, 'razor2' if $pl{Razor2} && $c->{use_razor2} && $razor;
  push @on, 'pyzor' if $pl{Pyzor} && $c->{use_pyzor} && $pyzor;
  push @on, 'dcc' if $pl{DCC} && $c->{use_dcc};
}
print join(' ', @out), ' ';
printf "amavis_sa_local_tests_only=%s dns_available=%s skip_rbl_checks=%s skip_uribl_checks=%s "
     . "use_razor2=%s%s use_pyzor=%s%s use_dcc=%s%s network_plugins=%s network_tests_on=%s\n",
  $lto, $dns, $v->($c->{skip_rbl_checks}), $pl{URIDNSBL} ? $v->($c->{skip_uribl_checks}) : '(no URIDNSBL)',
  $v->($c->{use_razor2}), ($razor ? '' : '(Razor2 not installed)'),
  $v->($c->{use_pyzor}), ($pyzor ? '' : '(pyzor not installed)'),
  $pl{DCC} ? $v->($c->{use_dcc}) : '-', ($pl{DCC} ? '' : '(DCC plugin not loaded)'),
  join(',', grep { $pl{$_} } qw(DNSEval URIDNSBL SPF DKIM DMARC HashBL AskDNS TxRep Razor2 Pyzor DCC)) || 'none',
  @on ? join(',', @on) : 'none';
"""


def sa_network_tests(c):
    """One line: the SpamAssassin network test settings amavis runs with in ``c``."""
    proc = subprocess.run(["docker", "exec", c, "perl", "-e", SA_NETWORK_PROBE], capture_output=True, text=True,
                          timeout=300)
    return proc.stdout.strip() or "unknown (%s)" % proc.stderr.strip()[-300:]


def cpu_seconds(c):
    """CPU seconds the container has used so far (its cgroup's counter), None when it cannot be read."""
    cid = subprocess.run(["docker", "inspect", "-f", "{{.Id}}", c], capture_output=True, text=True).stdout.strip()
    for path, scale, key in (("/sys/fs/cgroup/cpuacct/docker/%s/cpuacct.usage" % cid, 1e-9, None),
                             ("/sys/fs/cgroup/system.slice/docker-%s.scope/cpu.stat" % cid, 1e-6, "usage_usec"),
                             ("/sys/fs/cgroup/docker/%s/cpu.stat" % cid, 1e-6, "usage_usec")):
        try:
            with open(path) as f:
                text = f.read()
        except OSError:
            continue
        if key is None:
            return int(text) * scale
        for line in text.splitlines():
            if line.startswith(key + " "):
                return int(line.split()[1]) * scale
    return None


def wait_for_amavis(c, timeout=120):
    """Wait (bounded) until amavis, just restarted, listens on 10024 again."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if dexec(c, "ss -Hltn 'sport = :10024' | wc -l", check=False) not in ("", "0"):
            break
        time.sleep(1)
    time.sleep(2)


def amavis_timing(log):
    """Mean ms per message of amavis' TIMING sections (and TIMING-SA's) in ``log`` (log_level 2)."""
    sections, sa, totals, sa_totals = collections.Counter(), collections.Counter(), [], []
    for line in log.splitlines():
        m = re.search(r"TIMING \[total (\d+) ms[^\]]*\] - (.*)", line)
        target = sections
        if not m:
            m = re.search(r"TIMING-SA total (\d+) ms - (.*)", line)
            target = sa
        if not m:
            continue
        (totals if target is sections else sa_totals).append(int(m.group(1)))
        for part in m.group(2).split(", "):
            mm = re.match(r"(.+?): ([\d.]+) \(", part)
            if mm:
                target[mm.group(1)] += float(mm.group(2))
    out = []
    for name, total, counter in (("amavis", totals, sections), ("SpamAssassin", sa_totals, sa)):
        if total:
            top = ", ".join("%s %.1f" % (k, v / len(total)) for k, v in counter.most_common(8))
            out.append("%s: %d messages, mean %.1f ms wall each: %s" % (name, len(total), sum(total) / len(total),
                                                                         top))
    return out


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
    ap.add_argument("--amavis-timing", action="store_true",
                    help="amavis log_level 2 during the filtered run: print its mean TIMING per section")
    args = ap.parse_args()
    if args.messages < 2000:
        ap.error("--messages must be at least 2000")
    n, c = args.messages, args.container

    created = False
    if not running(c):
        molecule("converge")
        created = True
    content_filter = None
    timing_set = False
    ncores = os.cpu_count() or 1
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
                print("mail_throughput: SpamAssassin network tests: %s" % sa_network_tests(c), flush=True)
                print("mail_throughput: postfix smtp-amavis maxproc %s"
                      % dexec(c, "postconf -M smtp-amavis/unix | awk '{print $7}'", check=False), flush=True)
                if args.amavis_timing:
                    dexec(c, "printf 'use strict;\\n$log_level = 2;\\n1;\\n' > %s && systemctl restart amavis"
                          % TIMING_CONF)
                    wait_for_amavis(c)
                    timing_set = True
                    since = dexec(c, "date '+%Y-%m-%d %H:%M:%S'")
                print("mail_throughput: with amavis + SpamAssassin, %d messages" % f, flush=True)
                cpu0 = cpu_seconds(c)
                filtered_per_s, fgot, felapsed = inject(c, src + " -m %d" % f, address, maildir, f, args.timeout)
                cpu1 = cpu_seconds(c)
                lost += f - fgot
                print("mail_throughput:   %d of %d in the Maildir, last after %.2f s: filtered_per_s=%.1f"
                      % (fgot, f, felapsed, filtered_per_s), flush=True)
                if cpu0 is not None and cpu1 is not None and fgot:
                    cpu_ms = (cpu1 - cpu0) * 1000.0 / fgot
                    print("mail_throughput:   container CPU %.1f ms per filtered message (all of it: Postfix twice,"
                          " amavis, SpamAssassin, Dovecot); at most %.1f/s on the %s cores of this host; load: %s"
                          % (cpu_ms, ncores * 1000.0 / cpu_ms, ncores, open("/proc/loadavg").read().strip()),
                          flush=True)
                if timing_set:
                    for line in amavis_timing(dexec(c, "journalctl -t amavis --since '%s' --no-pager" % since,
                                                    check=False)):
                        print("mail_throughput:   %s" % line, flush=True)
    finally:
        if content_filter:
            dexec(c, "postconf -e 'content_filter=%s' && postfix reload >/dev/null 2>&1" % content_filter, check=False)
        if timing_set:
            dexec(c, "rm -f %s && systemctl restart amavis" % TIMING_CONF, check=False)
            wait_for_amavis(c)
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
