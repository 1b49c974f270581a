#!/usr/bin/env python3
"""DNS propagation benchmark: primary change -> secondary serves the new serial.

Runs two real NSD daemons on loopback (primary 127.0.0.1:<port>, secondary
127.0.0.1:<port+1>) with TSIG-keyed NOTIFY and AXFR, exactly as the nsd role
configures them, makes N changes on the primary (new record, serial + 1,
`nsd-control reload <zone>`) and times, for each, how long until the
secondary answers with the new serial. It does this twice in one run: with
the role's tuned settings (`xfrd-reload-timeout` and `database`, read from
roles/nsd/defaults/main.yml) and with NSD's defaults (1 s, a database file). Prints, last:

  dns_propagation: median_ms=<x> p99_ms=<y> default_median_ms=<z>
"""

import argparse
import base64
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import dns.message
import dns.query
import dns.rdatatype
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ZONE = "bench.smbvdc.test"


def free_port_pair():
    for _ in range(50):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        if port < 65000:
            ok = True
            for p in (port, port + 1):
                for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                    t = socket.socket(socket.AF_INET, kind)
                    try:
                        t.bind(("127.0.0.1", p))
                    except OSError:
                        ok = False
                    finally:
                        t.close()
            if ok:
                return port
    raise RuntimeError("no free port pair on loopback")


def zone_text(serial, n):
    lines = ["$ORIGIN %s." % ZONE, "$TTL 60",
             "@ IN SOA ns1.%s. hostmaster.%s. %d 14400 3600 1209600 60" % (ZONE, ZONE, serial),
             "@ IN NS ns1.%s." % ZONE, "ns1 IN A 127.0.0.1"]
    lines += ["r%d IN A 10.0.%d.%d" % (i, i // 250, i % 250 + 1) for i in range(n)]
    return "\n".join(lines) + "\n"


def write_conf(path, d, port, role, peer_port, keyname, secret, reload_timeout, database):
    lines = ["server:", '    username: ""', '    chroot: ""', "    ip-address: 127.0.0.1@%d" % port,
             '    database: "%s"' % database, '    pidfile: "%s/nsd.pid"' % d, '    zonelistfile: "%s/zone.list"' % d, '    xfrdfile: "%s/xfrd.state"' % d,
             '    xfrdir: "%s"' % d, '    logfile: "%s/nsd.log"' % d, "    verbosity: 1", "    server-count: 1"]
    if reload_timeout is not None:
        lines.append("    xfrd-reload-timeout: %d" % reload_timeout)
    lines += ["remote-control:", "    control-enable: yes", '    control-interface: "%s/ctl.sock"' % d,
              "key:", '    name: "%s"' % keyname, "    algorithm: hmac-sha256", '    secret: "%s"' % secret,
              "zone:", '    name: "%s"' % ZONE, '    zonefile: "%s/%s.zone"' % (d, ZONE)]
    if role == "primary":
        lines += ["    notify: 127.0.0.1@%d %s" % (peer_port, keyname), "    provide-xfr: 127.0.0.1 %s" % keyname]
    else:
        lines += ["    allow-notify: 127.0.0.1 %s" % keyname, "    request-xfr: AXFR 127.0.0.1@%d %s" % (peer_port, keyname)]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def serial_of(port):
    q = dns.message.make_query(ZONE + ".", dns.rdatatype.SOA)
    try:
        r = dns.query.udp(q, "127.0.0.1", port=port, timeout=0.5)
    except Exception:
        return None
    for rrset in r.answer:
        for rd in rrset:
            return rd.serial
    return None


def run(changes, reload_timeout, database, label):
    base = tempfile.mkdtemp(prefix="smbvdc-dnsbench-")
    port = free_port_pair()
    keyname = "bench-xfr"
    secret = base64.b64encode(secrets.token_bytes(32)).decode()
    dirs = {}
    procs = []
    try:
        for role, p, peer in (("primary", port, port + 1), ("secondary", port + 1, port)):
            d = os.path.join(base, role)
            os.makedirs(d)
            dirs[role] = d
            write_conf(os.path.join(d, "nsd.conf"), d, p, role, peer, keyname, secret, reload_timeout,
                       os.path.join(d, "nsd.db") if database is None else database)
            subprocess.run(["nsd-checkconf", os.path.join(d, "nsd.conf")], check=True)
        serial = 2026010100
        with open(os.path.join(dirs["primary"], ZONE + ".zone"), "w") as f:
            f.write(zone_text(serial, 0))
        # primary first, so the secondary's first transfer finds it
        for role, p in (("primary", port), ("secondary", port + 1)):
            procs.append(subprocess.Popen(["nsd", "-d", "-c", os.path.join(dirs[role], "nsd.conf")],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            deadline = time.monotonic() + 30
            while serial_of(p) != serial:
                if time.monotonic() > deadline:
                    raise RuntimeError("%s: the %s never served the zone" % (label, role))
                time.sleep(0.05)
        ctl = ["nsd-control", "-c", os.path.join(dirs["primary"], "nsd.conf")]
        times = []
        for i in range(1, changes + 1):
            serial += 1
            tmp = os.path.join(dirs["primary"], ZONE + ".zone.new")
            with open(tmp, "w") as f:
                f.write(zone_text(serial, i))
            # NSD notices a changed zone file by its mtime (whole seconds):
            # give each version its own second so back-to-back changes count.
            stamp = int(time.time()) + i
            os.utime(tmp, (stamp, stamp))
            os.rename(tmp, os.path.join(dirs["primary"], ZONE + ".zone"))
            t0 = time.monotonic()
            subprocess.run(ctl + ["reload", ZONE], check=True, stdout=subprocess.DEVNULL)
            limit = t0 + 10
            while serial_of(port + 1) != serial:
                if time.monotonic() > limit:
                    raise RuntimeError("%s: change %d did not reach the secondary in 10 s" % (label, i))
                time.sleep(0.002)
            times.append((time.monotonic() - t0) * 1000.0)
        return times
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
        if sys.exc_info()[0] is None:
            shutil.rmtree(base, ignore_errors=True)
        else:
            print("kept %s for inspection" % base, file=sys.stderr)


def pct(values, q):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q / 100.0 * (len(s) - 1))))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--changes", type=int, default=100)
    args = ap.parse_args()
    if not shutil.which("nsd"):
        sys.exit("nsd is not installed (apt-get install nsd)")
    with open(os.path.join(ROOT, "roles", "nsd", "defaults", "main.yml")) as f:
        defaults = yaml.safe_load(f)
    tuned, database = int(defaults["nsd_xfrd_reload_timeout"]), str(defaults["nsd_database"])
    role = run(args.changes, tuned, database, "tuned")
    # NSD's defaults: xfrd-reload-timeout 1 and a database file (one per instance)
    default = run(args.changes, None, None, "default")
    for label, t in (("role (reload-timeout %d, database '%s')" % (tuned, database), role),
                     ("NSD defaults (reload-timeout 1, nsd.db)", default)):
        print("%-40s n=%d median=%.1f ms p90=%.1f ms p99=%.1f ms max=%.1f ms"
              % (label, len(t), statistics.median(t), pct(t, 90), pct(t, 99), max(t)))
    print("speedup of the median: %.1fx" % (statistics.median(default) / statistics.median(role)))
    print("dns_propagation: median_ms=%.1f p99_ms=%.1f default_median_ms=%.1f"
          % (statistics.median(role), pct(role, 99), statistics.median(default)))


if __name__ == "__main__":
    main()
