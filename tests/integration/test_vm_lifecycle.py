# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smbvdc.datacenter developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The VM layer end to end on this machine: real libvirtd, real (emulated) VMs.

Builds a throwaway branch in a temporary directory - one KVM host (this
machine, local connection), two 256 MiB VMs on their own NAT network
(10.199.77.0/24, bridge br-smbvdc-it, libvirt network smbvdc-itnet; domains,
disks and seeds named smbvdcit-*) - and runs playbooks/vms.yml, which
converges the KVM host (smbvdc.datacenter.kvm_host: libvirt, network, pool,
base image) and then the VMs (smbvdc.datacenter.vm). Then:

* an over-budget branch fails in preflight, naming the host and the missing
  MiB, and defines no domain;
* both VMs answer SSH with the generated key, with the planned names and
  addresses, and the next play reaches them through group smbvdc_vms_ready;
* a second converge reports changed=0;
* more RAM for one VM is saved and reported as needing a restart, and after
  shutdown + start the guest has it; less RAM for the other goes live
  through the balloon;
* suspend/resume, save/restore (the guest's memory survives), snapshot/revert
  (a file written after the snapshot is gone), destroy, undefine (the disk
  stays unless vm_role_remove_disks) - each limited to the VMs named.

Everything it created is removed at the end. Needs root, libvirtd and QEMU;
a missing prerequisite fails the run instead of skipping it. Takes about
10-15 minutes under QEMU software emulation on 2 cores.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import pytest

import libvirt  # a missing libvirt-python must fail the run, not skip it

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
URI = "qemu:///system"
BIN = os.path.dirname(sys.executable)
PREFIX = "smbvdcit-"          # libvirt domain names and the files of the test VMs
KVM = "smbvdcit-kvm"          # the KVM host's inventory name (this machine)
NETWORK = "itnet"             # model network -> libvirt network smbvdc-itnet
LIBVIRT_NET = "smbvdc-" + NETWORK
SUBNET = "10.199.77"          # not the lab's 10.77.10.0/24
POOL = "/var/lib/smbvdc/images"
VMS = {"itvm1": SUBNET + ".10", "itvm2": SUBNET + ".11"}
DOMAIN = "it.smbvdc.test"

pytestmark = [pytest.mark.integration]
assert os.geteuid() == 0, "tests/integration needs root (qemu:///system, KVM host setup)"
for tool in ("virsh", "qemu-img", "ssh", "qemu-system-x86_64"):
    assert shutil.which(tool), "%s is not installed (make setup installs the KVM host packages)" % tool


def _meminfo_mb():
    with open("/proc/meminfo") as handle:
        for line in handle:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    raise AssertionError("no MemTotal in /proc/meminfo")


def hosts_yml(vm_memory=None, extra_vm=None):
    vm_memory = vm_memory or {}
    lines = [
        "all:",
        "  children:",
        "    kvm_hosts:",
        "      hosts:",
        "        %s:" % KVM,
        "          ansible_connection: local",
        "          ansible_python_interpreter: %s" % sys.executable,
        "          kvm_memory_mb: %d" % _meminfo_mb(),
        "          kvm_vcpus: %d" % (os.cpu_count() or 1),
        "          kvm_disk_gb: 12",
        "          kvm_os_reserve_mb: 8192",
        "          kvm_host_pool_path: %s" % POOL,
        "    vms:",
        "      hosts:",
    ]
    for name in VMS:
        lines += ["        %s:" % name, "          vm_memory_mb: %d" % vm_memory.get(name, 256), "          vm_disk_gb: 3"]
    if extra_vm:
        lines += ["        %s:" % extra_vm[0], "          vm_memory_mb: %d" % extra_vm[1], "          vm_disk_gb: 3"]
    return "\n".join(lines) + "\n"


BRANCH_YML = """smbvdc_branch:
  name: smbvdcit
  domain: %s
  networks:
    - name: %s
      mode: nat
      bridge: br-smbvdc-it
      ipv4: %s.0/24
      ipv6: fd00:199:77::/64
  budget:
    vm_overhead_mb: 300
""" % (DOMAIN, NETWORK, SUBNET)

VM_VARS_YML = """# smbvdc.datacenter.vm settings of the integration test
vm_role_domain_name_prefix: %s
vm_role_ssh_timeout: 900
vm_role_shutdown_timeout: 240
""" % PREFIX

# Converge, then prove the hand-over: the next play reaches every ready VM.
CONVERGE_YML = """---
- name: The VM layer
  ansible.builtin.import_playbook: %s/playbooks/vms.yml

- name: The next layer reaches the ready VMs
  hosts: smbvdc_vms_ready
  gather_facts: false
  tasks:
    - name: Ask each VM for its name
      ansible.builtin.command: hostname --fqdn
      register: fqdn
      changed_when: false

    - name: Show it
      ansible.builtin.debug:
        msg: "READY {{ inventory_hostname }} {{ fqdn.stdout }}"
""" % ROOT


class Branch(object):
    """The temporary branch inventory and the commands the test runs."""

    def __init__(self, base):
        self.base = base
        self.inventory = os.path.join(base, "inventory")
        os.makedirs(os.path.join(self.inventory, "group_vars", "all"))
        self.write_hosts()
        self._write(os.path.join(self.inventory, "group_vars", "all", "branch.yml"), BRANCH_YML)
        self._write(os.path.join(self.inventory, "group_vars", "all", "vm.yml"), VM_VARS_YML)
        self.converge_playbook = os.path.join(base, "converge.yml")
        self._write(self.converge_playbook, CONVERGE_YML)
        self.key = os.path.join(self.inventory, ".smbvdc", "ssh", "id_ed25519")
        self.log = os.path.join(base, "ansible.log")
        self.timings = []

    @staticmethod
    def _write(path, text):
        with open(path, "w") as handle:
            handle.write(text)

    def write_hosts(self, **kwargs):
        self._write(os.path.join(self.inventory, "hosts.yml"), hosts_yml(**kwargs))

    def ansible(self, what, playbook=None, extra=(), expect_ok=True, timeout=1500, args=()):
        playbook = playbook or os.path.join(ROOT, "playbooks", "vms.yml")
        env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_NOCOLOR="1",
                   ANSIBLE_FORCE_COLOR="0", ANSIBLE_STDOUT_CALLBACK="default", PATH=BIN + os.pathsep + os.environ["PATH"],
                   ANSIBLE_CALLBACKS_ENABLED="ansible.posix.profile_tasks")
        cmd = [os.path.join(BIN, "ansible-playbook"), "-i", self.inventory, playbook] + list(args)
        for e in extra:
            cmd += ["-e", e]
        start = time.time()
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False)
        seconds = time.time() - start
        self.timings.append((what, seconds))
        out = proc.stdout + proc.stderr
        with open(self.log, "a") as handle:
            handle.write("\n\n######## %s (%.0f s, rc %d): %s\n%s" % (what, seconds, proc.returncode, " ".join(cmd), out))
        print("%-40s %6.0f s rc=%d" % (what, seconds, proc.returncode))
        if expect_ok and proc.returncode != 0:
            pytest.fail("%s failed (rc %d), last output:\n%s" % (what, proc.returncode, out[-6000:]))
        return proc.returncode, out, recap(out)

    def ssh(self, name, command, timeout=300):
        """Run a command in a VM over SSH with the generated key; retry while it boots."""
        deadline = time.time() + timeout
        last = None
        while True:
            proc = subprocess.run(
                ["ssh", "-i", self.key, "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
                 "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10",
                 "root@" + VMS[name], command],
                capture_output=True, text=True, timeout=120, check=False)
            if proc.returncode != 255:
                return proc
            last = proc
            if time.time() > deadline:
                pytest.fail("ssh %s (%s) failed for %d s: %s" % (name, VMS[name], timeout, last.stderr))
            time.sleep(5)


