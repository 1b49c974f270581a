# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smbvdc.datacenter developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: vm_pending_changes
short_description: What a running VM lacks of its definition (RAM, vCPUs)
version_added: 0.1.0
description:
  - Compares the VM of the branch model with its running domain as
    C(community.libvirt.virt command=info) reports it.
  - RAM at or below the running maximum can be applied live through the balloon
    (C(live_memory_mb)); more RAM, or other vCPUs, need a restart (C(restart_needed)).
  - A domain that is not running has nothing pending: its saved definition applies at the next start.
options:
  _input:
    description: One VM of the branch model, C(smbvdc_model.vms[<name>]).
    type: dict
    required: true
  live:
    description: The domain's entry of C(virt command=info) (C(state), C(maxMem), C(memory) in KiB, C(nrVirtCpu)); null when undefined.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Compare the running VM with its definition
  ansible.builtin.set_fact:
    pending: "{{ smbvdc_model.vms['ns1'] | smbvdc.datacenter.vm_pending_changes(virt_info['ns1'] | default(none)) }}"
"""

RETURN = r"""
_value:
  description:
    - C(name), C(state), C(memory) (C(want), C(live), C(live_max) in MiB), C(vcpus) (C(want), C(live)),
      C(live_memory_mb) (MiB to set live, or null), C(restart_needed) (bool), C(changes) (list of text)
      and C(message).
  type: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import vmconfig
from ansible_collections.smbvdc.datacenter.plugins.plugin_utils.errors import ModelError


def vm_pending_changes(vm, live, options=None):
    try:
        return vmconfig.pending_changes(vm, live, options)
    except ModelError as exc:
        raise AnsibleFilterError("smbvdc.datacenter.vm_pending_changes: %s" % exc)


class FilterModule(object):
    def filters(self):
        return {"vm_pending_changes": vm_pending_changes}
