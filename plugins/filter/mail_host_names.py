# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smbvdc.datacenter developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: mail_host_names
short_description: The names and addresses of a mail host from the branch model
version_added: 0.1.0
description:
  - The host's FQDN, the mail service names of the branch domain that point at it (C(mail), C(webmail) by
    default, see C(smbvdc_branch.dns.service_names)), its addresses and the branch's mail domains; the mail
    role builds Postfix's C(myhostname) and the TLS certificate's subject alternative names from it.
  - Fails naming C(groups['mail']) when the host is not a mail host of the model.
options:
  _input:
    description: The branch model.
    type: dict
    required: true
  host:
    description: The inventory name of the mail host.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Names of this mail host
  ansible.builtin.set_fact:
    __mail_host: "{{ smbvdc_model | smbvdc.datacenter.mail_host_names(inventory_hostname) }}"
"""

RETURN = r"""
_value:
  description: C({fqdn, names, ipv4, ipv6, domains}).
  type: dict
"""

from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import mail
from ansible_collections.smbvdc.datacenter.plugins.plugin_utils.filters import filter_module, smbvdc_filter


@smbvdc_filter(needs=("services",))
def mail_host_names(model, host):
    return mail.host_names(model, host)


FilterModule = filter_module(mail_host_names)
