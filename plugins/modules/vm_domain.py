#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smbvdc.datacenter developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: vm_domain
short_description: Converge one libvirt domain to the branch model - disks, definition, live RAM, state, snapshots
version_added: 0.3.0
description:
  - Converges one domain of a KVM host and returns what it changed. It does the following, in order.
  - Creates the system disk as a linked qcow2 clone of the base image when it is missing (O(disk)).
    An existing disk is never touched.
  - Creates each missing data disk (O(data_disks)) as an empty qcow2. An existing data disk is never
    recreated, resized or shrunk; one smaller than asked is reported as a warning.
  - Defines the domain when its definition differs from O(xml), and points C(<kernel>)/C(<initrd>) at
    the files beside the image the disk was cloned from.
  - Sets autostart.
  - Applies lower RAM to a running domain live (balloon). More RAM than the running maximum, other vCPUs,
    or disks added to or left out of the definition (never hot-plugged) need a restart, done only with
    O(restart_on_change) and otherwise reported in RV(pending).
  - Takes, reverts or deletes a snapshot.
  - Brings the domain to O(state).
  - With O(command), runs one reboot, reset or restart.
  - Check mode reports every step without doing it. Diff mode returns the definition before and after.
author:
  - smbvdc.datacenter developers (@smbvdc)
requirements:
  - libvirt-python on the KVM host
  - qemu-img on the KVM host (to create a missing disk and to read the size of an existing data disk)
options:
  name:
    description: Domain name.
    type: str
    required: true
  uri:
    description: libvirt connection URI.
    type: str
    default: qemu:///system
  xml:
    description:
      - The wanted definition, rendered by the C(smbvdc.datacenter.vm_host_plan) filter from the branch model.
      - Left out, the domain must exist and its definition is left as it is (the lifecycle actions).
    type: str
  disk:
    description:
      - The system disk. C(path) is created as a linked clone of C(base) (a path or a link to the image,
        resolved to the real file) with C(size_gb) GiB when it does not exist.
    type: dict
    suboptions:
      path:
        description: Path of the qcow2 system disk.
        type: str
        required: true
      base:
        description: The base image the disk is cloned from.
        type: str
      size_gb:
        description: Virtual size in GiB of a new disk.
        type: int
        default: 10
  data_disks:
    description:
      - Further disks of the domain (the branch model's C(vm_data_disks), rendered into O(xml) by the
        C(smbvdc.datacenter.vm_host_plan) filter). Each missing C(path) is created as an empty qcow2 of
        C(size_gb) GiB.
      - An existing one is left as it is. When its virtual size is below C(size_gb) the module warns (growing
        is an explicit operation); a larger one is not reported.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Path of the qcow2 data disk.
        type: str
        required: true
      size_gb:
        description: Virtual size in GiB of a new disk.
        type: int
        required: true
  state:
    description:
      - V(running), V(paused), V(shutdown) (ACPI, waited for), V(destroyed) (power off),
        V(saved) (managed save; a later start restores the memory), V(defined) (definition only, run
        state left alone) or V(undefined) (power off, undefine with the saved memory and snapshot
        metadata, delete the seed; the system and data disks only with O(remove_disks)).
    type: str
    default: running
    choices: [running, defined, shutdown, destroyed, paused, saved, undefined]
  autostart:
    description: Start the domain with libvirtd. Left out, autostart is not changed.
    type: bool
  command:
    description: A one-shot action - V(reboot) (ACPI), V(reset) (hard), V(restart) (shut down and start, applies a new definition).
    type: str
    choices: [reboot, reset, restart]
  restart_on_change:
    description: Restart a running domain whose new RAM, vCPUs or disks cannot be applied live.
    type: bool
    default: false
  shutdown_timeout:
    description: Seconds a graceful shutdown may take.
    type: int
    default: 180
  shutdown_force:
    description: Power off a domain that has not shut down after O(shutdown_timeout) (else fail).
    type: bool
    default: true
  snapshot:
    description: Name of an internal snapshot to converge (O(snapshot_state)).
    type: str
  snapshot_state:
    description: V(present) takes the snapshot if missing, V(absent) deletes it, V(reverted) reverts to it.
    type: str
    default: present
    choices: [present, absent, reverted]
  remove_disks:
    description:
      - With O(state=undefined), also delete the system disk and the data disks (the disks of the definition
        whose serial is C(smbvdc-<name>)).
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: Reports what would be done; the definition is compared value by value.
  diff_mode:
    support: full
    description: Returns the definition before and after.
notes:
  - "Creating a disk calls C(qemu-img): no module or libvirt API creates a qcow2 linked clone that names its
    backing file (community.libvirt.virt_volume cannot). Data disks are created the same way, in the same call
    that defines the domain (virt_volume would need a libvirt storage pool holding the path, and lxml and pycdlib
    on the KVM host)."
seealso:
  - module: community.libvirt.virt
