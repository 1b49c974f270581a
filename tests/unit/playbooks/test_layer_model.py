"""The model every layer playbook builds keeps the addresses the VMs were built with.

playbooks/placement.yml reads the addresses from the domains' metadata
(smbvdc_current_addresses) and the VM layer builds with them. The layers
after it (DNS zones, /etc/hosts, mail, monitoring) rebuild the model in
their own preflight: without the addresses they could derive other ones
than the running VMs have. Here the addresses are given with -e (as
placement.yml would set them), and the model of a layer's preflight must
carry them; no host is contacted.
"""

import json
import os
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[3]
MULTI = ROOT / "tests" / "inventories" / "multi-host"
CURRENT = {"kvm1": ["ns1", "mail1"], "kvm2": ["web1", "big1"], "kvm3": ["ns2", "web2"]}


def _model_address(tmp_path, extra):
    play = tmp_path / "layer.yml"
    play.write_text(
        "- ansible.builtin.import_playbook: %s\n"
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n"
        "    - ansible.builtin.debug:\n        msg: \"ns2={{ smbvdc_model.vms.ns2.ipv4 }}\"\n"
        % (ROOT / "playbooks" / "preflight.yml"))
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    exe = pathlib.Path(sys.executable).parent / "ansible-playbook"
    cmd = [str(exe) if exe.exists() else "ansible-playbook", "-i", str(MULTI), str(play),
           "-e", json.dumps({"smbvdc_current_domains": CURRENT}), "-e", json.dumps(extra)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=str(ROOT), timeout=120)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "Traceback" not in out, out
    found = re.findall(r"ns2=(\S+?)['\"]?$", out, re.M)
    assert found, out
    return found[-1]


def test_the_layer_model_keeps_the_built_address(tmp_path):
    planned = _model_address(tmp_path, {})
    # an address in the subnet that the plan would not give ns2
    kept = "10.78.10.201" if planned != "10.78.10.201" else "10.78.10.202"
    got = _model_address(tmp_path, {"smbvdc_current_addresses": {"ns2": {"network": "lan", "ipv4": kept}}})
    assert got == kept, "the layer's model planned %s for ns2 instead of the address it was built with (%s)" % (
        got, kept)
