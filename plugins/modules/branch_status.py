#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smbvdc.datacenter developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# Documentation only: the work is done by the action plugin plugins/action/branch_status.py,
# on the controller (like ansible.builtin.debug).

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: branch_status
short_description: Branch health checks over real protocols, run on the controller
version_added: 0.2.0
description:
  - Runs the health checks of a branch (playbooks/status.yml, docs/status.md) from the controller and
    returns one result per check, with V(true), V(false), or V(null) for an item that was not checked.
  - "DNS: every DNS server answers authoritatively the SOA of every zone the model generates (forward and
    reverse), the secondaries have the primary's serials, and an AXFR without TSIG is refused."
  - "Mail: MX, SPF, DKIM and DMARC of every mail domain and the mail host's PTR that forward-confirms,
    on every DNS server; STARTTLS on 25 and 587, no AUTH before TLS on 587, no open relay on 25 (RCPT TO an
    outside domain is refused, no DATA is sent), certificate expiry on 25, 587 and 993, and a message
    submitted on 587 reaches the mailbox over IMAPS (with a generated password from the secrets directory)."
  - "Web: every site's names resolve at the branch DNS, the certificate validates against the branch CA,
    HTTP redirects to HTTPS, HTTPS answers with HSTS, the Moodle admin logs in, a file cloud is installed."
  - "VMs: each VM's libvirt state against its vm_state, and each KVM host's RAM against the memory budget,
    from the O(kvm_hosts) facts (M(smbvdc.datacenter.kvm_host_info))."
  - "Monitoring and backups: Nagios' status data (O(nagios_status)) and the output of check_amanda_age
    (O(amanda)), read by tasks on those servers."
  - Changes nothing anywhere; passwords are read on the controller and never returned.
author:
  - smbvdc.datacenter developers (@smbvdc)
requirements:
  - dnspython, requests and cryptography on the controller
options:
  model:
    description: The branch model (C(smbvdc_model), built by the preflight and the placement).
    type: dict
    required: true
  inventory_dir:
    description: The inventory directory; its C(.smbvdc/secrets) and C(.smbvdc/ca/ca.crt) are read.
    type: path
  sections:
    description: Which groups of checks run.
    type: list
    elements: str
    choices: [dns, mail, web, vms, monitoring, backups]
    default: [dns, mail, web, vms, monitoring, backups]
  kvm_hosts:
    description:
      - "C({kvm host: kvm_host}) as M(smbvdc.datacenter.kvm_host_info) returned it, V(null) for a host that
        was not read. Without it the VM checks are reported as not checked."
    type: dict
  domain_prefixes:
    description: "C({kvm host: vm_role_domain_name_prefix})."
    type: dict
    default: {}
  default_state:
    description: The state of a VM without its own C(vm_state) (C(vm_role_default_state)).
    type: str
    default: running
  nagios_status:
    description: The text of Nagios' C(status.dat) from the monitoring server; V(null) when it could not be read.
    type: str
  nagios_error:
    description: Why O(nagios_status) could not be read (shown in the failed check).
    type: str
    default: ""
  amanda:
    description: "C({client fqdn: output line of check_amanda_age}) from the backup server."
    type: dict
  mailboxes:
    description: "C({mail host: mail_mailboxes}); the first mailbox with a generated password is used."
    type: dict
    default: {}
  cert_days:
    description: A mail service certificate that expires in fewer days fails.
    type: int
    default: 14
  mail_timeout:
    description: Seconds to wait for the submitted message in the INBOX.
    type: float
    default: 180
  dns_timeout:
    description: Seconds per DNS query.
    type: float
    default: 5
attributes:
  check_mode:
    support: full
    description: The checks only read; check mode runs them the same way.
  diff_mode:
    support: none
    description: Nothing is changed.
  action:
    support: full
    description: Implemented as an action plugin; runs on the controller.
seealso:
  - module: smbvdc.datacenter.kvm_host_info
notes:
  - The checks connect only to the branch's own servers (and never send mail outside the branch).
"""

EXAMPLES = r"""
- name: Check the branch
  smbvdc.datacenter.branch_status:
    model: "{{ smbvdc_model }}"
    inventory_dir: "{{ inventory_dir }}"
    sections: [dns, mail]
  register: __status

- name: Show the table
  ansible.builtin.debug:
    msg: "{{ __status.table }}"
"""

RETURN = r"""
results:
  description: One entry per check, in the order they ran.
  returned: always
  type: list
  elements: dict
  sample: [{"check": "dns soa lab.smbvdc.test", "host": "ns2", "ok": true, "detail": "serial 2026120401",
            "time": "2026-12-04T20:00:00Z"}]
table:
  description: The results as lines of a plain-text table, the summary line last.
  returned: always
  type: list
  elements: str
summary:
  description: "C(status: N passed, N failed, N not checked)."
  returned: always
  type: str
passed:
  description: Number of checks passed.
  returned: always
  type: int
failed_count:
  description: Number of checks failed.
  returned: always
  type: int
not_checked:
  description: Number of items not checked (never counted as passed).
  returned: always
  type: int
failed_checks:
  description: "C(check (host)) of every failed check."
  returned: always
  type: list
  elements: str
"""
