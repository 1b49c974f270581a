#!/usr/bin/env python3
"""Provisioning benchmark: what building and booting the branch's VMs costs here.

Uses the base image of the kvm_host role (default
/var/lib/smbvdc/base/current/disk.qcow2 with vmlinuz and initrd.img beside it)
and the vm role's own domain XML and NoCloud seed (plugins/plugin_utils/
vmconfig.py), on a temporary libvirt NAT network (smbvdc-bench,
10.199.88.0/24, bridge br-smbvdc-bn) that is removed again. Measures:

* clone:  a qcow2 linked clone of the base image (what the vm role does,
          median of 5) against a full copy (qemu-img convert + sync, median
          of 2);
          clone_speedup = full copy time / linked clone time;
* define_start_s: defineXML + create() of one VM (libvirt and QEMU start-up);
* boot_to_ssh_s:  from create() until `ssh root@vm true` succeeds with the
          seed's key, for one VM alone;
* boot4_to_ssh_s: the same for four VMs started together (the last one).

Domain type kvm where the CPU has vmx/svm, else qemu (software emulation,
128 MiB translation cache), as the kvm_host role decides. Needs root,
libvirtd, qemu-img, genisoimage and ssh.

Prints, last, one line:
  provision: clone_speedup=<x> define_start_s=<y> boot_to_ssh_s=<z> boot4_to_ssh_s=<w>
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
import conftest  # noqa: E402,F401  (puts ansible_collections.smbvdc.datacenter on sys.path)

from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import vmconfig  # noqa: E402

URI = "qemu:///system"
NET = "bench"                     # model network name -> libvirt network smbvdc-bench
LIBVIRT_NET = "smbvdc-" + NET
SUBNET = "10.199.88"
PREFIX = "smbvdcbench-"
NET_XML = """<network>
  <name>%s</name>
  <forward mode='nat'/>
  <bridge name='br-smbvdc-bn' stp='on' delay='0'/>
  <ip address='%s.1' prefix='24'/>
