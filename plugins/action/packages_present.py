# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smbvdc.datacenter developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ansible.builtin.apt, asked first whether there is anything to do (documentation:
plugins/modules/packages_present.py).

Written by hand because no kept collection has it: ansible.builtin.apt opens
python-apt's cache (and with cache_valid_time may refresh the indexes) on
every call, even when every package is installed. Under QEMU emulation that
costs 15-120 s per task and host; it was the largest part of a no-change
site.yml run (bench/rerun.py). One dpkg-query answers the question in a
fraction of that; only when a package is missing (or the arguments ask for
more than "installed") does the real apt module run, with the task's own
arguments unchanged.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re
import shlex

from ansible.module_utils.six import string_types
from ansible.plugins.action import ActionBase

# A plain Debian package name (Policy 5.6.1): no version, no release, no
# architecture, no wildcard. Anything else goes to apt as it is.
PLAIN = re.compile(r"^[a-z0-9][a-z0-9+.-]+$")
# The arguments under which "every named package is installed" is the whole
# answer; with any other (deb, upgrade, purge, default_release, a misspelt
# one, ...) apt runs and decides, and validates them.
FAST_OK = {"name", "pkg", "package", "state", "install_recommends", "cache_valid_time", "update_cache",
           "update_cache_retries", "update_cache_retry_max_delay", "lock_timeout", "policy_rc_d"}
QUERY = "dpkg-query -W -f='${db:Status-Abbrev} ${Package}\\n' -- "


def package_names(args):
    """The task's package list (name, pkg or package; a list or a comma-separated string)."""
    names = args.get("name", args.get("pkg", args.get("package")))
    if names is None:
        return []
    if isinstance(names, string_types):
        names = names.split(",")
    return [str(n).strip() for n in names if str(n).strip()]


def installed(dpkg_output):
    """Names dpkg lists as installed: status abbreviation with 'i' as the current state and no error flag."""
    out = set()
    for line in dpkg_output.splitlines():
        # "ii  name", "hi  name": desired, current, error flag, then the name
        if len(line) < 5 or line[3] != " ":
            continue
        if line[1] == "i" and line[2] == " ":
            out.add(line[4:].strip())
    return out


def fast_path_applies(args):
    """Whether the task only asks for plain packages to be installed."""
    names = package_names(args)
    # update_cache without cache_valid_time asks for fresh indexes on every
    # run: apt does that. With cache_valid_time the indexes are refreshed the
    # next time a package is missing and apt runs.
    explicit_update = args.get("update_cache") not in (None, False, "no", "false", "False") \
        and args.get("cache_valid_time") is None
    return (bool(names) and args.get("state", "present") in ("present", "installed")
            and all(PLAIN.match(n) for n in names) and set(args) <= FAST_OK and not explicit_update)


class ActionModule(ActionBase):
    """Run dpkg-query on the host; run ansible.builtin.apt only when a package is missing."""

    TRANSFERS_FILES = False
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        args = dict(self._task.args)
        if fast_path_applies(args):
            names = package_names(args)
            res = self._low_level_execute_command(QUERY + " ".join(shlex.quote(n) for n in names))
            # rc 1: a name dpkg does not know (not installed, or a virtual package): apt decides
            if res.get("rc") == 0 and set(names) <= installed(res.get("stdout", "")):
                result.update(changed=False, packages=sorted(names),
                              msg="all %d packages are installed (dpkg-query); apt did not run" % len(names))
                return result
        result.update(self._execute_module(module_name="ansible.builtin.apt", module_args=args,
                                           task_vars=task_vars))
        return result
