#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smbvdc.datacenter developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Documentation only: the work is done by the action plugin plugins/action/packages_present.py,
# which runs dpkg-query and then, only when needed, ansible.builtin.apt.

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: packages_present
short_description: ansible.builtin.apt that first asks dpkg whether there is anything to do
version_added: 0.3.0
description:
  - Takes the arguments of M(ansible.builtin.apt). When the task only asks for plain package names to be
    present and dpkg lists every one of them as installed, the module returns V(changed=false) after one
    C(dpkg-query) and M(ansible.builtin.apt) does not run.
  - Otherwise (a package is missing, a virtual package, a version or release, C(deb), C(upgrade), C(purge),
    C(update_cache) without C(cache_valid_time), any other option) M(ansible.builtin.apt) runs with the task's
    arguments unchanged, and its result is returned.
  - "Why: M(ansible.builtin.apt) opens python-apt's cache on every call. On hosts under QEMU emulation that took
    15-120 s per task and host and was the largest part of a no-change run (bench/rerun.py, docs/performance.md)."
  - With O(cache_valid_time) and every package installed the indexes are not refreshed; they are refreshed the
    next time a package is missing and M(ansible.builtin.apt) runs. Security updates are the job of
    unattended-upgrades (role common).
author:
  - smbvdc.datacenter developers (@smbvdc)
extends_documentation_fragment: []
options:
  name:
    description: Package names, as for M(ansible.builtin.apt). Aliases C(pkg) and C(package).
    type: list
    elements: str
    aliases: [pkg, package]
  state:
    description: As for M(ansible.builtin.apt); only V(present) (or V(installed)) takes the quick path.
    type: str
    default: present
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
notes:
  - Every other option of M(ansible.builtin.apt) is accepted and passed on.
seealso:
  - module: ansible.builtin.apt
"""

EXAMPLES = r"""
- name: Install NSD
  smbvdc.datacenter.packages_present:
    name: nsd
    state: present
    cache_valid_time: 3600
"""

RETURN = r"""
packages:
  description: The package names dpkg listed as installed, when apt did not run.
  returned: when every package was installed
  type: list
  elements: str
msg:
  description: What happened; when apt ran, its own return values are returned instead.
  returned: always
  type: str
"""
