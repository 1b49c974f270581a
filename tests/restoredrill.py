"""The restore drill, for molecule/amanda's verify and scripts/lab-restore-drill.py.

One implementation, two transports: every step runs shell on a host through
``run(host, script, user=None, stdin=None, check=True, timeout=900)``, which
returns a ``subprocess.CompletedProcess`` with bytes (``docker exec`` in the
molecule scenario, SSH with the branch's key in the lab).

The drill (issue 12):

1. known data: a Maildir with messages (read and unread), a MariaDB database
   with a table, a trigger, a view, a procedure and an event, a Moodle file
   (incompressible and compressible);
2. amdump through the server's systemd service (a full dump of the drill's
   clients is forced first);
3. the data destroyed (the Maildir, the Moodle files, the database and the
   hook's dump file);
4. restore: the mailbox with amrecover on the server, the Moodle files and
   the MariaDB dump with amfetchdump (the chain of levels a restore needs),
   extracted on the client, the dump loaded;
5. compare: sha256 of every file, no extra file, mode and owner, row counts,
   CHECKSUM TABLE, the trigger-written rows, view, routine, trigger and
   event.

``Drill.run_drill`` returns ``(results, summary)``; ``print_report`` prints
``restore-drill: N passed, N failed`` last.
"""

from __future__ import annotations

import os
import re
import shlex
import time

DB, ROWS = "restore_drill", 5000

WRITE_MAILDIR = r"""
set -e
mkdir -p {maildir}/cur {maildir}/new {maildir}/tmp
for i in 1 2 3 4; do
  {{ printf 'From: alice@{domain}\nTo: drill@{domain}\nSubject: drill %s\n\n' $i
     head -c $((i * 3000)) /dev/urandom | base64; }} > {maildir}/cur/170000000$i.M$i.drill:2,S
done
{{ printf 'Subject: unread\n\n'; head -c 2000000 /dev/urandom | base64; }} > {maildir}/new/1700000010.M10.drill
chmod 0600 {maildir}/cur/* {maildir}/new/*
chown -R {owner} {top}
"""

WRITE_MOODLE = r"""
set -e
mkdir -p {moodle}/3f/a2
head -c 300000 /dev/urandom > {moodle}/3f/a2/3fa2c0ffee
seq 1 20000 > {moodle}/3f/a2/compressible.txt
chown -R {owner} {moodle}/3f
"""

SQL_SETUP = """
CREATE DATABASE {db};
USE {db};
CREATE TABLE t (id INT PRIMARY KEY, payload VARCHAR(100), note TEXT) ENGINE=InnoDB;
CREATE TABLE audit (id INT AUTO_INCREMENT PRIMARY KEY, t_id INT);
CREATE TRIGGER t_ai AFTER INSERT ON t FOR EACH ROW INSERT INTO audit (t_id) VALUES (NEW.id);
INSERT INTO t SELECT seq, SHA2(seq, 256), REPEAT(CHAR(65 + seq % 26), seq % 200) FROM seq_1_to_{rows};
CREATE VIEW v AS SELECT COUNT(*) AS n FROM t;
CREATE PROCEDURE p() SELECT COUNT(*) FROM t;
CREATE EVENT e ON SCHEDULE EVERY 1 DAY STARTS '2037-01-01 00:00:00' DO DELETE FROM audit WHERE id < 0;
"""

SQL_STATE = ("SELECT (SELECT COUNT(*) FROM {db}.t), (SELECT COUNT(*) FROM {db}.audit), (SELECT n FROM {db}.v), "
             "(SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA='{db}'), "
             "(SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA='{db}'), "
             "(SELECT COUNT(*) FROM information_schema.EVENTS WHERE EVENT_SCHEMA='{db}')")


