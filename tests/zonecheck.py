"""Check a branch's generated zones with BIND's named-checkzone, a peer validator.

Every zone the model generates for an inventory is rendered exactly as the
nsd role renders it and checked with the strictest flags::

    named-checkzone -k fail -m fail -M fail -n fail -S fail -i full

With ``-i full`` BIND resolves out-of-zone MX and NS targets (and names below
a delegation) through the system resolver. On a build machine without
internet that would be a timeout, and in a real branch those names resolve
through the branch's own name servers. So each check runs in a private mount
namespace (``unshare -m``) whose /etc/nsswitch.conf says ``hosts: files`` and
whose /etc/hosts holds the A/AAAA records of the branch's own zones: a
target resolves if, and only if, the branch's zones give it an address.
Nothing on the machine is changed.

Used by tests/unit/plugins/plugin_utils/test_zones_bind.py and runnable alone:
``python tests/zonecheck.py inventories/example-branch``.
"""

import base64
import os
import shutil
import subprocess
import sys
import tempfile

import dns.rdatatype
import dns.zone

STRICT = ["-k", "fail", "-m", "fail", "-M", "fail", "-n", "fail", "-S", "fail", "-i", "full"]


def checker():
    """Path of named-checkzone, or None."""
    return shutil.which("named-checkzone") or (os.path.exists("/usr/bin/named-checkzone")
                                                and "/usr/bin/named-checkzone") or None


def can_unshare():
    return os.geteuid() == 0 and shutil.which("unshare") is not None


def dkim_public_key():
    """A real RSA public key (base64 SubjectPublicKeyInfo), as the mail role hands to NSD."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode()


def render_all(model, zones, today=None):
    """``{zone name: zone-file text}``, rendered as the nsd role does."""
    from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import dns as dnsgen

    return {name: dnsgen.render_zone(z, model, today=today) for name, z in zones.items()}


def hosts_file(texts):
    """/etc/hosts lines with every A/AAAA record the branch's zones hold (glue included)."""
    lines = []
    for name, text in sorted(texts.items()):
        parsed = dns.zone.from_text(text, origin=name + ".", relativize=False, check_origin=False)
        for owner, node in parsed.nodes.items():
            for rds in node.rdatasets:
                if rds.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
                    for rd in rds:
                        # both spellings: BIND asks getaddrinfo for the absolute name (trailing dot)
                        name = owner.to_text().rstrip(".")
                        lines.append("%s %s %s." % (rd.address, name, name))
    return "\n".join(sorted(set(lines))) + "\n"


def check(texts, workdir):
    """Run named-checkzone on every zone; ``{zone: (returncode, output)}``."""
    os.makedirs(workdir, exist_ok=True)
    hosts = os.path.join(workdir, "hosts")
    with open(hosts, "w") as f:
        f.write("127.0.0.1 localhost\n::1 localhost\n" + hosts_file(texts))
    nss = os.path.join(workdir, "nsswitch.conf")
    with open(nss, "w") as f:
        f.write("hosts: files\n")
    script = os.path.join(workdir, "check.sh")
    with open(script, "w") as f:
        f.write("set -e\nmount --bind %s /etc/hosts\nmount --bind %s /etc/nsswitch.conf\nexec %s \"$@\"\n"
                % (hosts, nss, checker()))
    out = {}
    for name, text in sorted(texts.items()):
        path = os.path.join(workdir, name + ".zone")
        with open(path, "w") as f:
            f.write(text)
        proc = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", script] + STRICT + [name, path],
                              capture_output=True, text=True, timeout=60)
        out[name] = (proc.returncode, (proc.stdout + proc.stderr).strip())
    return out


def warnings(output):
    """The lines of named-checkzone's output other than the load summary and OK."""
    return [line for line in output.splitlines()
            if line.strip() and not line.startswith("zone ") and line.strip() != "OK"
            or (line.startswith("zone ") and "loaded serial" not in line)]


def model_and_zones(inventory):
    """Build the model and zones of an inventory directory the way the playbooks do."""
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, here)
    import conftest  # noqa: F401  (makes ansible_collections.smbvdc.datacenter importable)
    import inventory_groups
    from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import dns as dnsgen
    from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import model as modelmod

    inv_bin = os.path.join(os.path.dirname(sys.executable), "ansible-inventory")
    hostvars, groups = inventory_groups.load(inv_bin if os.path.exists(inv_bin) else "ansible-inventory", inventory)
    branch = next(iter(hostvars.values()))["smbvdc_branch"]
    m = modelmod.build_model(branch, {"groups": groups, "hostvars": hostvars})
    pub = dkim_public_key()
    keys = {d: {"selector": m["mail"]["dkim_selector"], "public_key": pub} for d in m["mail_domains"]} \
        if m["services"].get("mail") else {}
    return m, dnsgen.build_zones(m, keys)


def main(argv):
    failed = 0
    for inv in argv:
        m, zones = model_and_zones(inv)
        texts = render_all(m, zones)
        with tempfile.TemporaryDirectory(prefix="zonecheck-") as tmp:
            for name, (rc, output) in check(texts, tmp).items():
                bad = rc != 0 or warnings(output)
                failed += bool(bad)
                print("%s %s %s" % ("FAIL" if bad else "ok  ", inv, name))
                if bad:
                    print("    " + output.replace("\n", "\n    "))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
