# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smbvdc.datacenter developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: mail_dkim_keys
short_description: The DKIM records of the branch's mail domains, in the form the NSD role publishes
version_added: 0.1.0
description:
  - "Turns the public part of the mail host's DKIM key (PEM) into C({domain: {selector, public_key}}) for every
    mail domain of the branch model, which is what P(smbvdc.datacenter.dns_zones#filter) and the NSD role's
    C(nsd_dkim_keys) take."
  - Fails naming the variable when the branch has no mail host, the selector is not a DNS label, a domain is
    not served by the branch or the key is not an RSA public key.
options:
  _input:
    description: The branch model.
    type: dict
    required: true
  public_key:
    description: The RSA public key as PEM (or base64 DER).
    type: str
    required: true
  selector:
    description: The DKIM selector; default C(smbvdc_branch.mail.dkim_selector).
    type: str
  domains:
    description: The domains to sign for; default every mail domain of the branch.
    type: list
    elements: str
"""

EXAMPLES = r"""
- name: DKIM records for the DNS layer
  ansible.builtin.set_fact:
    mail_dkim_dns_keys: "{{ smbvdc_model | smbvdc.datacenter.mail_dkim_keys(public_key=__mail_dkim_info.public_key) }}"
"""

RETURN = r"""
_value:
  description: "C({domain: {selector, public_key}}) with the base64 C(p=) value."
  type: dict
"""

from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import mail
from ansible_collections.smbvdc.datacenter.plugins.plugin_utils.filters import filter_module, smbvdc_filter


@smbvdc_filter(needs=("mail_domains",))
def mail_dkim_keys(model, public_key, selector=None, domains=None):
    return mail.dkim_dns_keys(model, public_key, selector=selector or None, domains=domains)


FilterModule = filter_module(mail_dkim_keys)
