# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smbvdc.datacenter developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: web_sites
short_description: The web sites and PHP-FPM pools of each web VM of the branch
version_added: 0.4.0
description:
  - Derives from the branch model (C(smbvdc_branch.web) and the service groups web, moodle, owncloud) what each
    web VM serves, see docs/web.md.
  - Per site the FQDN, its aliases, the application (static, moodle, nextcloud), document root, C(wwwroot)
    (always https://) and the certificate (issued by the branch CA, or the external certificate's paths).
  - Per application on the VM one PHP-FPM pool with its own user, socket and PHP settings.
options:
  _input:
    description: The branch model (C(smbvdc_model), from C(smbvdc.datacenter.branch_model)).
    type: dict
    required: true
  host:
    description: Return only this web VM's entry (fails naming the web VMs when it is none of them).
    type: str
"""

EXAMPLES = r"""
- name: What web1 serves
  ansible.builtin.debug:
    msg: "{{ (smbvdc_model | smbvdc.datacenter.web_sites(host='web1')).sites | map(attribute='name') }}"
"""

RETURN = r"""
_value:
  description: >-
    C({host: {host, fqdn, addresses, sites, pools, apps, memory_mb, memory_needed_mb, default_site}}), or one such
    entry with O(host). Each site has name, aliases, names, app, host, wwwroot, document_root, app_root, zone,
    tls (provider branch_ca or external, cert, key) and pool (the PHP-FPM socket, or none for static files).
  type: dict
"""

from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import web
from ansible_collections.smbvdc.datacenter.plugins.plugin_utils.filters import filter_module, smbvdc_filter


@smbvdc_filter(needs=("services", "vms"))
def web_sites(model, host=None):
    return web.web_sites(model, host=host)


FilterModule = filter_module(web_sites)
