# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smbvdc.datacenter developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: branch_model
short_description: Validate and normalise a branch office's inventory into the branch model
version_added: 0.1.0
description:
  - Reads C(smbvdc_branch) (domain, sites, networks, budget settings) and the
    inventory's C(kvm_hosts), C(vms) and service groups, validates everything,
    places the VMs on the KVM hosts and plans every address.
  - Every problem is reported at once, each naming the variable and the fix.
  - The schema is documented in C(docs/branch-model.md).
options:
  _input:
    description: The C(smbvdc_branch) mapping.
    type: dict
    required: true
  groups:
    description: Ansible's C(groups) (group name to list of hosts).
    type: dict
    required: true
  hostvars:
    description: Ansible's C(hostvars); only C(kvm_*), C(vm_*) and C(ansible_host) are read.
    type: dict
    required: true
  current:
    description:
      - "Where each VM is defined now: a mapping of KVM host to the list of VM names defined there (set by
        C(playbooks/placement.yml) from M(smbvdc.datacenter.kvm_host_info))."
      - Those VMs stay on their host; only new VMs are placed. A VM defined on two hosts, or pinned with
        C(vm_host) to another host than its own, fails naming the hosts.
      - Leave it out to plan from the inventory alone.
    type: dict
  addresses:
    description:
      - "The addresses the defined VMs were built with: a mapping of VM name to C({network, ipv4, ipv6})
        (set by C(playbooks/placement.yml) from the domains' metadata)."
      - A VM without C(vm_address) keeps its address, so adding a VM never renumbers a running one.
    type: dict
"""

EXAMPLES = r"""
- name: Build the branch model
  ansible.builtin.set_fact:
    smbvdc_model: "{{ smbvdc_branch | smbvdc.datacenter.branch_model(groups, hostvars) }}"
"""

RETURN = r"""
_value:
  description: >-
    The branch model: C(name), C(domain), C(mail_domains), C(sites), C(networks)
    (with gateways and reverse zones), C(kvm_hosts), C(vms) (with C(kvm_host),
    C(ipv4), C(ipv6), C(fqdn)), C(external_hosts), C(services), C(placement),
    C(budgets) and C(warnings).
  type: dict
"""

from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import model as model_mod
from ansible_collections.smbvdc.datacenter.plugins.plugin_utils.filters import filter_module, smbvdc_filter


@smbvdc_filter
def branch_model(branch, groups, hostvars, current=None, addresses=None):
    return model_mod.build_model(branch, {"groups": groups, "hostvars": hostvars}, current=current,
                                 addresses=addresses)


FilterModule = filter_module(branch_model)