</network>""" % (LIBVIRT_NET, SUBNET)


def run(argv, **kw):
    return subprocess.run(argv, check=True, capture_output=True, text=True, **kw)


def timed(argv):
    start = time.perf_counter()
    run(argv)
    return time.perf_counter() - start


def virt_type():
    with open("/proc/cpuinfo") as handle:
        flags = handle.read()
    usable = os.path.exists("/dev/kvm") and (" vmx" in flags or " svm" in flags)
    return "kvm" if usable else "qemu"


def ssh_ok(key, ip):
    proc = subprocess.run(["ssh", "-i", key, "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
                           "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=5",
                           "root@" + ip, "true"], capture_output=True, timeout=60, check=False)
    return proc.returncode == 0


def wait_ssh(key, ips, start, timeout):
    """Seconds from start until each address accepts the key (None: timed out)."""
    done = {}
    while len(done) < len(ips) and time.perf_counter() - start < timeout:
        for ip in ips:
            if ip not in done and ssh_ok(key, ip):
                done[ip] = time.perf_counter() - start
        time.sleep(1)
    return [done.get(ip) for ip in ips]


class Bench(object):
    def __init__(self, args, conn, work):
        self.args = args
        self.conn = conn
        self.work = work
        self.key = os.path.join(work, "id_ed25519")
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "smbvdc-bench", "-f", self.key])
        with open(self.key + ".pub") as handle:
            self.pub = handle.read().strip()
        vt = virt_type() if args.virt_type == "auto" else args.virt_type
        self.host = {"virt_type": vt, "kernel": args.kernel, "initrd": args.initrd, "pool_path": work,
                     "tcg_tb_cache_mb": 128 if vt == "qemu" else None}
        self.network = {"name": NET, "mode": "nat", "bridge": "br-smbvdc-bn", "gateway4": SUBNET + ".1",
                        "prefix4": 24, "gateway6": None, "prefix6": None}

    def vm(self, i):
        name = "b%d" % i
        return {"name": name, "fqdn": "%s.bench.smbvdc.test" % name, "memory_mb": self.args.memory_mb, "vcpus": 1,
                "disk_gb": 3, "network": NET, "groups": [], "ipv4": "%s.%d" % (SUBNET, 10 + i), "ipv6": None}

    def prepare(self, vm):
        """Linked clone + seed ISO, as the vm role does; returns the domain XML."""
        opts = {"name_prefix": PREFIX, "branch": "bench", "console_log_dir": ""}
        paths = vmconfig.disk_paths(vm, self.host, opts)
        run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", self.args.base_image, paths["disk"], "3G"])
        seed = vmconfig.seed(vm, self.network, self.pub, {"branch": "bench"})
        seed_dir = os.path.join(self.work, "seed-" + vm["name"])
        os.makedirs(seed_dir)
        for name, text in seed.items():
            with open(os.path.join(seed_dir, name), "w") as handle:
                handle.write(text)
        run(["genisoimage", "-quiet", "-output", paths["seed"], "-volid", "cidata", "-joliet", "-rock"]
            + [os.path.join(seed_dir, n) for n in ("user-data", "meta-data", "network-config")])
        return vmconfig.domain_xml(vm, self.network, self.host, opts)

    def clone_vs_copy(self):
        linked, full = [], []
        for i in range(5):
            path = os.path.join(self.work, "linked%d.qcow2" % i)
            linked.append(timed(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", self.args.base_image,
                                 path, "3G"]))
        for i in range(2):
            path = os.path.join(self.work, "full%d.qcow2" % i)
            start = time.perf_counter()
            run(["qemu-img", "convert", "-O", "qcow2", self.args.base_image, path])
            run(["sync", "-f", path])  # a copy counts once it is on disk
            full.append(time.perf_counter() - start)
        sizes = {"linked_bytes": os.path.getsize(os.path.join(self.work, "linked0.qcow2")),
                 "full_bytes": os.path.getsize(os.path.join(self.work, "full0.qcow2"))}
        for f in os.listdir(self.work):
            if f.startswith(("linked", "full")):
                os.unlink(os.path.join(self.work, f))
        return statistics.median(linked), statistics.median(full), sizes

    def boot(self, indexes):
        vms = [self.vm(i) for i in indexes]
        xmls = [self.prepare(vm) for vm in vms]
        start = time.perf_counter()
        doms = [self.conn.defineXML(x) for x in xmls]
        for d in doms:
            d.create()
        define_start = time.perf_counter() - start
        ready = wait_ssh(self.key, [vm["ipv4"] for vm in vms], start, self.args.timeout)
        return define_start, ready

    def destroy_all(self):
        import libvirt
        for dom in self.conn.listAllDomains():
            if dom.name().startswith(PREFIX):
                try:
                    if dom.isActive():
                        dom.destroy()
                    dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE)
                except libvirt.libvirtError as exc:
                    print("cleanup: %s: %s" % (dom.name(), exc))
        for f in os.listdir(self.work):
            path = os.path.join(self.work, f)
            if f.startswith(PREFIX):
                os.unlink(path)
            elif f.startswith("seed-"):
                shutil.rmtree(path)


def main():
    default_base = "/var/lib/smbvdc/base/current/disk.qcow2"
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-image", default=default_base,
                        help="base qcow2 (default: the kvm_host role's current image)")
    parser.add_argument("--kernel", help="default: vmlinuz beside the base image")
    parser.add_argument("--initrd", help="default: initrd.img beside the base image")
    parser.add_argument("--memory-mb", type=int, default=256)
    parser.add_argument("--virt-type", choices=["auto", "kvm", "qemu"], default="auto")
    parser.add_argument("--timeout", type=int, default=600, help="seconds to wait for SSH")
    parser.add_argument("--skip-boot4", action="store_true", help="leave out the four-VM boot")
    parser.add_argument("--results", default=os.path.join(ROOT, "bench", "results", "provision.json"))
    args = parser.parse_args()

    if os.geteuid() != 0:
        sys.exit("bench/provision.py needs root (qemu:///system)")
    for tool in ("qemu-img", "genisoimage", "ssh", "ssh-keygen", "virsh"):
        if not shutil.which(tool):
            sys.exit("%s is not installed (the kvm_host and vm roles install it)" % tool)
    if not os.path.exists(args.base_image):
        sys.exit("no base image at %s: build it with playbooks/kvm_hosts.yml (make lab), or pass --base-image"
                 % args.base_image)
    args.base_image = os.path.realpath(args.base_image)
    args.kernel = os.path.realpath(args.kernel or os.path.join(os.path.dirname(args.base_image), "vmlinuz"))
    args.initrd = os.path.realpath(args.initrd or os.path.join(os.path.dirname(args.base_image), "initrd.img"))
    subprocess.run([os.path.join(ROOT, "scripts", "start-libvirtd.sh"), URI], check=True, capture_output=True)

    import libvirt
    libvirt.registerErrorHandler(lambda ctx, err: None, None)
    conn = libvirt.open(URI)
    work = tempfile.mkdtemp(prefix="smbvdc-bench-", dir="/var/tmp")
    os.chmod(work, 0o711)  # QEMU runs as libvirt-qemu and must reach the disks
    net = None
    results = {}
    bench = Bench(args, conn, work)
    try:
        try:
            stale = conn.networkLookupByName(LIBVIRT_NET)
            if stale.isActive():
                stale.destroy()
            stale.undefine()
        except libvirt.libvirtError:
            pass
        net = conn.networkDefineXML(NET_XML)
        net.create()

        linked, full, sizes = bench.clone_vs_copy()
        results.update(linked_clone_s=linked, full_copy_s=full, clone_speedup=full / linked, **sizes)
        print("base image %s (%d MiB on disk), domain type %s" % (args.base_image, sizes["full_bytes"] >> 20,
                                                                  bench.host["virt_type"]))
        print("linked clone %.3f s (%d KiB), full copy %.2f s (%d MiB): %.0fx faster"
              % (linked, sizes["linked_bytes"] >> 10, full, sizes["full_bytes"] >> 20, full / linked))

        define_start, (ready,) = bench.boot([1])
        results.update(define_start_s=define_start, boot_to_ssh_s=ready)
        print("1 VM (%d MiB): define+start %.2f s, boot to SSH %s s" % (args.memory_mb, define_start,
                                                                       "%.0f" % ready if ready else "TIMEOUT"))
        bench.destroy_all()

        if not args.skip_boot4:
            define_start4, ready4 = bench.boot([1, 2, 3, 4])
            last = None if None in ready4 else max(ready4)
            results.update(define_start4_s=define_start4, boot4_each_s=ready4, boot4_to_ssh_s=last)
            print("4 VMs together: define+start %.2f s, SSH after %s s (last %s s)"
                  % (define_start4, ", ".join("%.0f" % r if r else "TIMEOUT" for r in ready4),
                     "%.0f" % last if last else "TIMEOUT"))
            bench.destroy_all()
    finally:
        bench.destroy_all()
        if net is not None:
            try:
                net.destroy()
            except libvirt.libvirtError:
                pass
            net.undefine()
        shutil.rmtree(work, ignore_errors=True)
        conn.close()

    os.makedirs(os.path.dirname(args.results), exist_ok=True)
    with open(args.results, "w") as handle:
        json.dump(results, handle, indent=2)

    def fmt(value, digits):
        return ("%." + str(digits) + "f") % value if isinstance(value, (int, float)) else "timeout"

    print("provision: clone_speedup=%s define_start_s=%s boot_to_ssh_s=%s boot4_to_ssh_s=%s"
          % (fmt(results["clone_speedup"], 0), fmt(results["define_start_s"], 2), fmt(results["boot_to_ssh_s"], 0),
             fmt(results.get("boot4_to_ssh_s", "skipped") if not args.skip_boot4 else None, 0)))
    return 0 if results["boot_to_ssh_s"] and (args.skip_boot4 or results.get("boot4_to_ssh_s")) else 1


if __name__ == "__main__":
    sys.exit(main())
