# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smbvdc.datacenter developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: vm_domain_info
short_description: The values of a libvirt domain XML the vm role compares
version_added: 0.1.0
description:
  - Parses a domain definition (C(virsh dumpxml), C(community.libvirt.virt command=get_xml)) into
    the few values the C(smbvdc.datacenter.vm) role and its tests use.
options:
  _input:
    description: The domain XML.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: The files of a domain
  ansible.builtin.debug:
    msg: "{{ (domain.get_xml | smbvdc.datacenter.vm_domain_info).disks | map(attribute='file') | list }}"
"""

RETURN = r"""
_value:
  description:
    - C(name), C(title), C(type) (kvm/qemu), C(memory_mb), C(current_memory_mb), C(vcpus), C(vcpus_current),
      C(kernel), C(initrd), C(cmdline), C(tb_cache_mb), C(disks) (C(device), C(file), C(target), C(bus),
      C(format), C(readonly), C(serial)), C(interfaces) (C(type), C(network), C(bridge), C(mac), C(model)) and
      C(smbvdc) (true when the domain carries the collection's metadata) and C(metadata) (that metadata,
      with C(branch), C(name), C(fqdn), C(network), C(ipv4), C(ipv6), C(groups), and C(data_disks) when the
      VM has data disks).
  type: dict
"""

from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import vmconfig
from ansible_collections.smbvdc.datacenter.plugins.plugin_utils.filters import filter_module, smbvdc_filter


@smbvdc_filter
def vm_domain_info(xml):
    return vmconfig.parse_domain_xml(str(xml))


FilterModule = filter_module(vm_domain_info)
