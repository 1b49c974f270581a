#!/usr/bin/env python3
"""Backup throughput: Amanda (amdump over ssh) against tar | gzip of the same data, and a restore.

Uses the containers of the molecule scenario `amanda` (amanda-bak1, the
backup server, and amanda-db1, a client), converged by
`molecule converge -s amanda`; the script runs that itself when they are not
there and destroys them again afterwards unless --keep.

In one run:

1. a data set of at least 1 GiB (default 1.25 GiB) on the client under
   /srv/smbvdc-bench: many small files (1-16 KiB), some medium ones
   (256 KiB-2 MiB) and a few large ones (64 MiB), half of the bytes
   compressible text (log-like lines), half random;
2. a bench-only Amanda configuration `smbvdc-bench` on the server, copied
   from the converged one (same dumptype: ssh transport, amgtar, `compress
   client fast`), with its own vtapes, holding disk, state and a disk list of
   that one directory, and `dumpcycle 0` (always a full dump);
3. amanda_mb_s: the data set's size over the wall time of `amdump
   smbvdc-bench` (as the backup user: estimate, ssh to the client, tar, gzip
   --fast on the client, holding disk, taper to the vtape);
4. tar_mb_s: the same size over the time of `tar -cf - . | gzip --fast
   >/dev/null` on the client (gzip --fast is what `compress client fast`
   runs; --gzip6 also times plain `gzip`, level 6);
5. restore_mb_s: the size over the time of `amfetchdump -p` of the image piped
   into `tar -x` on the server (from the vtape, decompressing); the restored
   tree is compared with the original (file count, bytes, a sample of
   sha256 sums);
6. the data set, the restored copy and the bench configuration (its vtapes,
   holding disk, logs and index) are removed.

MB = 10^6 bytes. The page cache is warm for both tar and amdump (the data was
just written; a container cannot drop caches). The last line is
    backup: amanda_mb_s=<x> tar_mb_s=<y> ratio=<x/y> restore_mb_s=<z>
Figures are measured, not asserted. Traffic goes only between the two
containers; every loop is bounded.
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
SCENARIO = Scenario("amanda", "backup")
SERVER, CLIENT = "amanda-bak1", "amanda-db1"
CONFIG = "smbvdc-bench"
DATA = "/srv/smbvdc-bench"
RESTORE = "/var/tmp/smbvdc-bench-restore"

# runs inside the client: writes the data set, prints "<files> <bytes>"
GENERATE = r"""
import os, random, sys
root, total = sys.argv[1], int(sys.argv[2])
rng = random.Random(12)
words = [w for w in "the amanda server backs up every branch vm over ssh into virtual tapes on its own disk "
         "mail moodle mariadb etc configuration restore drill holding level full incremental".split()]
def lines(n):
    out, size = [], 0
    while size < n:
        line = "%06d %s host%02d %s\n" % (rng.randrange(10 ** 6), " ".join(rng.choice(words) for _ in range(8)),
                                           rng.randrange(40), rng.random())
        out.append(line)
        size += len(line)
    return "".join(out).encode()
# log-like text: slices of a 16 MiB pool at random offsets (gzip's 32 KiB window never sees the repeats)
pool = lines(16 << 20)
pool += pool[:4 << 20]
def text(n):
    start = rng.randrange(0, len(pool) - n) if n < len(pool) else 0
    return pool[start:start + n]
def write(path, n, compressible):
    with open(path, "wb") as f:
        left = n
        while left > 0:
            chunk = min(left, 4 << 20)
            f.write(text(chunk) if compressible else os.urandom(chunk))
            left -= chunk
