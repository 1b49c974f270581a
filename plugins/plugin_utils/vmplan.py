# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smbvdc.datacenter developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Everything the vm role needs for one KVM host, computed in one call.

``host_plan(model, host, facts, options)`` takes the branch model (already
validated: nothing is checked again here beyond what only the KVM host's facts
can tell), the facts the kvm_host role published for this host and the role's
options, and returns per VM the libvirt definition, the system disk, the data
disks, the NoCloud seed files, the wanted state and how the next plays reach
it. The role passes each domain to the vm_domain module and writes the seeds; it holds no
logic of its own.
"""

from __future__ import annotations

from . import vmconfig
from .errors import Collector, ModelError, Problem

# The role's options this module reads (with their defaults).
OPTION_DEFAULTS = {
    "name_prefix": "",
    "machine": "pc",
    "cmdline_extra": "",
    "default_state": "running",
    "autostart": True,
    "admin_user": "root",
    "ssh_public_keys": [],
    "dns_servers": [],
    "dns_search": [],
    "timezone": "",
    "ipv6_accept_ra": False,
    "apt_proxy": "auto",
    "seed_dir": None,
    # false: only names, states and access (lifecycle actions need no
    # definitions, and the KVM host's facts are not gathered for them)
    "render": True,
    # access from the controller
    "ssh_key_path": "",
    "known_hosts_file": "",
    "ssh_proxy_jump": "auto",
    "ssh_common_args": "",
    "kvm_is_local": False,
    "kvm_ssh": "",
}

# What the kvm_host role publishes (kvm_host_<key>).
FACT_KEYS = ("virt_type", "base_image", "kernel", "initrd", "pool_path", "tcg_tb_cache_mb", "kernel_cmdline",
             "apt_proxy_urls")


def _options(options):
    opts = dict(OPTION_DEFAULTS)
    problems = Collector()
    for key, value in (options or {}).items():
        if key not in OPTION_DEFAULTS:
            problems.add("options.%s" % key, "is not an option of the VM plan.",
                         "use one of: %s." % ", ".join(sorted(OPTION_DEFAULTS)))
        elif value is not None:
            opts[key] = value
    problems.raise_if_any(title="the vm role's options are not valid")
    return opts


def ready_entry(vm, network, opts, host):
    """How the plays after the vm role reach ``vm`` (the add_host arguments)."""
    jump = opts["ssh_proxy_jump"] == "always" or (
        opts["ssh_proxy_jump"] == "auto" and network["mode"] != "bridge" and not opts["kvm_is_local"])
    args = "-o UserKnownHostsFile=%s -o StrictHostKeyChecking=accept-new" % opts["known_hosts_file"]
    if jump and opts["kvm_ssh"]:
        args += " -o ProxyJump=%s" % opts["kvm_ssh"]
    if opts["ssh_common_args"]:
        args += " " + str(opts["ssh_common_args"]).strip()
    entry = {"name": vm["name"], "ansible_host": vm["ipv4"], "ansible_user": opts["admin_user"],
             "ansible_ssh_private_key_file": opts["ssh_key_path"], "ansible_ssh_common_args": args.strip(),
             "smbvdc_kvm_host": host}
    # ansible_become only for a non-root admin user: as a host variable it overrides the tasks' own
    # become keyword, and ansible_become: false made every become_user task of the roles (amlabel as
    # backup, ...) run as root on real VMs (molecule's containers never had the variable).
    if opts["admin_user"] != "root":
        entry["ansible_become"] = True
    return entry


def host_plan(model, host, facts, options=None):
    """The VMs the model places on ``host``, ready for the vm_domain module.

    :returns: ``{host, names, build, undefine, domains, seed_files, ready}``;
        ``domains[name]`` holds ``domain`` (libvirt name), ``state``, ``xml``,
        ``disk`` ({path, base, size_gb}), ``data_disks`` ([{path, size_gb}],
        from ``vm_data_disks``), ``seed_iso``, ``seed_dir``, ``ipv4``.
        ``xml`` and ``disk`` are None, ``data_disks`` empty, for VMs to undefine.
    """
    opts = _options(options)
    if host not in model.get("kvm_hosts", {}):
        raise ValueError(
            "%s is not a KVM host of the branch (kvm_hosts: %s); run the vm role on the kvm_hosts group"
            % (host, ", ".join(sorted(model.get("kvm_hosts", {}))) or "none"))
    facts = dict(facts or {})
    names = sorted(model["kvm_hosts"][host]["vms"])
    wanted = dict((n, model["vms"][n].get("state") or opts["default_state"]) for n in names)
    build = [n for n in names if wanted[n] != "undefined"]
    plan = {"host": host, "names": names, "build": build, "undefine": [n for n in names if n not in build],
            "domains": {}, "seed_files": [], "ready": {}}
    host_facts = None
    if build and opts["render"]:
        host_facts = vmconfig.host_settings(facts)  # names the kvm_host_* fact and the fix
        if not str(facts.get("base_image") or "").startswith("/"):
            raise ModelError([Problem(
                "kvm_host_base_image", "must be an absolute path on the KVM host, got %r." % (facts.get("base_image"),),
                "run the smbvdc.datacenter.kvm_host role first (it builds the base image and sets this fact).")],
                title="the KVM host facts are not valid")
    seed_dir = opts["seed_dir"] or "%s/seed" % (host_facts or facts or {}).get("pool_path", "/var/lib/smbvdc/images")
    domain_options = {"name_prefix": opts["name_prefix"], "machine": opts["machine"],
                      "cmdline": facts.get("kernel_cmdline") or None, "cmdline_extra": opts["cmdline_extra"],
                      "branch": model.get("name") or ""}
    proxies = facts.get("apt_proxy_urls") or {}
    for n in names:
        vm = model["vms"][n]
        network = model["networks"][vm["network"]]
        dom = vmconfig.domain_name(vm, domain_options)
        entry = {"name": n, "domain": dom, "state": wanted[n], "ipv4": vm["ipv4"], "xml": None, "disk": None,
                 "data_disks": [], "seed_iso": None, "seed_dir": "%s/%s" % (seed_dir, dom)}
        plan["ready"][n] = ready_entry(vm, network, opts, host)
        if n in build and opts["render"]:
            paths = vmconfig.disk_paths(vm, host_facts, domain_options)
            entry["xml"] = vmconfig.domain_xml(vm, network, host_facts, domain_options)
            entry["disk"] = {"path": paths["disk"], "base": facts["base_image"], "size_gb": vm["disk_gb"]}
            entry["data_disks"] = [{"path": d["path"], "size_gb": d["size_gb"]} for d in paths["data"]]
            entry["seed_iso"] = paths["seed"]
            proxy = (proxies.get(vm["network"]) or "") if opts["apt_proxy"] == "auto" else opts["apt_proxy"]
            seed = vmconfig.seed(vm, network, list(opts["ssh_public_keys"]), {
                "admin_user": opts["admin_user"], "dns_servers": opts["dns_servers"] or None,
                "dns_search": opts["dns_search"] or None, "timezone": opts["timezone"],
                "ipv6_accept_ra": bool(opts["ipv6_accept_ra"]), "branch": model.get("name") or "",
                "apt_proxy": proxy})
            for fname in ("user-data", "meta-data", "network-config"):
                plan["seed_files"].append({"name": n, "dir": entry["seed_dir"], "file": fname,
                                           "path": "%s/%s" % (entry["seed_dir"], fname), "content": seed[fname]})
        plan["domains"][n] = entry
    return plan
