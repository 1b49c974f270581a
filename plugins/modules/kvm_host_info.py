#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smbvdc.datacenter developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: kvm_host_info
short_description: Capacity and virtualization facts of a KVM host, read through libvirt
version_added: 0.1.0
description:
  - Reads the real capacity of a KVM/libvirt host, that is memory, CPU topology, hardware
    virtualization support, KSM state, defined domains and storage pools.
  - The memory-budget checks of the C(smbvdc.datacenter.kvm_host) and
    C(smbvdc.datacenter.vm) roles compare the branch model against these facts.
  - Read-only; never changes the host. Runs unchanged in check mode.
  - Virtualization support is reported as raw facts (hardware virtualization CPU flags, presence of
    C(/dev/kvm), whether libvirt offers domain type C(kvm)). None of them proves that a
    stock guest can boot with KVM acceleration (for example a paravirtual-only C(/dev/kvm));
    the C(smbvdc.datacenter.kvm_host) role runs a boot probe for that.
  - Local files (C(/proc/cpuinfo), C(/dev/kvm), C(/sys/kernel/mm/ksm)) are only read when
    O(uri) addresses the local host; for remote URIs those facts are V(null) or come from
    the libvirt capabilities alone.
author:
  - smbvdc.datacenter developers (@smbvdc)
requirements:
  - libvirt-python
  - a running libvirt daemon (C(libvirtd) or the modular C(virtqemud))
options:
  uri:
    description:
      - libvirt connection URI.
      - The module opens it read-write (needed for domain capabilities) and falls back
        to a read-only connection when that is refused.
    type: str
    default: qemu:///system
attributes:
  check_mode:
    support: full
    description: The module only reads; check mode returns the same data.
  diff_mode:
    support: none
    description: Nothing is changed, so there is no diff.
notes:
  - Sizes in MiB are integers (rounded down); pool sizes are given in bytes and in GiB
    (rounded to two decimals).
  - RV(kvm_host.memory_total_mb) comes from the node memory statistics (the kernel's
    MemTotal). RV(kvm_host.memory_numa_mb) is what C(virNodeGetInfo) reports, which only
    counts memory assigned to NUMA nodes and can be lower on some virtual machines.
seealso:
  - module: community.libvirt.virt
  - module: community.libvirt.virt_pool
"""

EXAMPLES = r"""
- name: Read the capacity of this KVM host
  smbvdc.datacenter.kvm_host_info:
  register: __kvm_host_info

- name: Refuse to over-commit host memory
  ansible.builtin.assert:
    that:
      - __kvm_host_info.kvm_host.allocated_memory_mb + 2048 <= __kvm_host_info.kvm_host.memory_total_mb
    fail_msg: >-
      {{ __kvm_host_info.kvm_host.hostname }} has {{ __kvm_host_info.kvm_host.memory_total_mb }} MiB,
      its domains may use {{ __kvm_host_info.kvm_host.allocated_memory_mb }} MiB: move a VM to another host.

- name: Use software emulation where KVM is not usable
  ansible.builtin.set_fact:
    __vm_domain_type: "{{ 'kvm' if (__kvm_host_info.kvm_host.kvm_device and __kvm_host_info.kvm_host.hw_virt_flags) else 'qemu' }}"

- name: Query a remote host over SSH
  smbvdc.datacenter.kvm_host_info:
    uri: qemu+ssh://root@kvm2.branch.example/system
  delegate_to: localhost
  register: __kvm2_info