class Drill(object):
    """The drill against one Amanda server and the clients that hold the three kinds of data.

    ``plan`` is ``checks.backup_plan(model)``; ``server`` the server's handle for ``run``;
    ``mail``, ``db``, ``moodle``: ``(handle, client name of the plan)`` of the hosts that hold the
    Maildir, the database and the Moodle files (one host may hold all three).
    """

    def __init__(self, run, plan, server, mail, db, moodle, domain):
        self.run, self.plan, self.server = run, plan, server
        self.mail, self.db, self.moodle = mail, db, moodle
        self.config = plan["config"]
        self.top = "/var/vmail/%s/restore-drill" % domain
        self.maildir = self.top + "/Maildir"
        self.moodle_dir = "/var/lib/moodledata/filedir"
        self.domain = domain
        self.results = []

    # --- helpers ---------------------------------------------------------------------------
    def out(self, host, script, **kw):
        return self.run(host, script, **kw).stdout.decode()

    def client(self, name):
        return [c for c in self.plan["clients"] if c["name"] == name][0]

    def checksums(self, host, *dirs):
        text = self.out(host, "find %s -type f -print0 | sort -z | xargs -0 sha256sum" % " ".join(dirs))
        return {line[66:]: line[:64] for line in text.splitlines()}

    def table_checksum(self):
        return self.out(self.db[0], "mariadb -N -e 'CHECKSUM TABLE %s.t EXTENDED'" % DB).split()[-1]

    def db_state(self):
        return self.out(self.db[0], "mariadb -N -e \"%s\"" % SQL_STATE.format(db=DB)).split()

    def compare(self, what, ok, detail=""):
        self.results.append((what, bool(ok), detail))

    def dump_chain(self, fqdn, disk):
        """``[(datestamp, level), ...]`` to restore the newest state of a DLE: the newest OK dump and,
        when it is an incremental, the dumps of lower levels it builds on, oldest first."""
        text = self.out(self.server, "amadmin %s find %s %s" % (self.config, fqdn, shlex.quote(disk)), user="backup")
        rows = []
        for line in text.splitlines():
            tokens = shlex.split(line)
            if len(tokens) > 5 and re.match(r"^\d{4}-\d\d-\d\d$", tokens[0]) and tokens[2] == fqdn \
                    and tokens[3] == disk and tokens[-1] == "OK":
                rows.append((re.sub(r"\D", "", tokens[0] + tokens[1]), int(tokens[4])))
        rows.sort()
        assert rows, "no OK dump of %s:%s" % (fqdn, disk)
        chain = [rows[-1]]
        for stamp, level in reversed(rows[:-1]):
            if chain[0][1] == 0:
                break
            if level < chain[0][1]:
                chain.insert(0, (stamp, level))
        assert chain[0][1] == 0, chain
        return chain

    def fetch_and_extract(self, host, fqdn, disk, target, member):
        """amfetchdump (as the backup user, on the server) of every image of the chain, carried to the
        client by the runner and extracted there in order (GNU tar incremental semantics)."""
        size, fetch_s, extract_s = 0, 0.0, 0.0
        for stamp, level in self.dump_chain(fqdn, disk):
            t0 = time.monotonic()
            image = self.run(self.server, "amfetchdump -p %s %s %s %s %d" % (
                self.config, fqdn, shlex.quote("^%s$" % disk), stamp, level), user="backup").stdout
            fetch_s += time.monotonic() - t0
            size += len(image)
            t0 = time.monotonic()
            self.run(host, "mkdir -p %s && tar --listed-incremental=/dev/null --no-overwrite-dir -xpf - -C %s %s"
                     % (target, target, member), stdin=image)
            extract_s += time.monotonic() - t0
        return size, fetch_s, extract_s

    def amrecover(self, host, fqdn, disk, directory, add):
        """amrecover on the server (root, auth local) into a scratch directory; the restored tree
        then goes to the client. amrecover handles incremental chains itself."""
        script = "sethost %s\nsetdisk %s\ncd %s\nadd %s\nextract\nY\nY\nquit\n" % (fqdn, disk, directory, add)
        t0 = time.monotonic()
        self.run(self.server, "rm -rf /var/tmp/drill-rec && mkdir -m 0700 /var/tmp/drill-rec && "
                              "cd /var/tmp/drill-rec && amrecover %s" % self.config, stdin=script.encode())
        fetch_s = time.monotonic() - t0
        tree = self.run(self.server, "tar -C /var/tmp/drill-rec -cf - . && rm -rf /var/tmp/drill-rec").stdout
        t0 = time.monotonic()
        # --no-overwrite-dir: the archive's "./" is the scratch directory (root, 0700); without it
        # tar gave /var/vmail that owner and mode, and Dovecot (user vmail) could deliver no mail
        # until the next converge. The lab's converge after a drill found /var/vmail changed.
        self.run(host, "tar --no-overwrite-dir -xpf - -C %s" % disk, stdin=tree)
        return len(tree), fetch_s, time.monotonic() - t0

    def dir_modes(self, host, *paths):
        """mode and owner of directories that hold restored data (they must not change)."""
        return self.out(host, "stat -c '%%n %%a %%U:%%G' %s" % " ".join(paths)).split("\n")

    def owners(self, host, path):
        return self.out(host, "find %s -type f -exec stat -c '%%a %%U:%%G' {} + | sort -u" % path).split("\n")

    # --- the drill -------------------------------------------------------------------------
    def run_drill(self):
        mail_h, mail_c = self.mail
        db_h, db_c = self.db
        moodle_h, moodle_c = self.moodle
        mail_fqdn, db_fqdn, moodle_fqdn = (self.client(c)["fqdn"] for c in (mail_c, db_c, moodle_c))
        dump_dir = self.client(db_c)["dump_dir"]
        assert self.client(db_c)["mariadb_dump"], "%s has no MariaDB dump in the backup plan" % db_c

        # 1) known data, owned as the services own their data (vmail, the Moodle pool's user)
        mail_owner = self.out(mail_h, "stat -c %U:%G /var/vmail").strip()
        moodle_owner = self.out(moodle_h, "stat -c %U:%G /var/lib/moodledata").strip()
        self.run(mail_h, "rm -rf %s" % self.top)
        self.run(moodle_h, "rm -rf %s/3f" % self.moodle_dir)
        self.run(db_h, "mariadb -e 'DROP DATABASE IF EXISTS %s'" % DB)
        self.run(mail_h, WRITE_MAILDIR.format(maildir=self.maildir, top=self.top, domain=self.domain,
                                              owner=mail_owner))
        self.run(moodle_h, WRITE_MOODLE.format(moodle=self.moodle_dir, owner=moodle_owner))
        self.run(db_h, "mariadb", stdin=SQL_SETUP.format(db=DB, rows=ROWS).encode())
        before_mail = self.checksums(mail_h, self.maildir)
        before_moodle = self.checksums(moodle_h, self.moodle_dir + "/3f")
        before_modes = self.owners(mail_h, self.maildir) + self.owners(moodle_h, self.moodle_dir + "/3f")
        before_state, before_sum = self.db_state(), self.table_checksum()
        parents = [(mail_h, ("/var/vmail", os.path.dirname(self.top))),
                   (moodle_h, ("/var/lib/moodledata", self.moodle_dir))]
        before_dirs = [m for h, ps in parents for m in self.dir_modes(h, *ps)]
        assert len(before_mail) == 5 and len(before_moodle) == 2, (before_mail, before_moodle)
        assert before_state[:3] == [str(ROWS)] * 3, before_state
        data_bytes = int(self.out(mail_h, "du -sb %s | cut -f1" % self.maildir)) + \
            int(self.out(moodle_h, "du -sb %s/3f | cut -f1" % self.moodle_dir))

        # 2) amdump through the systemd service (amdump as backup, then amreport), a full dump of
        #    the drill's clients forced: several drill runs a day on a short tape cycle would
        #    otherwise overwrite the full dump an incremental builds on (one run a day never does)
        for fqdn in sorted({mail_fqdn, db_fqdn, moodle_fqdn}):
            self.run(self.server, "amadmin %s force %s" % (self.config, fqdn), user="backup")
        unit = "amanda-dump@%s.service" % self.config
        t0 = time.monotonic()
        self.run(self.server, "systemctl start %s" % unit, timeout=5400)
        dump_s = time.monotonic() - t0
        result = self.out(self.server, "systemctl show -p Result --value %s" % unit).strip()
        assert result == "success", self.out(self.server, "journalctl -u %s --no-pager | tail -60" % unit)
        report = self.out(self.server, "journalctl -u %s --no-pager -o cat | tail -80" % unit)
        assert "DUMP SUMMARY" in report, report
        hook = self.out(db_h, "journalctl -t smbvdc-mariadb-dump --no-pager -o cat | tail -1")
        assert "dumped all databases" in hook, hook

        # 3) destroy
        self.run(mail_h, "rm -rf %s" % self.top)
        self.run(moodle_h, "rm -rf %s/3f" % self.moodle_dir)
        self.run(db_h, "rm -f %s/all-databases.sql; mariadb -e 'DROP DATABASE %s'" % (dump_dir, DB))
        gone = self.out(db_h, "mariadb -N -e \"SHOW DATABASES LIKE '%s'\"" % DB).strip() == "" and \
            self.run(mail_h, "test -e %s" % self.top, check=False).returncode != 0
        assert gone, "the drill's data was not destroyed"

        # 4) restore: the mailbox with amrecover, the Moodle files and the MariaDB dump with amfetchdump
        sizes, fetch_s, restore_s = {}, 0.0, 0.0
        rel = self.top[len("/var/vmail/"):]
        sizes["vmail (amrecover)"], f, r = self.amrecover(mail_h, mail_fqdn, "/var/vmail", rel.rsplit("/", 1)[0],
                                                          rel.rsplit("/", 1)[1])
        fetch_s, restore_s = fetch_s + f, restore_s + r
        sizes["moodledata"], f, r = self.fetch_and_extract(moodle_h, moodle_fqdn, "/var/lib/moodledata",
                                                           "/var/lib/moodledata", "./filedir/3f")
        fetch_s, restore_s = fetch_s + f, restore_s + r
        sizes["mariadb"], f, r = self.fetch_and_extract(db_h, db_fqdn, dump_dir, "/var/tmp/drill-sql",
                                                        "./all-databases.sql")
        fetch_s, restore_s = fetch_s + f, restore_s + r
        t0 = time.monotonic()
        self.run(db_h, "mariadb < /var/tmp/drill-sql/all-databases.sql && rm -rf /var/tmp/drill-sql", timeout=1800)
        restore_s += time.monotonic() - t0

        # 5) compare
        for host, before, path in ((mail_h, before_mail, self.maildir), (moodle_h, before_moodle,
                                                                        self.moodle_dir + "/3f")):
            after = self.checksums(host, path)
            for name, digest in sorted(before.items()):
                self.compare("sha256 %s" % name, after.get(name) == digest, after.get(name, "missing"))
            self.compare("no extra files under %s" % path, set(after) == set(before), sorted(set(after) - set(before)))
        after_modes = self.owners(mail_h, self.maildir) + self.owners(moodle_h, self.moodle_dir + "/3f")
        self.compare("file modes and owners", after_modes == before_modes, "%s vs %s" % (after_modes, before_modes))
        after_dirs = [m for h, ps in parents for m in self.dir_modes(h, *ps)]
        self.compare("directories above the restored data keep their modes and owners", after_dirs == before_dirs,
                     "%s vs %s" % (after_dirs, before_dirs))
        after_state = self.db_state()
        self.compare("row count %s.t" % DB, after_state[0] == before_state[0],
                     "%s vs %s" % (after_state[0], before_state[0]))
        self.compare("table checksum %s.t" % DB, self.table_checksum() == before_sum)
        self.compare("trigger-written rows, view, routine, trigger, event", after_state == before_state,
                     "%s vs %s" % (after_state, before_state))
        summary = ("data %.1f MiB (%d files, %d rows); amdump %.1f s; amrecover/amfetchdump %.1f s (%s); "
                   "extract+load %.1f s" % (data_bytes / 2 ** 20, len(before_mail) + len(before_moodle), ROWS,
                                            dump_s, fetch_s, ", ".join("%s %.1f MiB" % (k, v / 2 ** 20)
                                                                       for k, v in sorted(sizes.items())),
                                            restore_s))
        return self.results, summary


def print_report(results, summary):
    """The drill's lines, ``restore-drill: N passed, N failed`` last; returns the number failed."""
    print("\nrestore-drill: %s" % summary)
    for what, ok, detail in results:
        print("  %s %s %s" % ("ok  " if ok else "FAIL", what, detail if not ok else ""))
    failed = sum(1 for r in results if not r[1])
    print("restore-drill: %d passed, %d failed" % (len(results) - failed, failed), flush=True)
    return failed
