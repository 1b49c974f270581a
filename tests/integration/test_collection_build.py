"""The built collection tarball installs and works from a playbook outside the repo.

Builds smbvdc-datacenter-*.tar.gz with ansible-galaxy, installs it (without
Galaxy: the dependencies ship with PyPI's `ansible`) into a temporary
collections path, and runs a playbook in a temporary directory - no
ansible.cfg, no repo on any path - that uses the FQCN filters, the
kvm_host_info module against the real libvirtd, and the common role against
a real systemd container.
"""

import json
import os
import shutil
import subprocess
import sys
import time

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.path.dirname(sys.executable)

pytestmark = [pytest.mark.integration]


def run(cmd, cwd, env=None, check=True):
    proc = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=900)
    if check and proc.returncode != 0:
        raise AssertionError("%s failed (%d):\n%s" % (" ".join(cmd), proc.returncode, proc.stdout[-6000:]))
    return proc


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    work = tmp_path_factory.mktemp("collection")
    colls = work / "collections"
    # No ANSIBLE_* from the caller (make test sets ANSIBLE_CONFIG, whose
    # collections_path holds the checkout: ansible-galaxy would then see the
    # collection as installed and skip the install).
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(ANSIBLE_COLLECTIONS_PATH=str(colls), ANSIBLE_STDOUT_CALLBACK="default", PATH=BIN + ":" + env["PATH"],
               ANSIBLE_HOST_KEY_CHECKING="false")
    build = work / "build"
    run([os.path.join(BIN, "ansible-galaxy"), "collection", "build", "--force", "--output-path", str(build), ROOT],
        cwd=str(work), env=env)
    tarballs = sorted(build.glob("smbvdc-datacenter-*.tar.gz"))
    assert len(tarballs) == 1, tarballs
    run([os.path.join(BIN, "ansible-galaxy"), "collection", "install", "--no-deps", "-p", str(colls), str(tarballs[0])],
        cwd=str(work), env=env)
    outside = work / "outside"
    outside.mkdir()
    return {"work": work, "colls": colls, "env": env, "outside": outside, "tarball": tarballs[0]}


def test_tarball_holds_the_collection_and_no_build_junk(installed):
    listing = run(["tar", "tzf", str(installed["tarball"])], cwd=str(installed["work"])).stdout.split()
    for wanted in ("plugins/filter/branch_model.py", "plugins/plugin_utils/model.py",
                   "plugins/modules/kvm_host_info.py", "roles/common/tasks/main.yml", "meta/runtime.yml"):
        assert wanted in listing
    assert not [f for f in listing if f.startswith((".venv", "collections/", ".git/"))]


def test_installed_copy_is_the_one_used(installed):
    out = run([os.path.join(BIN, "ansible-doc"), "-t", "filter", "smbvdc.datacenter.memory_budget"],
              cwd=str(installed["outside"]), env=installed["env"]).stdout
    assert str(installed["colls"]) in out


PLAYBOOK = r"""
- name: Use smbvdc.datacenter from an installed tarball
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    smbvdc_branch:
      name: outside
      domain: outside.example.org
      networks:
        - {name: lan, ipv4: 10.99.0.0/24}
  tasks:
    - name: Model
      ansible.builtin.set_fact:
        model: "{{ smbvdc_branch | smbvdc.datacenter.branch_model(groups, hostvars) }}"
    - name: Host facts through libvirt
      smbvdc.datacenter.kvm_host_info:
      register: info
    - name: Write results
      ansible.builtin.copy:
        dest: "{{ playbook_dir }}/result.json"
        mode: "0600"
        content: "{{ {'placement': (model | smbvdc.datacenter.vm_placement).placement,
                      'budget': {'memory_mb': 8192, 'os_reserve_mb': 1024}
                                | smbvdc.datacenter.memory_budget(vms=[{'memory_mb': 1000}], vm_size={'memory_mb': 1000},
                                                                   settings={'vm_overhead_mb': 100}),
                      'mail_ip': (model | smbvdc.datacenter.ip_plan).hosts.mail1.ipv4,
                      'zones': '198.51.100.128/25' | smbvdc.datacenter.ip_plan,
                      'ports': ['mail'] | smbvdc.datacenter.service_ports,
                      'cpus': info.kvm_host.cpus} | to_json }}"
"""

