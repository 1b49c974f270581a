"""What the benchmarks that run on a molecule scenario share.

bench/backup.py, bench/web.py and bench/mail_throughput.py each measure on
the containers of one molecule scenario: they create and converge it when
it is not running, run commands in its containers, and fail with the
benchmark's own name in front of the message.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


class Scenario(object):
    """One molecule scenario (``name``) as seen by one benchmark (``label``, the prefix of its lines)."""

    def __init__(self, name, label):
        self.name = name
        self.label = label

    def dexec(self, container, script, user=None, check=True, timeout=900):
        """stdout of ``sh -c script`` in the container; a failure ends the benchmark with its output."""
        cmd = ["docker", "exec"] + (["-u", user] if user else []) + [container, "sh", "-c", script]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise SystemExit("%s: in %s, `%s` failed (exit %d): %s%s"
                             % (self.label, container, script, proc.returncode, proc.stdout[-2000:],
                                proc.stderr[-2000:]))
        return proc.stdout.strip()

    @staticmethod
    def running(container):
        proc = subprocess.run(["docker", "inspect", "-f", "{{.State.Running}}", container], capture_output=True,
                              text=True)
        return proc.returncode == 0 and proc.stdout.strip() == "true"

    def molecule(self, *args):
        """``molecule <args> -s <name>`` with this checkout's virtualenv and ansible.cfg."""
        env = dict(os.environ, PATH="%s:%s" % (ROOT / ".venv" / "bin", os.environ.get("PATH", "")),
                   ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"))
        print("%s: molecule %s -s %s ..." % (self.label, " ".join(args), self.name), flush=True)
        # the shared config named explicitly: molecule finds it by itself only in
        # a plain clone, not in a git worktree
        config = ROOT / ".config" / "molecule" / "config.yml"
        subprocess.run(["molecule", "-c", str(config), *args, "-s", self.name], cwd=ROOT, env=env, check=True,
                       stdout=subprocess.DEVNULL)
