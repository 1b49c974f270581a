# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smbvdc.datacenter developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Unit tests for the action plugin smbvdc.datacenter.packages_present: when does
ansible.builtin.apt run, and what is returned when it does not. The host is a
fake (a recorded dpkg-query answer); the real module runs in every molecule
scenario and on the lab."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.smbvdc.datacenter.plugins.action import packages_present as pp

# what dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' prints
DPKG = "ii  nsd\nii  bind9-dnsutils\nrc  postfix\niU  dovecot-core\nhi  nagios4\n"


def test_installed_reads_the_status_abbreviation():
    # ii installed, hi installed and held; rc removed (config left), iU unpacked only
    assert pp.installed(DPKG) == {"nsd", "bind9-dnsutils", "nagios4"}
    assert pp.installed("iF  half-configured\nii  \n") == set()


@pytest.mark.parametrize("args, expected", [
    ({"name": "nsd"}, ["nsd"]),
    ({"name": "nsd, bind9-dnsutils"}, ["nsd", "bind9-dnsutils"]),
    ({"pkg": ["a", " b "]}, ["a", "b"]),
    ({"package": []}, []),
    ({}, []),
])
def test_package_names(args, expected):
    assert pp.package_names(args) == expected


@pytest.mark.parametrize("args, fast", [
    ({"name": ["nsd"], "state": "present", "cache_valid_time": 3600}, True),
    ({"name": ["nsd"], "install_recommends": False}, True),
    ({"name": ["nsd"], "update_cache": True, "cache_valid_time": 3600}, True),
    # an explicit update on every run is apt's job
    ({"name": ["nsd"], "update_cache": True}, False),
    ({"name": ["nsd"], "state": "latest"}, False),
    ({"name": ["nsd"], "state": "absent"}, False),
    ({"name": ["nsd=4.6.1-1"]}, False),
    ({"name": ["libc6:i386"]}, False),
    ({"name": ["nagios*"]}, False),
    ({"name": ["nsd"], "default_release": "bookworm-backports"}, False),
    ({"name": ["nsd"], "upgrade": "dist"}, False),
    ({"deb": "/tmp/x.deb"}, False),
    # a misspelt option is apt's to reject, never silently accepted
    ({"name": ["nsd"], "instal_recommends": False}, False),
    ({"update_cache": True}, False),
])
def test_fast_path_applies(args, fast):
    assert pp.fast_path_applies(args) is fast


class _Task:
    def __init__(self, args):
        self.args = args
        self.async_val = 0
        self.check_mode = False
        self.environment = None


class _Action(pp.ActionModule):
    """The plugin with the host replaced by a recorded dpkg answer and apt by a recorder."""

    def __init__(self, args, dpkg_rc=0, dpkg_out=DPKG):
        self._task = _Task(args)
        self.dpkg = (dpkg_rc, dpkg_out)
        self.commands, self.apt_calls = [], []

    def _low_level_execute_command(self, cmd, **kwargs):
        self.commands.append(cmd)
        return {"rc": self.dpkg[0], "stdout": self.dpkg[1], "stderr": ""}

    def _execute_module(self, module_name=None, module_args=None, task_vars=None, **kwargs):
        self.apt_calls.append((module_name, dict(module_args)))
        return {"changed": True, "msg": "apt ran"}


@pytest.fixture(autouse=True)
def _no_base_run(monkeypatch):
    # ActionBase.run checks the task's attributes against a real connection
    monkeypatch.setattr(pp.ActionBase, "run", lambda self, tmp=None, task_vars=None: {})


def test_all_installed_apt_does_not_run():
    act = _Action({"name": ["nsd", "nagios4"], "state": "present", "cache_valid_time": 3600})
    res = act.run(task_vars={})
    assert act.apt_calls == []
    assert res["changed"] is False and res["packages"] == ["nagios4", "nsd"]
    assert len(act.commands) == 1 and act.commands[0].startswith("dpkg-query -W ")
    assert act.commands[0].endswith("-- nsd nagios4")


def test_one_missing_apt_runs_with_the_task_arguments_unchanged():
    args = {"name": ["nsd", "postfix"], "state": "present", "cache_valid_time": 3600, "install_recommends": False}
    act = _Action(dict(args))
    res = act.run(task_vars={})
    assert act.apt_calls == [("ansible.builtin.apt", args)]
    assert res == {"changed": True, "msg": "apt ran"}


def test_unknown_name_dpkg_rc_1_apt_decides():
    # dpkg-query exits 1 for a name it does not know (a virtual package, say),
    # even when it lists the others
    act = _Action({"name": ["nsd", "mail-transport-agent"]}, dpkg_rc=1, dpkg_out="ii  nsd\n")
    act.run(task_vars={})
    assert [c[0] for c in act.apt_calls] == ["ansible.builtin.apt"]


def test_not_fast_no_dpkg_query_at_all():
    act = _Action({"name": ["nsd"], "state": "latest"})
    act.run(task_vars={})
    assert act.commands == [] and len(act.apt_calls) == 1


def test_the_query_is_exactly_one_dpkg_query():
    act = _Action({"name": ["g++", "libc6"]}, dpkg_out="ii  g++\nii  libc6\n")
    act.run(task_vars={})
    assert act.commands == ["dpkg-query -W -f='${db:Status-Abbrev} ${Package}\\n' -- g++ libc6"]
    assert act.apt_calls == []
