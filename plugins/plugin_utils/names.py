# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smbvdc.datacenter developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one DNS-name rule of the collection (host labels and domains, RFC 1035/1123).

Branch, site, network, VM and KVM host names become DNS labels, so they follow
LABEL_RE (lowercase: the inventory name is the host name). Domains are two or
more such labels and at most 253 characters. The ``is_label``/``is_domain``
tests are also filters (smbvdc.datacenter.dns_label / dns_domain tests are not
needed: roles get names from the model, which has checked them).
"""

from __future__ import annotations

import re

# One label: 1-63 of a-z, 0-9 and '-', not starting or ending with '-'.
LABEL_PATTERN = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
LABEL_RE = re.compile(r"^%s$" % LABEL_PATTERN)
DOMAIN_RE = re.compile(r"^(?=.{1,253}$)%s(\.%s)+$" % (LABEL_PATTERN, LABEL_PATTERN))


def is_label(value):
    return isinstance(value, str) and bool(LABEL_RE.match(value))


def is_domain(value):
    """Two or more labels, case-insensitive, no trailing dot."""
    return isinstance(value, str) and bool(DOMAIN_RE.match(value.lower()))


# Names in DNS data (SPF and DMARC domains, SOA contacts, service names): labels
# of letters in either case, digits, '-' and '_' (service labels such as _spf,
# _dmarc). Used by dns.py (zone syntax) and mail.py (mail policy) alike.
HOST_LABEL_RE = re.compile(r"^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$")


def is_hostname(value, min_labels=2):
    """A DNS name of HOST_LABEL_RE labels (a trailing dot allowed), 253 characters at most."""
    if not isinstance(value, str) or not value or len(value) > 253:
        return False
    labels = value.rstrip(".").split(".")
    return len(labels) >= min_labels and all(HOST_LABEL_RE.match(label) for label in labels)