def recap(output):
    """{host: {ok, changed, failed, ...}} from the PLAY RECAP."""
    out = {}
    for host, counts in re.findall(r"^(\S+)\s+:\s+(ok=.*)$", output, re.M):
        out[host] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", counts)}
    return out


def changed(rc):
    return sum(h.get("changed", 0) for h in rc.values())


def domstate(conn, name):
    try:
        dom = conn.lookupByName(PREFIX + name)
    except libvirt.libvirtError:
        return "undefined"
    state = dom.state()[0]
    return {libvirt.VIR_DOMAIN_RUNNING: "running", libvirt.VIR_DOMAIN_PAUSED: "paused",
            libvirt.VIR_DOMAIN_SHUTOFF: "shut off", libvirt.VIR_DOMAIN_SHUTDOWN: "in shutdown"}.get(state, str(state))


def our_domains(conn):
    return sorted(d.name() for d in conn.listAllDomains() if d.name().startswith(PREFIX))


def cleanup(conn):
    for dom in conn.listAllDomains():
        if not dom.name().startswith(PREFIX):
            continue
        try:
            if dom.isActive():
                dom.destroy()
            dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA)
        except libvirt.libvirtError as exc:
            print("cleanup: %s: %s" % (dom.name(), exc))
    for path in glob.glob(os.path.join(POOL, PREFIX + "*")) + glob.glob(os.path.join(POOL, "seed", PREFIX + "*")):
        if os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            os.unlink(path)
    try:
        net = conn.networkLookupByName(LIBVIRT_NET)
        if net.isActive():
            net.destroy()
        net.undefine()
    except libvirt.libvirtError:
        pass
    try:
        pool = conn.storagePoolLookupByName("smbvdc")
        if pool.isActive():
            pool.refresh(0)
    except libvirt.libvirtError:
        pass


