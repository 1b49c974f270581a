#!/usr/bin/env python3
"""Restore drill on a running branch (default: the lab): is what Amanda wrote restorable?

The drill of tests/restoredrill.py (the same code molecule/amanda's verify
runs), on the branch's real VMs over SSH with the branch's key:

- a Maildir with messages on the first mail host (restored with amrecover),
- a MariaDB database on the first host whose backup plan dumps MariaDB,
  preferring a Moodle host (restored from the hook's dump with amfetchdump),
- a file in moodledata on the first Moodle host (amfetchdump),

written, dumped (amdump through bak1's systemd service, full dumps of those
hosts forced), destroyed, restored and compared (sha256 of every file, modes
and owners, row counts, CHECKSUM TABLE, trigger/view/routine/event). The
drill's data lives in its own mailbox directory, database and moodledata
sub-directory; the branch's own data is not touched. Prints
`restore-drill: N passed, N failed` last with sizes and times; exits 1 on
any failure. Traffic goes only to the branch's own VMs.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from labcommon import ROOT, Branch  # noqa: E402

import restoredrill  # noqa: E402  (tests/, on the path through labcommon)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-i", "--inventory", default=str(ROOT / "inventories" / "lab"))
    args = ap.parse_args()
    branch = Branch(args.inventory)
    plan, services = branch.backup, branch.model["services"]
    missing = [what for what, ok in (("a backup server (group backup)", plan["server"]),
                                     ("a mail host (group mail)", services.get("mail")),
                                     ("a Moodle host (group moodle)", services.get("moodle"))) if not ok]
    dumping = [c["name"] for c in plan["clients"] if c["mariadb_dump"]]
    if not dumping:
        missing.append("a host whose MariaDB the backup plan dumps")
    if missing:
        print("restore-drill: the branch has no %s" % ", no ".join(missing))
        print("restore-drill: 0 passed, 1 failed")
        return 1
    mail = services["mail"][0]
    moodle = services["moodle"][0]
    db = moodle if moodle in dumping else dumping[0]
    print("restore-drill: server %s; Maildir on %s, database on %s, Moodle file on %s"
          % (plan["server"], mail, db, moodle), flush=True)
    drill = restoredrill.Drill(branch.run, plan, plan["server"], mail=(mail, mail), db=(db, db),
                               moodle=(moodle, moodle), domain=branch.model["domain"])
    t0 = time.monotonic()
    try:
        results, summary = drill.run_drill()
    except AssertionError as exc:       # a step that could not run is a failed drill, with its output
        results, summary = drill.results + [("drill step", False, str(exc)[:3000])], "stopped"
    failed = restoredrill.print_report(results, summary + "; total %.0f s" % (time.monotonic() - t0))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
