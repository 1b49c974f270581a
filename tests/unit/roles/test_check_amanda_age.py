"""The backup-age Nagios plugin of the amanda role (roles/amanda/files/nagios/check_amanda_age)."""

import datetime
import importlib.machinery
import importlib.util
import pathlib
import subprocess

import pytest

PLUGIN = pathlib.Path(__file__).resolve().parents[3] / "roles" / "amanda" / "files" / "nagios" / "check_amanda_age"
HOST = "db1.lab.smbvdc.test"
NOW = datetime.datetime(2026, 12, 4, 12, 0, 0)

# amadmin find of Amanda 3.5.1 (as printed in the molecule scenario)
FIND = """
date                host                          disk                 lv storage    pool       tape or file   file part status
2026-12-03 01:30:53 db1.lab.smbvdc.test /etc                  0 lab lab lab-001    1  1/1 OK 
2026-12-04 01:31:25 db1.lab.smbvdc.test /etc                  1 lab lab lab-002    3  1/1 OK 
2026-12-04 01:31:25 db1.lab.smbvdc.test /var/backups/mariadb  0 lab lab lab-002    4  1/1 OK 
2026-12-03 01:30:53 db1.lab.smbvdc.test /var/vmail            0 lab lab lab-001    5  1/1 OK 
2026-12-04 01:31:25 db1.lab.smbvdc.test /var/vmail            1 lab lab lab-002    5  1/1 FAILED 
2026-12-04 01:31:25 db12.lab.smbvdc.test /var/vmail           0 lab lab lab-002    6  1/1 OK 
"""


def _load():
    loader = importlib.machinery.SourceFileLoader("check_amanda_age", str(PLUGIN))
    spec = importlib.util.spec_from_loader("check_amanda_age", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


@pytest.fixture
def plugin():
    return _load()


def fake_run(stdout, rc=0, calls=None):
    def run(cmd, **kw):
        if calls is not None:
            calls.append(cmd)
        return subprocess.CompletedProcess(cmd, rc, stdout=stdout, stderr="amadmin: no such config" if rc else "")
    return run


def test_parse_keeps_only_the_host(plugin):
    dumps = plugin.parse_find(FIND, HOST)
    assert sorted(dumps) == ["/etc", "/var/backups/mariadb", "/var/vmail"]
    assert dumps["/var/vmail"][-1] == (datetime.datetime(2026, 12, 4, 1, 31, 25), "FAILED")


def test_stalest_dle_decides(plugin, capsys):
    # /var/vmail's newest OK dump is from the 3rd (its run of the 4th failed): 34.5 h
    code = plugin.main(["lab", HOST, "26", "50"], run=fake_run(FIND), now=NOW)
    out = capsys.readouterr().out
    assert code == 1 and out.startswith("WARNING - newest OK dump of %s:/var/vmail is 34.5 h old" % HOST)
    assert "age_hours=34.5;26;50;0" in out


def test_all_recent_is_ok(plugin, capsys):
    text = FIND.replace("FAILED", "OK")
    assert plugin.main(["lab", HOST, "26", "50"], run=fake_run(text), now=NOW) == 0
    assert capsys.readouterr().out.startswith("OK - 3 DLEs of %s" % HOST)


def test_critical_age(plugin, capsys):
    later = NOW + datetime.timedelta(days=2)
    assert plugin.main(["lab", HOST, "26", "50"], run=fake_run(FIND), now=later) == 2
    assert capsys.readouterr().out.startswith("CRITICAL - newest OK dump")


def test_no_dump_is_critical(plugin, capsys):
    assert plugin.main(["lab", "web1.lab.smbvdc.test", "26", "50"], run=fake_run(FIND), now=NOW) == 2
    assert capsys.readouterr().out.startswith("CRITICAL - no dump of web1.lab.smbvdc.test")


def test_only_failed_dumps_is_critical(plugin, capsys):
    text = FIND.replace("1/1 OK", "1/1 FAILED")
    assert plugin.main(["lab", HOST, "26", "50"], run=fake_run(text), now=NOW) == 2
    assert capsys.readouterr().out.startswith("CRITICAL - no successful dump of %s" % HOST)


def test_a_dle_that_never_succeeded_is_critical(plugin, capsys):
    text = FIND.replace("FAILED", "OK") + \
        "2026-12-04 01:31:25 db1.lab.smbvdc.test /srv/new 0 lab lab lab-002 7 1/1 FAILED\n"
    assert plugin.main(["lab", HOST, "26", "50"], run=fake_run(text), now=NOW) == 2
    assert capsys.readouterr().out.startswith("CRITICAL - /srv/new never dumped successfully")


# a failed dump as amadmin find prints it (the MariaDB dump hook could not connect)
FAILED = ("2026-12-04 14:06:26 db1.lab.smbvdc.test /var/backups/mariadb  0 lab lab                   0 -1/-1 "
          "FAILED (dumper) [Script 'smbvdc-mariadb-dump' command 'PRE-DLE-BACKUP': mariadb-dump: Got error: 2002: "
          "\"Can't connect to local server through socket '/run/mysqld/mysqld.sock' (2)\" when trying to connect ]  \n"
          "2026-12-04 14:06:27 db1.lab.smbvdc.test /var/backups/mariadb  0 lab lab  0 -1/-1 FAILED (chunker) "
          "[it's OK ]\n")


def test_failed_lines_with_messages(plugin):
    dumps = plugin.parse_find(FIND + FAILED, HOST)
    assert dumps["/var/backups/mariadb"][1:] == [(datetime.datetime(2026, 12, 4, 14, 6, 26), "FAILED"),
                                                 (datetime.datetime(2026, 12, 4, 14, 6, 27), "FAILED")]


def test_amadmin_error_is_unknown(plugin, capsys):
    assert plugin.main(["lab", HOST, "26", "50"], run=fake_run("", rc=1), now=NOW) == 3
    assert "no such config" in capsys.readouterr().out


@pytest.mark.parametrize("args", [["lab", HOST, "26"], ["lab", "db1;id", "26", "50"], ["-o", HOST, "26", "50"],
                                  ["lab", HOST, "x", "50"], ["lab", HOST, "50", "26"]])
def test_bad_arguments_are_unknown(plugin, capsys, args):
    calls = []
    assert plugin.main(args, run=fake_run(FIND, calls=calls), now=NOW) == 3
    assert calls == [] and capsys.readouterr().out.startswith("UNKNOWN")


def test_runs_amadmin_as_the_amanda_user(plugin):
    cmd = ["/usr/sbin/amadmin", "lab", "find", HOST]
    assert plugin.amadmin_argv("lab", HOST, euid=0) == ["runuser", "-u", "backup", "--"] + cmd
    assert plugin.amadmin_argv("lab", HOST, euid=4242, user="root") == ["sudo", "-n", "-u", "root"] + cmd
    assert plugin.amadmin_argv("lab", HOST, euid=0, user="root") == cmd
