# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smbvdc.datacenter developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: vm_seed
short_description: The cloud-init NoCloud seed of one VM of the branch model
version_added: 0.1.0
description:
  - Returns the three files of a NoCloud seed as text, ready to be written and
    packed into an ISO labelled C(cidata).
  - C(user-data) sets the host name and FQDN, C(manage_etc_hosts), locale C(C.UTF-8),
    the SSH key (for root, or for an admin user with passwordless sudo), ed25519-only
    host keys generated at first boot, the apt proxy (when set) and keeps the image's
    apt sources.
  - C(meta-data) has a stable instance-id per branch and VM.
  - C(network-config) (version 2) has the static IPv4/IPv6 addresses of the ip plan,
    default routes via the network's gateways, name servers and search domain,
    matched on the MAC that C(smbvdc.datacenter.vm_domain_xml) gives the NIC.
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
  ssh_public_key:
    description: OpenSSH public key line(s) allowed to log in.
    type: raw
    required: true
  options:
    description:
      - C(admin_user) (default C(root)), C(apt_proxy) (default none), C(dns_servers)
        (default the network's IPv4 gateway), C(dns_search) (default the VM's domain),
        C(timezone) (C(Etc/UTC)), C(locale) (C(C.UTF-8)), C(interface) (C(eth0)), C(branch).
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: Write the seed files
  ansible.builtin.copy:
    content: "{{ (vm | smbvdc.datacenter.vm_seed(net, lookup('ansible.builtin.file', key_path ~ '.pub')))[item] }}"
    dest: "/var/lib/smbvdc/images/seed/{{ vm.name }}/{{ item }}"
    mode: "0600"
  loop: [user-data, meta-data, network-config]
  vars:
    vm: "{{ smbvdc_model.vms['ns1'] }}"
    net: "{{ smbvdc_model.networks[vm.network] }}"
"""

RETURN = r"""
_value:
  description: C(user-data), C(meta-data) and C(network-config) as text.
  type: dict
"""

from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import vmconfig
from ansible_collections.smbvdc.datacenter.plugins.plugin_utils.filters import filter_module, smbvdc_filter


@smbvdc_filter
def vm_seed(vm, network, ssh_public_key, options=None):
    return vmconfig.seed(vm, network, ssh_public_key, options)


FilterModule = filter_module(vm_seed)