@pytest.fixture(scope="module")
def conn():
    subprocess.run([os.path.join(ROOT, "scripts", "start-libvirtd.sh"), URI], check=True, timeout=120)
    libvirt.registerErrorHandler(lambda ctx, err: None, None)
    connection = libvirt.open(URI)
    # A run that was killed (timeout, session end) leaves its persistent
    # network, domains and disks behind; they carry this test's own names, so
    # remove them - but only when the network is really this test's (same
    # bridge and subnet), never someone else's network of the same name.
    try:
        stale = connection.networkLookupByName(LIBVIRT_NET).XMLDesc(0)
        if "br-smbvdc-it" not in stale or SUBNET + ".1" not in stale:
            pytest.fail("libvirt network %s exists and is not this test's (bridge br-smbvdc-it, %s.0/24): rename or "
                        "remove it (virsh net-destroy/net-undefine %s) and run again." % (LIBVIRT_NET, SUBNET, LIBVIRT_NET))
        print("removing what an interrupted earlier run left: network %s, domains %s" % (LIBVIRT_NET, our_domains(connection)))
    except libvirt.libvirtError:
        pass
    cleanup(connection)
    assert not our_domains(connection), "domains %s exist before the test and could not be removed" % our_domains(connection)
    yield connection
    cleanup(connection)
    assert not our_domains(connection)
    connection.close()


@pytest.fixture(scope="module")
def branch(conn):
    base = tempfile.mkdtemp(prefix="smbvdc-vm-it-")
    b = Branch(base)
    started = time.time()
    yield b
    print("\nvm lifecycle timings:")
    for what, seconds in b.timings:
        print("  %-40s %6.0f s" % (what, seconds))
    print("  %-40s %6.0f s (log: %s)" % ("total", time.time() - started, b.log))
    keep = os.environ.get("SMBVDC_IT_KEEP_LOG")
    if keep:
        shutil.copy(b.log, keep)
    shutil.rmtree(base, ignore_errors=True)


def test_over_budget_branch_fails_before_any_vm(conn, branch):
    branch.write_hosts(extra_vm=("itbig", 400000))
    try:
        rc, out, _ = branch.ansible("over-budget preflight", expect_ok=False, timeout=300)
    finally:
        branch.write_hosts()
    assert rc != 0
    assert "do not fit on the KVM hosts" in out
    assert re.search(r"%s: \d+ MiB missing" % re.escape(KVM), out), out[-3000:]
    assert "hostvars['itbig'].vm_memory_mb" in out
    assert our_domains(conn) == []
    assert not glob.glob(os.path.join(POOL, PREFIX + "*"))


