# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smbvdc.datacenter developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: mail_accounts
short_description: Validate mailboxes and aliases against the branch model and compute the mail host's tables
version_added: 0.1.0
description:
  - Checks every mailbox and alias (address syntax, domain served by the branch, duplicates, unknown local
    targets, alias loops, quotas, password hashes) and reports all problems together, each naming the variable.
  - Returns the Postfix virtual mailbox, virtual alias and sender-login tables and the Dovecot passwd-file lines.
  - Plain-text passwords are hashed as BLF-CRYPT (bcrypt, random salt). A hash in O(previous) that still matches
    the password is kept as it is (also an older SHA512-CRYPT one), so an unchanged password leaves the
    passwd-file unchanged.
options:
  _input:
    description: The branch model.
    type: dict
    required: true
  mailboxes:
    description: "C([{address, name, quota, password_hash, state}])."
    type: list
    elements: dict
    required: true
  aliases:
    description: "C([{address, to, state}])."
    type: list
    elements: dict
  passwords:
    description: "C({address: plain-text password}) for mailboxes without C(password_hash)."
    type: dict
  postmaster:
    description: Where C(postmaster@) and C(abuse@) of every domain go when no alias says otherwise.
    type: str
  default_quota:
    description: Quota of mailboxes without one.
    type: str
    default: 1G
  vmail_dir:
    description: Directory holding the mailboxes.
    type: str
    default: /var/vmail
  previous:
    description:
      - The Dovecot passwd-file the mail host has now (its text), or C({address: password field}).
      - Without it every run draws new salts and rewrites the file.
    type: raw
"""

EXAMPLES = r"""
- name: Mail tables
  ansible.builtin.set_fact:
    __mail_accounts: >-
      {{ smbvdc_model | smbvdc.datacenter.mail_accounts(mailboxes=mail_mailboxes, aliases=mail_aliases,
                                                        passwords=__mail_passwords, postmaster=mail_postmaster,
                                                        previous=__mail_users_now.content | default('') | b64decode) }}
  no_log: true
"""

RETURN = r"""
_value:
  description:
    - C(domains), C(mailboxes) (without hashes), C(aliases), C(virtual_mailboxes), C(virtual_aliases),
      C(sender_logins) (lists of C([key, value])) and C(dovecot_users) (passwd-file lines with hashes).
  type: dict
"""

from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import mail
from ansible_collections.smbvdc.datacenter.plugins.plugin_utils.filters import filter_module, smbvdc_filter


@smbvdc_filter(needs=("mail_domains",))
def mail_accounts(model, mailboxes, aliases=None, passwords=None, postmaster=None, default_quota="1G",
                  vmail_dir="/var/vmail", previous=None):
    return mail.build_accounts(model, mailboxes, aliases or [], passwords or {}, postmaster or None,
                               default_quota=default_quota, vmail_dir=vmail_dir, previous=previous)


FilterModule = filter_module(mail_accounts)
