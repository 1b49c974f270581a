"""What the lab scripts share: the running branch's model, SSH to its VMs, Nagios' status.

scripts/lab-fault-drill.py, lab-restore-drill.py and lab-reboot-drill.py build the
branch model as the playbooks do (reality first: the VMs' hosts and addresses
are read from libvirt, tests/inventory_groups.py: defined_vms), reach the VMs
with the branch's own SSH key, and read Nagios' state from its status data
(not by re-running a plugin).
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
import conftest  # noqa: E402,F401  (ansible_collections.smbvdc.datacenter importable)
import inventory_groups  # noqa: E402

from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import checks  # noqa: E402
from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import model as modelmod  # noqa: E402

STATUS_DAT = "/var/lib/nagios4/status.dat"
STATE = {0: "OK", 1: "WARNING", 2: "CRITICAL", 3: "UNKNOWN"}


class Branch(object):
    def __init__(self, inventory):
        self.inventory = Path(inventory)
        self.hostvars, self.groups = inventory_groups.load(Path(sys.executable).parent / "ansible-inventory",
                                                           inventory)
        current, addresses = inventory_groups.defined_vms(self.hostvars, self.groups)
        branch = next(hv["smbvdc_branch"] for hv in self.hostvars.values() if "smbvdc_branch" in hv)
        self.model = modelmod.build_model(branch, {"groups": self.groups, "hostvars": self.hostvars},
                                          current=current, addresses=addresses)
        self.monitoring = checks.monitoring_plan(self.model)
        self.backup = checks.backup_plan(self.model)
        self.key = self.inventory / ".smbvdc" / "ssh" / "id_ed25519"
        self.known_hosts = self.inventory / ".smbvdc" / "ssh" / "known_hosts"
        self.secrets = self.inventory / ".smbvdc" / "secrets"

    def address(self, host):
        return self.model["vms"][host]["ipv4"]

    def ssh(self, host, command, timeout=300, input=None):
        """Run ``command`` as root on VM ``host``; a CompletedProcess (text)."""
        cmd = ["ssh", "-i", str(self.key), "-o", "UserKnownHostsFile=%s" % self.known_hosts,
               "-o", "StrictHostKeyChecking=accept-new", "-o", "BatchMode=yes", "-o", "ConnectTimeout=20",
               "root@%s" % self.address(host), command]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, input=input)

    def run(self, host, script, user=None, stdin=None, check=True, timeout=900):
        """``sh -c script`` on VM ``host`` as root (or ``user``, through runuser); bytes in and out,
        the runner of tests/restoredrill.py. Raises with the output when ``check`` and it fails."""
        command = "sh -c %s" % shlex.quote(script)
        if user:
            # from / : root's home is the ssh session's directory, and amfetchdump run as the
            # backup user there failed with "Cannot chdir to /root: Permission denied" (lab drill)
            command = "cd / && runuser -u %s -- %s" % (shlex.quote(user), command)
        cmd = ["ssh", "-i", str(self.key), "-o", "UserKnownHostsFile=%s" % self.known_hosts,
               "-o", "StrictHostKeyChecking=accept-new", "-o", "BatchMode=yes", "-o", "ConnectTimeout=20",
               "root@%s" % self.address(host), command]
        res = subprocess.run(cmd, input=stdin, capture_output=True, timeout=timeout)
        if check and res.returncode != 0:
            raise AssertionError("%s: %s -> exit %d\n%s\n%s" % (host, script[:200], res.returncode,
                                                                res.stdout.decode(errors="replace")[-2000:],
                                                                res.stderr.decode(errors="replace")[-2000:]))
        return res

    def nagios_status(self):
        """``{(host, service description): servicestatus block}`` from status.dat on the monitoring VM."""
        out = self.ssh(self.monitoring["server"], "cat %s" % STATUS_DAT).stdout
        services, block = {}, None
        for line in out.splitlines():
            line = line.strip()
            if line == "servicestatus {":
                block = {}
            elif line == "}" and block is not None:
                if "host_name" in block and "service_description" in block:
                    services[(block["host_name"], block["service_description"])] = block
                block = None
            elif block is not None and "=" in line:
                k, _sep, v = line.partition("=")
                block[k] = v
        return services

    def service_states(self, hard=False):
        """(host, service) -> current_state; with hard=True -> (current_state, hard) where
        hard says Nagios confirmed the state (state_type 1: the max_check_attempts were
        used up, the moment it notifies)."""
        if hard:
            return {k: (int(v.get("current_state", 3)), v.get("state_type") == "1")
                    for k, v in self.nagios_status().items()}
        return {k: int(v.get("current_state", 3)) for k, v in self.nagios_status().items()}
