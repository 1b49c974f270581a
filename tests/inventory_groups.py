"""An inventory's hostvars and (transitively flattened) groups, as Ansible sees them.

Shared by checks that build the branch model from a real inventory outside a
play (molecule verify tests, the lab drills in scripts/): ``build_model(branch,
{"groups": groups, "hostvars": hostvars})`` then gets exactly what the
playbooks' ``groups`` and ``hostvars`` give it.
"""

import json
import os
import subprocess
from pathlib import Path


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


XMLNS = "https://smbvdc.example.invalid/xmlns/libvirt/vm/1"


def defined_vms(hostvars, groups):
    """What playbooks/placement.yml reads before it builds the model: ``(current, addresses)``.

    ``current`` is ``{kvm host: [VM names defined there]}``, ``addresses`` is
    ``{vm: {network, ipv4, ipv6}}`` from the vm role's domain metadata, read over
    each KVM host's ``kvm_host_controller_uri`` (default qemu:///system) with
    libvirt-python, read-only. A script that builds the model without them plans
    addresses afresh, and a VM added later would shift the others in its view.
    """
    import xml.etree.ElementTree as ET

    import libvirt

    branch = None
    for hv in hostvars.values():
        if isinstance(hv.get("smbvdc_branch"), dict):
            branch = hv["smbvdc_branch"].get("name")
            break
    current, addresses = {}, {}
    for host in groups.get("kvm_hosts", []):
        uri = hostvars.get(host, {}).get("kvm_host_controller_uri") or "qemu:///system"
        conn = libvirt.openReadOnly(uri)
        try:
            names = []
            for dom in conn.listAllDomains(0):
                meta = ET.fromstring(dom.XMLDesc(0)).find("./metadata/{%s}vm" % XMLNS)
                if meta is None:
                    continue
                rec = dict((c.tag.split("}", 1)[-1], c.text or "") for c in meta)
                if rec.get("branch") != branch or not rec.get("name"):
                    continue
                names.append(rec["name"])
                addresses[rec["name"]] = rec
            current[host] = sorted(names)
        finally:
            conn.close()
    return current, addresses


def molecule_env(ephemeral):
    """The environment for ansible commands a molecule verify runs: the scenario's own ansible.cfg
    (in ``ephemeral``, MOLECULE_EPHEMERAL_DIRECTORY) when molecule wrote one, no colour codes."""
    env = dict(os.environ)
    cfg = Path(ephemeral) / "ansible.cfg"
    if cfg.exists():
        env["ANSIBLE_CONFIG"] = str(cfg)
    env["ANSIBLE_NOCOLOR"] = "1"
    env["ANSIBLE_FORCE_COLOR"] = "0"
    return env
