# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smbvdc.datacenter developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: report_html
short_description: The branch report as one self-contained HTML page
version_added: 0.1.0
description:
  - A topology picture of the branch (graphviz, inline SVG) with the KVM hosts, the VMs on them (RAM,
    addresses, services), the networks, the redundancy pairs (anti-affinity groups) and site links when
    the model has them.
  - The capacity tables (y, y_os, y_a, each VM's demand, how many more VMs of O(vm_size_mb) fit),
    the same figures as P(smbvdc.datacenter.capacity_report#filter).
  - The last status results, or "no status run recorded".
  - No script, style sheet, image or font is linked; every text is escaped; no secret is shown.
requirements:
  - graphviz (Python package, PyPI)
  - the graphviz C(dot) program (Debian package C(graphviz))
options:
  _input:
    description: A branch model from P(smbvdc.datacenter.branch_model#filter).
    type: dict
    required: true
  status:
    description:
      - "The last status results, JSON text or a list, one entry per check:
        C(check) (str), C(host) (str), C(ok) (bool), C(detail) (str), C(time) (str, ISO 8601)."
      - V(null) when no status run is recorded.
    type: raw
  status_file:
    description: The status file's name, shown on the page.
    type: str
    default: status.json
  vm_size_mb:
    description: VM size for the "how many more fit" column.
    type: int
    default: 1024
"""

EXAMPLES = r"""
- name: Write the branch report
  ansible.builtin.copy:
    content: "{{ smbvdc_model | smbvdc.datacenter.report_html(status=none) }}"
    dest: build/report/lab/index.html
    mode: "0644"
"""

RETURN = r"""
_value:
  description: The HTML document (also well-formed XML).
  type: str
"""

from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import report_html as page
from ansible_collections.smbvdc.datacenter.plugins.plugin_utils.filters import filter_module, smbvdc_filter


@smbvdc_filter(needs=("kvm_hosts", "vms", "networks"))
def report_html(model, status=None, status_file="status.json", vm_size_mb=1024):
    try:
        size = int(vm_size_mb)
    except (TypeError, ValueError):
        size = 0
    if size <= 0:
        raise ValueError("vm_size_mb must be a positive integer, got %r" % (vm_size_mb,))
    return page.render(model, status=status, vm_size_mb=size, status_file=str(status_file))


FilterModule = filter_module(report_html)
