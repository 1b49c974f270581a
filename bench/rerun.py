#!/usr/bin/env python3
"""No-change run of a branch: where the time goes, and what each speed-up buys.

Runs a playbook (default playbooks/site.yml) on a running branch (default the
lab) once per variant, in the same invocation, and measures each:

  defaults  ansible-core's own defaults: no pipelining, 5 forks, facts
            gathered by every play that asks (ANSIBLE_PIPELINING=False,
            ANSIBLE_FORKS=5, ANSIBLE_GATHERING=implicit)
  repo      the repository's ansible.cfg as it is (pipelining, 10 forks,
            ControlPersist)
  mitogen   the repo settings plus the Mitogen strategy (mitogen_linear:
            one Python interpreter per host for the whole run instead of
            one per task); only when the mitogen package is installed
            (pip install mitogen), otherwise reported as not run

A variant counts only when it is correct: the run ends rc 0 with changed=0
and failed=0 on every host (a no-change run that changes something, or a
faster run that fails, is reported and not used). For each variant it prints
the wall time, the time per play (layer) and the 20 slowest tasks, read from
the ansible.posix.json callback's own timings.

first_build_s, the time of the first build of the branch, is read from
build/lab/first-build.json (written by `make lab` from scripts/lab-up) or
given with --first-build-s; the script never rebuilds a branch. The last line
is

    rerun: first_build_s=<a> nochange_s=<b> ratio=<b/a> speedup_vs_defaults=<c>

with nochange_s the fastest correct variant and speedup_vs_defaults the
defaults variant's time over it. Figures are measured, not asserted; the run
touches only the branch's own hosts and changes nothing on them (a no-change
run).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def mitogen_strategy_dir():
    """The ansible_mitogen strategy plugins, or None when mitogen is not installed."""
    try:
        import ansible_mitogen  # noqa: PLC0415  (optional dependency)
    except ImportError:
        return None
    path = Path(ansible_mitogen.__file__).resolve().parent / "plugins" / "strategy"
    return path if path.is_dir() else None


def variant_env(name):
    """Environment overrides of each variant (on top of the repo's ansible.cfg)."""
    if name == "defaults":
        return {"ANSIBLE_PIPELINING": "False", "ANSIBLE_FORKS": "5", "ANSIBLE_GATHERING": "implicit"}
    if name == "repo":
        return {}
    if name == "mitogen":
        strategy = mitogen_strategy_dir()
        if strategy is None:
            return None
        return {"ANSIBLE_STRATEGY_PLUGINS": str(strategy), "ANSIBLE_STRATEGY": "mitogen_linear"}
    raise SystemExit("rerun: unknown variant %r (defaults, repo, mitogen)" % name)


def stamp(text):
    """ansible.posix.json timestamps: 2026-12-05T03:50:29.123456Z"""
    return datetime.strptime(text.rstrip("Z"), "%Y-%m-%dT%H:%M:%S.%f").timestamp()


def analyse(doc):
    """(per-play [(name, s)], slowest tasks [(s, play, task)], stats) from the json callback's output."""
    plays, tasks = [], []
    for play in doc.get("plays", []):
        pname = play["play"]["name"]
        dur = play["play"].get("duration", {})
        if dur.get("start") and dur.get("end"):
            plays.append((pname, stamp(dur["end"]) - stamp(dur["start"])))
        # tasks of an included role appear once per host: one entry per task,
        # timed from its first start to its last end, with its hosts
        merged = {}
        for task in play.get("tasks", []):
            tdur = task["task"].get("duration", {})
            if tdur.get("start") and tdur.get("end"):
                key = task["task"].get("id") or task["task"]["name"]
                start, end = stamp(tdur["start"]), stamp(tdur["end"])
                name, hosts, s0, e0 = merged.get(key, (task["task"]["name"], set(), start, end))
                merged[key] = (name, hosts | set(task.get("hosts", {})), min(s0, start), max(e0, end))
        for name, hosts, start, end in merged.values():
            tasks.append((end - start, pname, "%s [%s]" % (name, ",".join(sorted(hosts)))))
    tasks.sort(reverse=True)
    return plays, tasks, doc.get("stats", {})


def run_variant(name, env_over, args, workdir):
    env = dict(os.environ)
    env.update(env_over)
    env.pop("ANSIBLE_CALLBACKS_ENABLED", None)  # the json callback times the run itself
    env.update({
        "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
        "ANSIBLE_TIMEOUT": env.get("ANSIBLE_TIMEOUT", "120"),
    })
    out = workdir / ("%s.json" % name)
    err = workdir / ("%s.stderr" % name)
    cmd = ["ansible-playbook", "-i", args.inventory, args.playbook, *args.extra]
    print("rerun: %s: %s (%s)" % (name, " ".join(cmd),
                                  " ".join("%s=%s" % kv for kv in env_over.items()) or "repo ansible.cfg"), flush=True)
    t0 = time.monotonic()
    with out.open("w") as fout, err.open("w") as ferr:
        rc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=fout, stderr=ferr, timeout=args.timeout).returncode
    wall = time.monotonic() - t0
    try:
        doc = json.loads(out.read_text())
    except ValueError:
        print("rerun: %s: no JSON output (rc=%d); stderr:\n%s" % (name, rc, err.read_text()[-3000:]), flush=True)
        return {"name": name, "wall": wall, "rc": rc, "correct": False, "changed": None}
    plays, tasks, stats = analyse(doc)
    changed = {h: s.get("changed", 0) for h, s in stats.items() if s.get("changed", 0)}
    failed = {h: s.get("failures", 0) + s.get("unreachable", 0) for h, s in stats.items()
              if s.get("failures", 0) or s.get("unreachable", 0)}
    correct = rc == 0 and not changed and not failed
    print("rerun: %s: wall_s=%.1f rc=%d hosts=%d changed=%s failed=%s -> %s" % (
        name, wall, rc, len(stats), changed or 0, failed or 0, "correct" if correct else "NOT CORRECT"), flush=True)
    if changed:
        for play in doc.get("plays", []):
            for task in play.get("tasks", []):
                for host, res in task.get("hosts", {}).items():
                    if res.get("changed"):
                        print("rerun: %s:   changed: %s | %s | %s" % (name, host, play["play"]["name"], task["task"]["name"]))
    print("rerun: %s: time per play (layer):" % name)
    for pname, sec in plays:
        if sec >= 1.0:
            print("rerun: %s:   %7.1f s  %s" % (name, sec, pname))
    print("rerun: %s: the %d slowest tasks:" % (name, min(20, len(tasks))))
    for sec, pname, tname in tasks[:20]:
        print("rerun: %s:   %7.1f s  %s | %s" % (name, sec, pname, tname))
    return {"name": name, "wall": wall, "rc": rc, "correct": correct, "changed": changed}