"""

RETURN = r"""
kvm_host:
  description: Facts about the libvirt host behind O(uri).
  returned: success
  type: dict
  contains:
    uri:
      description: The URI that was queried.
      type: str
      sample: qemu:///system
    hostname:
      description: Host name reported by libvirt.
      type: str
      sample: kvm1
    read_only_connection:
      description: Whether libvirt refused a read-write connection and a read-only one was used.
      type: bool
      sample: false
    local:
      description: Whether O(uri) addresses the host the module runs on (local files were read).
      type: bool
      sample: true
    hypervisor:
      description: libvirt driver name.
      type: str
      sample: QEMU
    hypervisor_version:
      description: Version of the hypervisor (QEMU).
      type: str
      sample: 7.2.0
    libvirt_version:
      description: Version of the libvirt daemon.
      type: str
      sample: 9.0.0
    memory_total_mb:
      description: Total host memory in MiB (the kernel's MemTotal).
      type: int
      sample: 64298
    memory_free_mb:
      description: Free host memory in MiB.
      type: int
      sample: 50112
    memory_available_mb:
      description: Free plus buffers and page cache in MiB, a rough measure of memory available for new guests.
      type: int
      sample: 61003
    memory_numa_mb:
      description: Memory in MiB as reported by C(virNodeGetInfo) (sum of the NUMA nodes).
      type: int
      sample: 64298
    allocated_memory_mb:
      description: Sum of the maximum memory of all defined domains (running or not), in MiB.
      type: int
      sample: 12288
    running_memory_mb:
      description: Sum of the current memory of the running domains, in MiB.
      type: int
      sample: 4096
    cpus:
      description: Number of active logical CPUs.
      type: int
      sample: 16
    cpu_sockets:
      description: Number of CPU sockets (over all NUMA nodes).
      type: int
      sample: 1
    cpu_cores:
      description: Number of physical cores (sockets times cores per socket).
      type: int
      sample: 8
    cpu_cores_per_socket:
      description: Cores per socket.
      type: int
      sample: 8
    cpu_threads_per_core:
      description: Hardware threads per core.
      type: int
      sample: 2
    numa_nodes:
      description: Number of NUMA nodes.
      type: int
      sample: 1
    cpu_mhz:
      description: CPU frequency in MHz.
      type: int
      sample: 2596
    cpu_arch:
      description: Host CPU architecture.
      type: str
      sample: x86_64
    cpu_model:
      description: libvirt's name for the host CPU model (from the capabilities XML).
      type: str
      sample: EPYC-Rome
    cpu_model_name:
      description: C(model name) from C(/proc/cpuinfo); V(null) for remote URIs.
      type: str
      sample: AMD EPYC 7302P 16-Core Processor
    cpu_vendor:
      description: CPU vendor from the capabilities XML.
      type: str
      sample: AMD
    hw_virt_flags:
      description:
        - Hardware virtualization CPU flags found (C(vmx) for Intel VT-x, C(svm) for AMD-V),
          from the capabilities XML and, for local URIs, C(/proc/cpuinfo).
        - Empty when the host CPU offers none (for example inside a VM without nested virtualization).
      type: list
      elements: str
      sample: [svm]
    kvm_device:
      description: Whether C(/dev/kvm) exists; V(null) for remote URIs.
      type: bool
      sample: true
    guest_domain_types:
      description: Domain types libvirt offers for the host architecture (capabilities XML).
      type: list
      elements: str
      sample: [kvm, qemu]
    libvirt_kvm_domain_type:
      description:
        - Whether libvirt reports domain type C(kvm) as usable for the host architecture
          (domain capabilities, or the capabilities XML on a read-only connection).
        - This does not prove that guests boot under KVM; see the module description.
      type: bool
      sample: true
    ksm:
      description: Kernel samepage merging state; V(null) when the kernel has no KSM or the URI is remote.
      type: dict
      contains:
        run:
          description: Content of C(/sys/kernel/mm/ksm/run) (0 stopped, 1 running, 2 unmerging).
          type: int
          sample: 1
        enabled:
          description: Whether KSM is running (C(run == 1)).
          type: bool
          sample: true
        pages_shared:
          description: Number of shared pages in use.
          type: int
          sample: 1200
        pages_sharing:
          description: Number of additional sites sharing those pages (pages saved).
          type: int
          sample: 30000
        saved_mb:
          description: Memory saved by KSM in MiB (pages_sharing times the page size).
          type: int
          sample: 117
    domains:
      description: All defined domains (persistent and transient), sorted by name.
      type: list
      elements: dict
      contains:
        name:
          description: Domain name.
          type: str
          sample: mail1
        uuid:
          description: Domain UUID.
          type: str
          sample: 1b5b1f55-59a4-4b5b-9e51-5ad8a0e1bde5
        id:
          description: Domain ID while running, otherwise V(null).
          type: int
          sample: 3
        type:
          description: Domain type from its XML (V(kvm) or V(qemu)).
          type: str
          sample: kvm
        state:
          description: >-
            Domain state: V(nostate), V(running), V(blocked), V(paused), V(shutdown),
            V(shutoff), V(crashed) or V(pmsuspended).
          type: str
          sample: running
        active:
          description: Whether the domain is running.
          type: bool
          sample: true
        persistent:
          description: Whether the domain is defined persistently.
          type: bool
          sample: true
        autostart:
          description: Whether the domain starts with the host.
          type: bool
          sample: true
        memory_mb:
          description: Current memory in MiB.
          type: int
          sample: 1024
        max_memory_mb:
          description: Maximum memory in MiB.
          type: int
          sample: 1024
        vcpus:
          description: Number of virtual CPUs.
          type: int
          sample: 1
        smbvdc:
          description:
            - What the vm role recorded in the domain's C(<metadata>) (branch, name, fqdn, network,
              ipv4, ipv6, groups, and data_disks, the names of its data disks, when it has some); empty for
              domains the collection did not define.
            - The placement keeps a defined VM's addresses from here, so adding a VM never renumbers others.
          type: dict
          sample: {"branch": "lab", "name": "mail1", "network": "lan", "ipv4": "10.77.10.10", "ipv6": "fd00:77:10::a"}
    storage_pools:
      description: All storage pools, sorted by name. Sizes are 0 while a pool is inactive.
      type: list
      elements: dict
      contains:
        name:
          description: Pool name.
          type: str
          sample: default
        uuid:
          description: Pool UUID.
          type: str
          sample: 0d8ad1c3-8c1b-4cbd-a5b8-4d3c2d1e9a77
        type:
          description: Pool type (V(dir), V(logical), V(netfs), ...).
          type: str
          sample: dir
        path:
          description: Target path of the pool.
          type: str
          sample: /var/lib/libvirt/images
        state:
          description: Pool state (V(inactive), V(building), V(running), V(degraded), V(inaccessible)).
          type: str
          sample: running
        active:
          description: Whether the pool is active.
          type: bool
          sample: true
        persistent:
          description: Whether the pool is defined persistently.
          type: bool
          sample: true
        autostart:
          description: Whether the pool starts with the host.
          type: bool
          sample: true
        capacity_bytes:
          description: Capacity in bytes.
          type: int
          sample: 105089261568
        allocation_bytes:
          description: Allocated bytes.
          type: int
          sample: 21474836480
        available_bytes:
          description: Available bytes.
          type: int
          sample: 83614425088
        capacity_gb:
          description: Capacity in GiB.
          type: float
          sample: 97.87
        allocation_gb:
          description: Allocation in GiB.
          type: float
          sample: 20.0
        available_gb:
          description: Available space in GiB.
          type: float
          sample: 77.87
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.smbvdc.datacenter.plugins.module_utils import libvirt_info