def test_converge_builds_vms_that_answer_ssh(conn, branch):
    rc, out, summary = branch.ansible("converge (kvm_host + vm, first boot)", playbook=branch.converge_playbook)
    assert changed(summary) > 0
    assert our_domains(conn) == sorted(PREFIX + n for n in VMS)
    key_mode = os.stat(branch.key).st_mode & 0o777
    assert key_mode == 0o600, oct(key_mode)
    with open(branch.key) as handle:
        private = handle.read().strip().splitlines()
    assert private[1] not in out  # the private key is never printed
    machine_ids = set()
    for name, ip in VMS.items():
        assert domstate(conn, name) == "running"
        assert "READY %s %s.%s" % (name, name, DOMAIN) in out  # the next play reached it via smbvdc_vms_ready
        proc = branch.ssh(name, "hostname --fqdn; ip -o addr show dev eth0; cat /etc/machine-id; ls /etc/ssh/")
        assert proc.returncode == 0, proc.stderr
        lines = proc.stdout.splitlines()
        assert lines[0] == "%s.%s" % (name, DOMAIN)
        assert " %s/24 " % ip in proc.stdout
        assert " fd00:199:77::%x/64 " % int(ip.rsplit(".", 1)[1]) in proc.stdout
        machine_ids.add([line for line in lines if re.match(r"^[0-9a-f]{32}$", line)][0])
        assert "ssh_host_ed25519_key" in proc.stdout and "ssh_host_rsa_key" not in proc.stdout
        dom = conn.lookupByName(PREFIX + name)
        assert dom.autostart() == 1
        xml = dom.XMLDesc(0)
        assert "<readonly/>" in xml and "smbvdc-itnet" in xml
    assert len(machine_ids) == 2  # every clone has its own identity


def test_second_converge_changes_nothing(branch):
    rc, out, summary = branch.ansible("second converge (idempotence)", playbook=branch.converge_playbook)
    assert changed(summary) == 0, "second converge changed something:\n" + "\n".join(
        line for line in out.splitlines() if line.startswith("changed:") or line.startswith("TASK"))[-4000:]


def test_check_mode_on_the_converged_host_changes_nothing(conn, branch):
    before = {n: conn.lookupByName(PREFIX + n).XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE) for n in VMS}
    rc, out, summary = branch.ansible("check mode (converged)", playbook=branch.converge_playbook, args=("--check", "--diff"))
    assert changed(summary) == 0, "\n".join(line for line in out.splitlines() if line.startswith("changed:"))[-4000:]
    assert before == {n: conn.lookupByName(PREFIX + n).XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE) for n in VMS}


def test_more_ram_is_saved_and_applied_after_restart(conn, branch):
    branch.write_hosts(vm_memory={"itvm1": 320, "itvm2": 224})
    # check mode first: the change is shown (diff of the definition) and nothing is applied
    rc, out, summary = branch.ansible("check: more RAM itvm1, less itvm2", args=("--check", "--diff"))
    assert changed(summary) > 0
    assert re.search(r"<memory unit=.MiB.>320</memory>", out), out[-3000:]
    assert "<memory unit='KiB'>262144</memory>" in conn.lookupByName(PREFIX + "itvm1").XMLDesc(
        libvirt.VIR_DOMAIN_XML_INACTIVE)
    assert conn.lookupByName(PREFIX + "itvm2").info()[2] == 256 * 1024
    rc, out, summary = branch.ansible("converge: more RAM itvm1, less itvm2")
    assert changed(summary) > 0
    assert "RESTART NEEDED" in out and "itvm1: RAM 256 -> 320 MiB needs a restart" in out
    # less RAM goes live through the balloon, no restart
    assert "itvm2: RAM 256 -> 224 MiB applied live (balloon)" in out
    assert "RESTART NEEDED - itvm2" not in out
    assert conn.lookupByName(PREFIX + "itvm2").info()[2] == 224 * 1024
    dom = conn.lookupByName(PREFIX + "itvm1")
    assert dom.info()[1] == 256 * 1024  # still running with the old maximum
    inactive = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
    assert "<memory unit='KiB'>327680</memory>" in inactive

    branch.ansible("shutdown itvm1", extra=("vm_action=shutdown", "vm_action_vms=itvm1"))
    assert domstate(conn, "itvm1") == "shut off"
    assert domstate(conn, "itvm2") == "running"
    branch.ansible("start itvm1", extra=("vm_action=start", "vm_action_vms=itvm1"))
    assert domstate(conn, "itvm1") == "running"
    assert conn.lookupByName(PREFIX + "itvm1").info()[1] == 320 * 1024
    proc = branch.ssh("itvm1", "awk '/^MemTotal/ {print $2}' /proc/meminfo")
    assert int(proc.stdout) > 256 * 1024, proc.stdout  # the guest sees more than the old 256 MiB