"""

EXAMPLES = r"""
- name: Converge web1
  smbvdc.datacenter.vm_domain:
    name: web1
    xml: "{{ plan.domains.web1.xml }}"
    disk: "{{ plan.domains.web1.disk }}"
    state: running
    autostart: true

- name: Converge bak1 with a data disk for its vtapes (attached at its next start when it runs)
  smbvdc.datacenter.vm_domain:
    name: bak1
    xml: "{{ plan.domains.bak1.xml }}"
    disk: "{{ plan.domains.bak1.disk }}"
    data_disks:
      - path: /var/lib/smbvdc/images/bak1-vtapes.qcow2
        size_gb: 8

- name: Suspend ns2
  smbvdc.datacenter.vm_domain:
    name: ns2
    state: paused

- name: Snapshot mail1
  smbvdc.datacenter.vm_domain:
    name: mail1
    state: defined
    snapshot: before-upgrade
"""

RETURN = r"""
actions:
  description: What was done (or, in check mode, would be done), in order.
  returned: always
  type: list
  elements: str
  sample: ["disk /var/lib/smbvdc/images/web1.qcow2 created (10 GiB, backing /var/lib/smbvdc/images/base-1.qcow2)", "defined", "started"]
state_before:
  description: Run state before - running, paused, in shutdown, shut off or undefined.
  returned: always
  type: str
state:
  description: Run state after (in check mode the wanted O(state)).
  returned: always
  type: str
created:
  description: The domain was defined for the first time.
  returned: always
  type: bool
disk_created:
  description: The system disk was created (a VM built anew, with a new SSH host key).
  returned: always
  type: bool
disk_removed:
  description: The system disk was deleted.
  returned: always
  type: bool
data_disks_created:
  description: The data disks created (paths).
  returned: always
  type: list
  elements: str
data_disks_removed:
  description: The data disks deleted (paths).
  returned: always
  type: list
  elements: str
restart_needed:
  description: The definition holds RAM, vCPUs or disks the running domain only gets at its next start.
  returned: always
  type: bool
pending:
  description: The changes that wait for a restart.
  returned: always
  type: list
  elements: str
"""

import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.smbvdc.datacenter.plugins.module_utils import libvirt_info
from ansible_collections.smbvdc.datacenter.plugins.module_utils.domain_xml import XMLError
from ansible_collections.smbvdc.datacenter.plugins.module_utils.vm_domain import (
    COMMANDS, SNAPSHOT_STATES, STATES, DomainConverger, DomainError)

ARGUMENT_SPEC = dict(
    name=dict(type="str", required=True),
    uri=dict(type="str", default="qemu:///system"),
    xml=dict(type="str"),
    disk=dict(type="dict", options=dict(path=dict(type="str", required=True), base=dict(type="str"),
                                        size_gb=dict(type="int", default=10))),
    data_disks=dict(type="list", elements="dict", default=[],
                    options=dict(path=dict(type="str", required=True), size_gb=dict(type="int", required=True))),
    state=dict(type="str", default="running", choices=list(STATES)),
    autostart=dict(type="bool"),
    command=dict(type="str", choices=list(COMMANDS)),
    restart_on_change=dict(type="bool", default=False),
    shutdown_timeout=dict(type="int", default=180),
    shutdown_force=dict(type="bool", default=True),
    snapshot=dict(type="str"),
    snapshot_state=dict(type="str", default="present", choices=list(SNAPSHOT_STATES)),
    remove_disks=dict(type="bool", default=False),
)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    if not libvirt_info.HAS_LIBVIRT:
        module.fail_json(msg=missing_required_lib("libvirt-python"), exception=libvirt_info.LIBVIRT_IMPORT_ERROR)
    uri = module.params["uri"]
    try:
        conn, read_only = libvirt_info.connect(uri)
    except libvirt_info.LibvirtConnectError as exc:
        module.fail_json(msg="Cannot connect to libvirt at %s: %s. Is the libvirt daemon running?" % (uri, exc))
    if read_only:
        module.fail_json(msg="libvirt at %s only allows a read-only connection; vm_domain needs to change "
                             "domains. Fix: run as root (become: true) or as a member of the libvirt group." % uri)
    converger = DomainConverger(conn, module.params, lambda argv: module.run_command(argv),
                                check_mode=module.check_mode)
    try:
        result = converger.run()
    except (DomainError, XMLError) as exc:
        module.fail_json(msg=str(exc), actions=converger.actions)
    except libvirt_info.libvirt.libvirtError as exc:
        module.fail_json(msg="%s: libvirt: %s (after: %s)" % (module.params["name"], exc,
                                                            ", ".join(converger.actions) or "nothing"),
                         actions=converger.actions, exception=traceback.format_exc())
    finally:
        try:
            conn.close()
        except Exception:  # pylint: disable=broad-except
            pass
    for warning in converger.warnings:
        module.warn(warning)
    if not module._diff:
        result.pop("diff", None)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