def main():
    module = AnsibleModule(
        argument_spec=dict(
            uri=dict(type="str", default="qemu:///system"),
        ),
        supports_check_mode=True,
    )

    if not libvirt_info.HAS_LIBVIRT:
        module.fail_json(
            msg=missing_required_lib("libvirt-python"),
            exception=libvirt_info.LIBVIRT_IMPORT_ERROR,
        )

    uri = module.params["uri"]
    try:
        conn, read_only = libvirt_info.connect(uri)
    except libvirt_info.LibvirtConnectError as exc:
        module.fail_json(
            msg=(
                "Cannot connect to libvirt at %s: %s. Is the libvirt daemon running? "
                "Start it with 'systemctl start libvirtd' (or scripts/start-libvirtd.sh "
                "on hosts without systemd) and check that this user may use the URI."
            ) % (uri, exc),
            uri=uri,
        )

    try:
        facts = libvirt_info.host_facts(conn, uri)
    except libvirt_info.libvirt.libvirtError as exc:
        module.fail_json(msg="Reading host facts from libvirt at %s failed: %s" % (uri, exc), uri=uri)
    finally:
        try:
            conn.close()
        except Exception:  # pylint: disable=broad-except
            pass

    facts["read_only_connection"] = read_only
    module.exit_json(changed=False, kvm_host=facts)


if __name__ == "__main__":
    main()
