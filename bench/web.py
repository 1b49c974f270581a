#!/usr/bin/env python3
"""Web throughput: the Moodle login page and a static file, PHP-FPM with opcache against without.

Uses the container of the molecule scenario `web` (web1: Apache 2.4, PHP 8.2-FPM,
MariaDB and the real Moodle 5.1 tree of ../shared/fixtures, plus a static
site), converged by `molecule converge -s web`; the script runs that itself
when the container is not there and destroys it again afterwards unless
--keep.

In one run, with ApacheBench (`ab`, Debian's apache2-utils, installed in the
container when missing) inside the container, so that the site names resolve
to the container itself (a bench line in its /etc/hosts, removed afterwards)
and TLS carries the right SNI:

1. warm-up of each URL (opcache filled, sessions directory in the cache);
2. static_rps: `https://www.<domain>/` (a static page of the web role), keep-alive;
3. moodle_rps: `https://moodle.<domain>/login/index.php` (the login form: PHP,
   Moodle's bootstrap, a new session for every request), with opcache as the
   role configures it;
4. the same with opcache switched off for PHP-FPM (a conf.d file
   `99-smbvdc-bench.ini` with `opcache.enable=0`, php-fpm restarted), then the
   file removed and php-fpm restarted again, whatever happens.

Every load is bounded: a fixed number of requests (``--requests``) and a time
limit (ab -t). Concurrency ``--concurrency`` (default: 2 x the container's
CPUs). The figures are medians of ``--rounds`` rounds. The last line is
    web: moodle_rps=<x> static_rps=<y> opcache_speedup=<moodle with / without>
Figures are measured, not asserted. Traffic stays inside the container.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scenario import Scenario  # noqa: E402  (what the scenario benchmarks share)
CONTAINER = "web1"
BENCH_INI = "/etc/php/8.2/fpm/conf.d/99-smbvdc-bench.ini"
MARK = "# smbvdc bench/web.py"
SCENARIO = Scenario("web", "web")
molecule = SCENARIO.molecule


def dexec(script, check=True, timeout=900):
    return SCENARIO.dexec(CONTAINER, script, check=check, timeout=timeout)


def running():
    return SCENARIO.running(CONTAINER)


def ab(url, requests, concurrency, limit_s, keepalive):
    """Requests per second of one ab run; fails on non-2xx answers or failed requests."""
    # -t before -n: ab's -t sets -n 50000 itself, a later -n brings the count back
    out = dexec("ab -q %s -t %d -n %d -c %d -s 60 '%s' 2>&1" % ("-k" if keepalive else "", limit_s, requests,
                                                               concurrency, url), check=False, timeout=limit_s + 120)
    rps = re.search(r"^Requests per second:\s+([\d.]+)", out, re.M)
    complete = re.search(r"^Complete requests:\s+(\d+)", out, re.M)
    failed = re.search(r"^Failed requests:\s+(\d+)", out, re.M)
    non2xx = re.search(r"^Non-2xx responses:\s+(\d+)", out, re.M)
    if not (rps and complete) or int(failed.group(1)) or non2xx:
        raise SystemExit("web: ab %s did not measure cleanly:\n%s" % (url, out[-3000:]))
    return float(rps.group(1)), int(complete.group(1))


def measure(name, url, args, keepalive):
    ab(url, max(args.concurrency * 4, 20), args.concurrency, args.time_limit, keepalive)     # warm-up
    rounds = []
    for _ in range(args.rounds):
        rps, done = ab(url, args.requests if not keepalive else args.requests * 10, args.concurrency,
                       args.time_limit, keepalive)
        rounds.append(rps)
    med = statistics.median(rounds)
    print("web: %-22s %8.1f req/s (median of %s, %d requests each at most, concurrency %d)"
          % (name, med, ", ".join("%.1f" % r for r in rounds), done, args.concurrency), flush=True)
    return med


def restart_fpm():
    dexec("systemctl restart php8.2-fpm && systemctl is-active php8.2-fpm")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=300, help="requests per round of the Moodle page "
                                                              "(the static file: 10 times as many)")
    ap.add_argument("--concurrency", type=int, default=0, help="parallel requests (default 2 x CPUs)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--time-limit", type=int, default=60, help="seconds one round may take at most")
    ap.add_argument("--keep", action="store_true", help="keep a container this script created")
    args = ap.parse_args()

    created = False
    if not running():
        molecule("converge")
        created = True
    moodle_rps = static_rps = plain_rps = 0.0
    try:
        if not args.concurrency:
            args.concurrency = 2 * int(dexec("nproc"))
        domain = dexec("hostname -d || true") or "web.smbvdc.test"
        if domain == "(none)" or "." not in domain:
            domain = "web.smbvdc.test"
        dexec("command -v ab >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq apache2-utils "
              ">/dev/null", timeout=900)
        dexec("sed -i '/%s/d' /etc/hosts; printf '127.0.0.1 www.%s moodle.%s %s\\n' >> /etc/hosts"
              % (MARK, domain, domain, MARK))
        print("web: %s (%s), %d CPUs, ab in the container" % (CONTAINER, domain, int(dexec("nproc"))), flush=True)
        static_rps = measure("static page", "https://www.%s/" % domain, args, keepalive=True)
        moodle_rps = measure("Moodle login, opcache", "https://moodle.%s/login/index.php" % domain, args,
                             keepalive=False)
        dexec("printf '; bench/web.py: opcache off for the baseline (removed afterwards)\\nopcache.enable=0\\n' > %s"
              % BENCH_INI)
        restart_fpm()
        status = dexec("php-fpm8.2 -i 2>/dev/null | grep -m1 '^opcache.enable =>' || true")
        print("web: baseline: %s" % (status or "opcache.enable=0 in %s" % BENCH_INI), flush=True)
        plain_rps = measure("Moodle login, no opcache", "https://moodle.%s/login/index.php" % domain, args,
                            keepalive=False)
    finally:
        if running():
            dexec("rm -f %s; sed -i '/%s/d' /etc/hosts" % (BENCH_INI, MARK), check=False)
            restart_fpm()
        if created and not args.keep:
            molecule("destroy")
    speedup = moodle_rps / plain_rps if plain_rps else 0.0
    print("web: moodle_rps=%.1f static_rps=%.1f opcache_speedup=%.2f" % (moodle_rps, static_rps, speedup))
    return 0


if __name__ == "__main__":
    sys.exit(main())
