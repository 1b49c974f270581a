# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smbvdc.datacenter developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: vm_domain_xml
short_description: The libvirt domain XML of one VM of the branch model
version_added: 0.1.0
description:
  - Builds the domain definition the C(smbvdc.datacenter.vm) role passes to
    C(community.libvirt.virt command=define).
  - Direct kernel boot (C(root=LABEL=root), serial console), the VM's linked-clone
    qcow2 as C(vda), the NoCloud seed as a read-only virtio disk C(vdb) (the cloud
    kernel has no AHCI for a CD-ROM), the VM's C(data_disks) from C(vdc) on (each
    C(<pool_path>/<domain>-<name>.qcow2) with the serial C(smbvdc-<name>)), one virtio
    NIC with a stable MAC on the libvirt network C(smbvdc-<network>) (nat/isolated) or the bridge (bridge mode),
    virtio RNG and balloon.
  - Domain type C(kvm) or C(qemu) from the KVM host's facts; under C(qemu) (software
    emulation) the TCG translation cache is limited to O(host.tcg_tb_cache_mb) MiB.
  - Errors name the variable the bad value came from.
options:
  _input:
    description: One VM of the branch model, C(smbvdc_model.vms[<name>]).
    type: dict
    required: true
  network:
    description: The VM's network, C(smbvdc_model.networks[vm.network]).
    type: dict
    required: true
  host:
    description:
      - The KVM host's facts from the C(kvm_host) role.
      - C(virt_type) (C(kvm_host_virt_type)), C(kernel) (C(kvm_host_kernel)), C(initrd)
        (C(kvm_host_initrd)), C(pool_path) (C(kvm_host_pool_path)) and C(tcg_tb_cache_mb)
        (C(kvm_host_tcg_tb_cache_mb), null for none).
    type: dict
    required: true
  options:
    description:
      - C(name_prefix) (domain name prefix, default none), C(network_prefix) (default C(smbvdc-)),
        C(machine) (default C(pc)), C(cmdline) (the base kernel command line, default
        C(root=LABEL=root ro console=ttyS0,115200n8 net.ifnames=0)), C(cmdline_extra), C(cpu_mode) (under kvm, default
        C(host-passthrough)), C(disk_path), C(seed_path), C(console_log_dir), C(branch).
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: Define the VM
  community.libvirt.virt:
    command: define
    xml: >-
      {{ smbvdc_model.vms['ns1'] | smbvdc.datacenter.vm_domain_xml(
           smbvdc_model.networks[smbvdc_model.vms['ns1'].network],
           {'virt_type': kvm_host_virt_type, 'kernel': kvm_host_kernel, 'initrd': kvm_host_initrd,
            'pool_path': kvm_host_pool_path, 'tcg_tb_cache_mb': kvm_host_tcg_tb_cache_mb},
           {'branch': smbvdc_model.name}) }}
"""

RETURN = r"""
_value:
  description: The domain XML.
  type: str
"""

from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import vmconfig
from ansible_collections.smbvdc.datacenter.plugins.plugin_utils.filters import filter_module, smbvdc_filter


@smbvdc_filter
def vm_domain_xml(vm, network, host, options=None):
    return vmconfig.domain_xml(vm, network, host, options)


FilterModule = filter_module(vm_domain_xml)
