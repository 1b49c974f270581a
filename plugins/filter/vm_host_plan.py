# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smbvdc.datacenter developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: vm_host_plan
short_description: Everything the vm role needs for one KVM host - definitions, disks, seeds, states, SSH access
version_added: 0.3.0
description:
  - One call per KVM host. It turns the branch model into, per VM placed on that host, the libvirt domain XML,
    the system disk (path, base image, size), the data disks of C(vm_data_disks) (path, size), the NoCloud
    seed files, the wanted state, and how the plays after the vm role reach the VM.
  - The model is validated once, by C(smbvdc.datacenter.branch_model). This filter checks only what the KVM
    host's facts can tell (the C(kvm_host_*) facts of the C(smbvdc.datacenter.kvm_host) role).
options:
  _input:
    description: The branch model.
    type: dict
    required: true
  host:
    description: The KVM host (inventory name).
    type: str
    required: true
  facts:
    description:
      - The kvm_host role's facts without their C(kvm_host_) prefix. These are C(virt_type), C(base_image),
        C(kernel), C(initrd), C(pool_path), C(tcg_tb_cache_mb), C(kernel_cmdline) and C(apt_proxy_urls).
    type: dict
    required: true
  options:
    description: The role's options (see C(plugins/plugin_utils/vmplan.py) OPTION_DEFAULTS).
    type: dict
"""

EXAMPLES = r"""
- name: Plan the VMs of this KVM host
  ansible.builtin.set_fact:
    __vm_plan: "{{ smbvdc_model | smbvdc.datacenter.vm_host_plan(inventory_hostname, facts, options) }}"
"""

RETURN = r"""
_value:
  description: >-
    C(names), C(build) and C(undefine) (VM names), C(domains) (per VM C(domain), C(state), C(xml), C(disk),
    C(data_disks), C(seed_iso), C(seed_dir) and C(ipv4)), C(seed_files) (C(name), C(dir), C(path), C(content))
    and C(ready) (per VM the add_host arguments).
  type: dict
"""

from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import vmplan
from ansible_collections.smbvdc.datacenter.plugins.plugin_utils.filters import filter_module, smbvdc_filter


@smbvdc_filter(needs=("kvm_hosts", "vms", "networks"))
def vm_host_plan(model, host, facts, options=None):
    return vmplan.host_plan(model, str(host), facts, options)


FilterModule = filter_module(vm_host_plan)