INVENTORY = """
kvm_hosts:
  hosts:
    k1: {kvm_memory_mb: 8192, kvm_vcpus: 4, kvm_disk_gb: 50}
mail:
  hosts:
    mail1: {vm_memory_mb: 1024}
dns_primary:
  hosts:
    ns1: {vm_memory_mb: 512}
"""


def test_filters_and_module_work_outside_the_repo(installed):
    out = installed["outside"]
    (out / "play.yml").write_text(PLAYBOOK)
    (out / "hosts.yml").write_text(INVENTORY)
    subprocess.run([os.path.join(ROOT, "scripts", "start-libvirtd.sh")], check=True, timeout=120)
    run([os.path.join(BIN, "ansible-playbook"), "-i", "hosts.yml", "play.yml"], cwd=str(out), env=installed["env"])
    result = json.loads((out / "result.json").read_text())
    assert result["placement"] == {"mail1": "k1", "ns1": "k1"}
    # y_a = 8192 - 1024 = 7168; allocated 1100; free 6068 -> 5 more 1100-MiB VMs (5 x 1100 = 5500 < 6068)
    assert result["budget"]["available_mb"] == 7168 and result["budget"]["free_mb"] == 6068
    assert result["budget"]["more_vms"] == 5
    assert result["mail_ip"] == "10.99.0.10"
    assert result["zones"][0]["zone"] == "128-255.100.51.198.in-addr.arpa"
    assert {p["port"] for p in result["ports"]} >= {22, 25, 587, 993}
    assert result["cpus"] == os.cpu_count()


ROLE_PLAYBOOK = r"""
- name: The installed role on a systemd container
  hosts: target
  gather_facts: true
  roles:
    - role: smbvdc.datacenter.common
      vars:
        common_admin_users:
          - name: outside
            ssh_keys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIZ13SjrE5DaR1aHcVHETnqYGozOnte5YNbeaqK4Ciza t@outside"]
"""


@pytest.fixture()
def systemd_container():
    name = "smbvdc-outside-%d" % os.getpid()
    subprocess.run([os.path.join(ROOT, "scripts", "build-base-image.sh")], check=True, timeout=1200)
    image = os.environ.get("SMBVDC_BASE_IMAGE", "smbvdc/debian12-systemd:latest")
    subprocess.run(["docker", "run", "-d", "--name", name, "--hostname", name, "--cgroupns", "host",
                    "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw", "--tmpfs", "/run", "--tmpfs", "/run/lock",
                    "--tmpfs", "/tmp", "--cap-add", "SYS_ADMIN", "--cap-add", "NET_ADMIN",
                    "--security-opt", "seccomp=unconfined", image, "/lib/systemd/systemd"],
                   check=True, stdout=subprocess.DEVNULL, timeout=120)
    try:
        for _ in range(90):
            state = subprocess.run(["docker", "exec", name, "systemctl", "is-system-running"],
                                   capture_output=True, text=True).stdout.strip()
            if state in ("running", "degraded"):
                break
            time.sleep(1)
        yield name
    finally:
        subprocess.run(["docker", "rm", "-f", name], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_role_works_outside_the_repo(installed, systemd_container):
    out = installed["outside"]
    (out / "role.yml").write_text(ROLE_PLAYBOOK)
    (out / "role-hosts.yml").write_text(
        "all:\n  hosts:\n    target:\n      ansible_connection: community.docker.docker\n"
        "      ansible_host: %s\n" % systemd_container)
    first = run([os.path.join(BIN, "ansible-playbook"), "-i", "role-hosts.yml", "role.yml"], cwd=str(out),
                env=installed["env"]).stdout
    assert "smbvdc.datacenter.common" in first
    second = run([os.path.join(BIN, "ansible-playbook"), "-i", "role-hosts.yml", "role.yml"], cwd=str(out),
                 env=installed["env"]).stdout
    assert "changed=0" in second, second[-2000:]
    keys = subprocess.run(["docker", "exec", systemd_container, "cat", "/home/outside/.ssh/authorized_keys"],
                          capture_output=True, text=True, check=True).stdout
    assert "t@outside" in keys
    rules = subprocess.run(["docker", "exec", systemd_container, "nft", "list", "ruleset"],
                           capture_output=True, text=True, check=True).stdout
    assert "22" in rules and "policy drop" in rules