files = written = 0
plan = [("small", 24000, (1 << 10, 16 << 10)), ("medium", 300, (256 << 10, 2 << 20)), ("large", 0, None)]
for kind, count, (lo, hi) in [p for p in plan if p[2]]:
    for i in range(count):
        d = os.path.join(root, kind, "%03d" % (i // 500))
        os.makedirs(d, exist_ok=True)
        n = rng.randrange(lo, hi)
        write(os.path.join(d, "f%05d.%s" % (i, "log" if i % 2 else "bin")), n, i % 2 == 1)
        files += 1
        written += n
i = 0
os.makedirs(os.path.join(root, "large"), exist_ok=True)
while written < total:
    n = min(64 << 20, max(total - written, 1 << 20))
    write(os.path.join(root, "large", "big%02d.%s" % (i, "log" if i % 2 else "bin")), n, i % 2 == 1)
    files += 1
    written += n
    i += 1
print(files, written)
"""


def dexec(container, script, user=None, check=True, timeout=3600):
    return SCENARIO.dexec(container, script, user=user, check=check, timeout=timeout)


running = SCENARIO.running
molecule = SCENARIO.molecule


def timed(container, script, user=None, timeout=3600):
    t0 = time.monotonic()
    dexec(container, script, user=user, timeout=timeout)
    return time.monotonic() - t0


def bench_config(base, client_fqdn, vtape_mb, holding_mb):
    """The bench configuration's amanda.conf and disklist, from the converged configuration ``base``."""
    conf = dexec(SERVER, "cat /etc/amanda/%s/amanda.conf" % base)
    out = []
    for line in conf.splitlines():
        word = line.split(" ", 1)[0]
        line = line.replace("/%s" % base, "/%s" % CONFIG).replace('"^%s-' % base, '"^%s-' % CONFIG)
        if word == "org":
            line = 'org "%s"' % CONFIG
        elif word == "mailto":
            line = 'mailto ""'
        elif word == "dumpcycle":
            line = "dumpcycle 0 days   # bench: always a full dump"
        elif word == "runspercycle":
            line = "runspercycle 1"
        elif word == "tapecycle":
            line = "tapecycle 2 tapes"
        elif line.strip().startswith("length "):
            line = "    length %d mbytes" % vtape_mb
        elif line.strip().startswith("use "):
            line = "    use %d mbytes" % holding_mb
        out.append(line)
    disklist = '%s "%s" smbvdc-files\n' % (client_fqdn, DATA)
    return "\n".join(out) + "\n", disklist


def setup_config(base, client_fqdn, args):
    conf, disklist = bench_config(base, client_fqdn, args.vtape_mb, args.holding_mb)
    dexec(SERVER, "install -d -o backup -g backup -m 0750 /etc/amanda/{c} /var/lib/amanda/{c} "
                  "/var/lib/amanda/{c}/curinfo /var/lib/amanda/{c}/index /var/log/amanda/{c} "
                  "/srv/amanda/holding/{c} /srv/amanda/vtapes/{c} /srv/amanda/vtapes/{c}/slot1 "
                  "/srv/amanda/vtapes/{c}/slot2".format(c=CONFIG))
    for name, text in (("amanda.conf", conf), ("disklist", disklist)):
        subprocess.run(["docker", "exec", "-i", "-u", "backup", SERVER, "sh", "-c",
                        "cat > /etc/amanda/%s/%s" % (CONFIG, name)], input=text, text=True, check=True)
    for slot in (1, 2):
        dexec(SERVER, "amlabel %s %s-%03d slot %d" % (CONFIG, CONFIG, slot, slot), user="backup")


def cleanup(client_fqdn):
    dexec(CLIENT, "rm -rf %s" % DATA, check=False)
    dexec(SERVER, "rm -rf %s /etc/amanda/{c} /var/lib/amanda/{c} /var/log/amanda/{c} /srv/amanda/holding/{c} "
                  "/srv/amanda/vtapes/{c} /var/log/amanda/server/{c}".format(c=CONFIG) % RESTORE, check=False)
    if client_fqdn:
        dexec(CLIENT, "rm -f /var/lib/amanda/gnutar-lists/*smbvdc-bench*; sed -i '\\#^%s #d' /var/lib/amanda/amandates"
              % DATA, check=False)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size-mb", type=int, default=1280, help="data set size in MiB (at least 1024)")
    ap.add_argument("--vtape-mb", type=int, default=8192, help="size of the bench vtapes")
    ap.add_argument("--holding-mb", type=int, default=4096, help="holding disk of the bench configuration")
    ap.add_argument("--gzip6", action="store_true", help="also time tar | gzip at gzip's default level 6")
    ap.add_argument("--keep", action="store_true", help="keep containers this script created")
    args = ap.parse_args()
    if args.size_mb < 1024:
        ap.error("--size-mb must be at least 1024 (1 GiB)")

    created = False
    if not (running(SERVER) and running(CLIENT)):
        molecule("converge")
        created = True
    amanda_mb_s = tar_mb_s = restore_mb_s = 0.0
    client_fqdn = None
    try:
        base = [p.split("/")[3] for p in dexec(SERVER, "ls /etc/amanda/*/amanda.conf").split()
                if p.split("/")[3] != CONFIG][0]
        disklist = dexec(SERVER, "cat /etc/amanda/%s/disklist" % base, user="backup")
        client_fqdn = [line.split()[0] for line in disklist.splitlines()
                       if line.strip() and not line.startswith("#") and line.split()[0].startswith(CLIENT + ".")][0]
        cleanup(client_fqdn)

        # 1. the data set
        print("backup: writing %d MiB of mixed files on %s:%s" % (args.size_mb, CLIENT, DATA), flush=True)
        t0 = time.monotonic()
        proc = subprocess.run(["docker", "exec", "-i", CLIENT, "python3", "-", DATA, str(args.size_mb << 20)],
                              input=GENERATE, capture_output=True, text=True, check=True, timeout=3600)
        files, size = map(int, proc.stdout.split())
        du = int(dexec(CLIENT, "du -sb %s | cut -f1" % DATA))
        print("backup:   %d files, %.1f MB of file data (%.1f MB on disk with directories) in %.0f s"
              % (files, size / 1e6, du / 1e6, time.monotonic() - t0), flush=True)

        # 2. the bench configuration
        setup_config(base, client_fqdn, args)
        check = dexec(SERVER, "amcheck %s" % CONFIG, user="backup")
        print("backup: amcheck %s: %s" % (CONFIG, check.splitlines()[-2] if len(check.splitlines()) > 1 else check),
              flush=True)

        # 4. tar | gzip on the client (first, so that both see the same warm cache)
        tar_s = timed(CLIENT, "cd %s && tar -cf - . | gzip --fast >/dev/null" % DATA)
        tar_mb_s = size / 1e6 / tar_s
        print("backup: tar | gzip --fast: %.1f s (%.1f MB/s)" % (tar_s, tar_mb_s), flush=True)
        if args.gzip6:
            gz6_s = timed(CLIENT, "cd %s && tar -cf - . | gzip >/dev/null" % DATA)
            print("backup: tar | gzip (level 6): %.1f s (%.1f MB/s)" % (gz6_s, size / 1e6 / gz6_s), flush=True)

        # 3. amdump
        dump_s = timed(SERVER, "amdump %s" % CONFIG, user="backup")
        amanda_mb_s = size / 1e6 / dump_s
        found = dexec(SERVER, "amadmin %s find %s" % (CONFIG, client_fqdn), user="backup")
        ok = [line for line in found.splitlines() if DATA in line and line.rstrip().endswith("OK")]
        if not ok:
            raise SystemExit("backup: amdump %s left no OK dump:\n%s\n%s" % (
                CONFIG, found, dexec(SERVER, "amreport %s --text=-" % CONFIG, user="backup", check=False)))
        tape = dexec(SERVER, "du -sb /srv/amanda/vtapes/%s | cut -f1" % CONFIG)
        print("backup: amdump: %.1f s (%.1f MB/s), on the vtape %.1f MB" % (dump_s, amanda_mb_s, int(tape) / 1e6),
              flush=True)

        # 5. restore
        dexec(SERVER, "rm -rf %s && install -d -o backup -g backup -m 0700 %s" % (RESTORE, RESTORE))
        restore_s = timed(SERVER, "amfetchdump -p %s %s '^%s$' | tar -xf - -C %s"
                          % (CONFIG, client_fqdn, DATA, RESTORE), user="backup")
        restore_mb_s = size / 1e6 / restore_s
        got_files = int(dexec(SERVER, "find %s -type f | wc -l" % RESTORE))
        got_size = int(dexec(SERVER, "find %s -type f -printf '%%s\\n' | awk '{s += $1} END {print s}'" % RESTORE))
        sample = "find . -type f | sort | awk 'NR %% 997 == 1' | xargs sha256sum"
        same = dexec(CLIENT, "cd %s && %s" % (DATA, sample)) == dexec(SERVER, "cd %s && %s" % (RESTORE, sample))
        print("backup: amfetchdump | tar -x: %.1f s (%.1f MB/s); restored %d/%d files, %d/%d bytes, sample sha256 %s"
              % (restore_s, restore_mb_s, got_files, files, got_size, size, "equal" if same else "DIFFERENT"),
              flush=True)
        if (got_files, got_size) != (files, size) or not same:
            raise SystemExit("backup: the restored tree differs from the data set")
    finally:
        cleanup(client_fqdn)
        if created and not args.keep:
            molecule("destroy")
    ratio = amanda_mb_s / tar_mb_s if tar_mb_s else 0.0
    print("backup: amanda_mb_s=%.1f tar_mb_s=%.1f ratio=%.3f restore_mb_s=%.1f"
          % (amanda_mb_s, tar_mb_s, ratio, restore_mb_s))
    return 0


if __name__ == "__main__":
    sys.exit(main())
