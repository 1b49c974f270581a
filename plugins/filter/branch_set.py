# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smbvdc.datacenter developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: branch_set
short_description: Validate several branch offices together (subnets, zones, cross-branch DNS secondaries)
version_added: 0.3.0
description:
  - Reads each branch's own inventory directory with Ansible's inventory machinery (InventoryManager and
    VariableManager, so C(host_vars), C(group_vars), the enabled vars plugins and the running play's vault
    secrets), builds and validates each branch model as C(smbvdc.datacenter.branch_model) does, then checks the
    branches against each other.
  - No two branches may use overlapping subnets or serve the same zone (branch domain, mail domain or reverse
    zone); every cross-branch DNS secondary (C(smbvdc_branch.dns.remote_secondaries)) must name a branch that
    is given and a DNS server of that branch; an address typed for it must equal the one that branch gives it.
  - One TSIG key name per pair of branches linked by such a secondary (C(smbvdc-xfr.<a>.<b>), names sorted);
    the filter never sees or returns a secret.
  - VRRP IDs on shared links are not checked yet, the branch model has no VRRP data; the result says so in
    C(notes).
  - Every problem of every branch is reported at once, each naming the inventory directory, the variable and
    the fix. The design is described in C(docs/multi-branch.md).
options:
  _input:
    description:
      - The branches' inventory directories, as a list or one comma-separated string. Relative paths are taken
        from the directory ansible-playbook was started in.
      - Or a list of C({model, source}) mappings of models already built (tests, or a play that built them).
    type: raw
    required: true
"""

EXAMPLES = r"""
- name: Validate the branches together (ansible-playbook playbooks/branches.yml -e branches=inventories/a,inventories/b)
  ansible.builtin.set_fact:
    smbvdc_branch_set: "{{ branches | smbvdc.datacenter.branch_set }}"

- name: The address branch A's primary sends NOTIFY to
  ansible.builtin.debug:
    msg: "{{ smbvdc_branch_set.remote_secondaries | map(attribute='address') }}"
"""

RETURN = r"""
_value:
  description:
    - C(branches) (names, in the order given) and C(sources) (branch name to inventory directory).
    - C(remote_secondaries), one per cross-branch secondary, with C(branch) (whose zones it carries),
      C(secondary_branch), C(host), C(name) (its name in the zones, C(<host>.<branch>)), C(address) (taken from
      the secondary's branch), C(addresses), C(address_given), C(zones), C(primaries) and C(tsig_key_name).
    - C(tsig_keys), one C({name, branches}) per linked pair of branches.
    - C(warnings) (a zone inside another branch's zone needs a delegation), C(notes) (what was not checked) and
      C(models) (branch name to its branch model).
  type: dict
"""

from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import branches
from ansible_collections.smbvdc.datacenter.plugins.plugin_utils.filters import filter_module, smbvdc_filter


@smbvdc_filter
def branch_set(data):
    if isinstance(data, (list, tuple)) and data and all(isinstance(d, dict) for d in data):
        return branches.validate([{"model": d["model"], "source": d.get("source")} for d in data])
    if not isinstance(data, (str, list, tuple)):
        raise TypeError("input must be a list of branch inventory directories (or a comma-separated string), got %s"
                        % type(data).__name__)
    return branches.validate_inventories(data)


FilterModule = filter_module(branch_set)
