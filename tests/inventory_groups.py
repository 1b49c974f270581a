"""An inventory's hostvars and (transitively flattened) groups, as Ansible sees them.

Shared by checks that build the branch model from a real inventory outside a
play (molecule verify tests, scripts/lab-check.py): ``build_model(branch,
{"groups": groups, "hostvars": hostvars})`` then gets exactly what the
playbooks' ``groups`` and ``hostvars`` give it.
"""

import json
import subprocess


def load(ansible_inventory, path, env=None):
    """Return ``(hostvars, groups)`` of ``ansible-inventory -i path --list``."""
    out = subprocess.run([str(ansible_inventory), "-i", str(path), "--list"], env=env,
                         check=True, capture_output=True, text=True).stdout
    data = json.loads(out)
    groups = {}

    def walk(name):
        g = data.get(name, {})
        hosts = list(g.get("hosts", []))
        for child in g.get("children", []):
            hosts += walk(child)
        groups[name] = sorted(set(hosts))
        return hosts

    walk("all")
    return data["_meta"]["hostvars"], groups