def test_suspend_and_resume(conn, branch):
    branch.ansible("suspend itvm2", extra=("vm_action=suspend", "vm_action_vms=itvm2"))
    assert domstate(conn, "itvm2") == "paused"
    assert domstate(conn, "itvm1") == "running"
    branch.ansible("resume itvm2", extra=("vm_action=resume", "vm_action_vms=itvm2"))
    assert domstate(conn, "itvm2") == "running"
    assert branch.ssh("itvm2", "true").returncode == 0


def test_save_and_restore_keep_the_guest_memory(conn, branch):
    assert branch.ssh("itvm2", "echo before-save > /run/smbvdc-it-marker").returncode == 0
    branch.ansible("save itvm2", extra=("vm_action=save", "vm_action_vms=itvm2"))
    assert domstate(conn, "itvm2") == "shut off"
    assert conn.lookupByName(PREFIX + "itvm2").hasManagedSaveImage(0) == 1
    branch.ansible("restore itvm2", extra=("vm_action=restore", "vm_action_vms=itvm2"))
    assert domstate(conn, "itvm2") == "running"
    proc = branch.ssh("itvm2", "cat /run/smbvdc-it-marker")
    assert proc.stdout.strip() == "before-save"  # /run is tmpfs: restored, not rebooted


def test_snapshot_and_revert(conn, branch):
    branch.ansible("snapshot itvm2", extra=("vm_action=snapshot", "vm_action_vms=itvm2"))
    dom = conn.lookupByName(PREFIX + "itvm2")
    assert dom.snapshotListNames() == ["smbvdc"]
    assert branch.ssh("itvm2", "touch /root/after-snapshot && sync").returncode == 0
    branch.ansible("revert itvm2", extra=("vm_action=revert", "vm_action_vms=itvm2"))
    assert domstate(conn, "itvm2") == "running"
    proc = branch.ssh("itvm2", "test -e /root/after-snapshot && echo present || echo absent")
    assert proc.stdout.strip() == "absent"
    rc, out, summary = branch.ansible("snapshot itvm2 again (exists)", extra=("vm_action=snapshot", "vm_action_vms=itvm2"))
    assert changed(summary) == 0


def test_destroy_and_undefine(conn, branch):
    branch.ansible("destroy itvm2", extra=("vm_action=destroy", "vm_action_vms=itvm2"))
    assert domstate(conn, "itvm2") == "shut off"
    assert domstate(conn, "itvm1") == "running"
    branch.ansible("undefine itvm1 (keep disk)", extra=("vm_action=undefine", "vm_action_vms=itvm1"))
    assert domstate(conn, "itvm1") == "undefined"
    assert os.path.exists(os.path.join(POOL, PREFIX + "itvm1.qcow2"))
    assert not os.path.exists(os.path.join(POOL, PREFIX + "itvm1-seed.iso"))
    branch.ansible("undefine itvm2 (remove disk)",
                   extra=("vm_action=undefine", "vm_action_vms=itvm2", "vm_role_remove_disks=true"))
    assert domstate(conn, "itvm2") == "undefined"
    assert not os.path.exists(os.path.join(POOL, PREFIX + "itvm2.qcow2"))
    assert our_domains(conn) == []