def first_build(args):
    if args.first_build_s is not None:
        return args.first_build_s, "--first-build-s"
    record = ROOT / "build" / "lab" / "first-build.json"
    if record.is_file():
        data = json.loads(record.read_text())
        return float(data["seconds"]), "%s (%s, %s)" % (record.relative_to(ROOT), data.get("inventory"), data.get("finished"))
    return None, None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-i", "--inventory", default="inventories/lab")
    ap.add_argument("--playbook", default="playbooks/site.yml")
    ap.add_argument("--variants", default="defaults,repo,mitogen",
                    help="comma-separated, run in this order (default: defaults,repo,mitogen)")
    ap.add_argument("--first-build-s", type=float, default=None,
                    help="time of the branch's first build, when build/lab/first-build.json has none")
    ap.add_argument("--timeout", type=int, default=7200, help="bound of each run in seconds")
    ap.add_argument("--keep", default=None, help="directory to keep the JSON output of each run in")
    ap.add_argument("extra", nargs="*", help="extra ansible-playbook arguments (after --)")
    args = ap.parse_args()
    if shutil.which("ansible-playbook") is None:
        raise SystemExit("rerun: ansible-playbook is not on PATH. Fix: run `make setup` and use .venv/bin.")

    workdir = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="smbvdc-rerun-"))
    workdir.mkdir(parents=True, exist_ok=True)
    results = []
    for name in [v.strip() for v in args.variants.split(",") if v.strip()]:
        env_over = variant_env(name)
        if env_over is None:
            print("rerun: %s: NOT RUN (the mitogen package is not installed: pip install mitogen)" % name, flush=True)
            continue
        results.append(run_variant(name, env_over, args, workdir))
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)

    print("rerun: summary: " + " ".join("%s=%.1fs%s" % (r["name"], r["wall"], "" if r["correct"] else "(NOT CORRECT)")
                                        for r in results))
    good = [r for r in results if r["correct"]]
    best = min(good, key=lambda r: r["wall"]) if good else None
    base = next((r for r in results if r["name"] == "defaults" and r["correct"]), None)
    fb, source = first_build(args)
    if fb is not None:
        print("rerun: first build: %.0f s from %s" % (fb, source))
    nochange = best["wall"] if best else None
    if best:
        print("rerun: fastest correct variant: %s" % best["name"])
    print("rerun: first_build_s=%s nochange_s=%s ratio=%s speedup_vs_defaults=%s" % (
        "%.0f" % fb if fb is not None else "unknown",
        "%.0f" % nochange if nochange is not None else "none",
        "%.3f" % (nochange / fb) if fb and nochange is not None else "unknown",
        "%.2f" % (base["wall"] / nochange) if base and nochange else "unknown"))
    return 0 if best else 1


if __name__ == "__main__":
    sys.exit(main())
