"""Web checks of a running branch, from the branch model (for scripts/lab-check.py and molecule verify).

For every site of every web VM (``smbvdc.datacenter.web_sites``): the HTTPS
certificate of each of its names validates against the branch CA
(``<inventory>/.smbvdc/ca/ca.crt``), plain HTTP redirects to the site's
``wwwroot``, HTTPS answers; for a Moodle site, the admin logs in through the
login form (logintoken, session cookie) with the password from
``<inventory>/.smbvdc/secrets`` and sees the dashboard; for a file cloud
(Nextcloud) site, status.php says installed and not in maintenance. Names are resolved to
the VM's address from the model inside this process only (the machine
running the check need not use the branch's DNS). Passwords are never printed.

    import webcheck
    webcheck.web_checks(model, inventory_dir, check)   # check(name, ok, detail="")
"""

from __future__ import annotations

import contextlib
import re
import socket
import ssl
from pathlib import Path

import requests

from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import web as webmod


@contextlib.contextmanager
def resolve(names):
    """``socket.getaddrinfo`` answers ``names`` (``{name: address}``) from the mapping while inside."""
    real = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        return real(names.get(host, host) if isinstance(host, str) else host, *args, **kwargs)

    socket.getaddrinfo = getaddrinfo
    try:
        yield
    finally:
        socket.getaddrinfo = real


def session(ca):
    s = requests.Session()
    s.verify = str(ca)
    s.trust_env = False     # REQUESTS_CA_BUNDLE would replace the branch CA
    return s


def chain_ok(address, name, ca, timeout=30):
    """(ok, detail): the certificate served for ``name`` validates against ``ca`` and carries the name."""
    ctx = ssl.create_default_context(cafile=str(ca))
    try:
        with socket.create_connection((address, 443), timeout=timeout) as raw:
            with ctx.wrap_socket(raw, server_hostname=name) as tls:
                issuer = dict(x[0] for x in tls.getpeercert()["issuer"])
                return True, "issuer %s" % issuer.get("commonName")
    except (OSError, ssl.SSLError) as exc:
        return False, str(exc)


def moodle_login(s, wwwroot, user, password, timeout=120):
    """(ok, detail): the login form, then the dashboard shows the user logged in."""
    form = s.get(wwwroot + "/login/index.php", timeout=timeout)
    token = re.search(r'name="logintoken" value="([^"]+)"', form.text)
    if form.status_code != 200 or not token:
        return False, "login form: HTTP %d%s" % (form.status_code, "" if token else ", no logintoken")
    s.post(wwwroot + "/login/index.php", timeout=timeout,
           data={"username": user, "password": password, "logintoken": token.group(1), "anchor": ""})
    dash = s.get(wwwroot + "/my/", timeout=timeout)
    ok = dash.status_code == 200 and 'id="page-my-index"' in dash.text and "login/logout.php?sesskey=" in dash.text
    cookie = [c for c in s.cookies if c.name == "MoodleSession"]
    return ok and bool(cookie) and cookie[0].secure, "dashboard: HTTP %d" % dash.status_code


def nextcloud_status(s, wwwroot, timeout=60):
    """(ok, detail): the file cloud's status.php says installed, not in maintenance ("File cloud status" in Nagios)."""
    r = s.get(wwwroot + "/status.php", timeout=timeout)
    try:
        status = r.json() if r.status_code == 200 else {}
    except ValueError:
        status = {}
    ok = status.get("installed") is True and status.get("maintenance") is False
    shown = {k: status.get(k) for k in ("installed", "maintenance", "versionstring")}
    return ok, "HTTP %d, %s" % (r.status_code, shown)


def dns_address(server, name, timeout=10):
    """The A record of ``name`` as ``server`` answers it (CNAMEs followed inside the answer), or None."""
    import dns.message
    import dns.query
    import dns.rdatatype
    answer = dns.query.udp(dns.message.make_query(name, dns.rdatatype.A), server, timeout=timeout)
    for rrset in answer.answer:
        if rrset.rdtype == dns.rdatatype.A:
            return rrset[0].address
    return None


def web_checks(model, inventory_dir, check, admin_user="admin", ca=None, secrets=None, dns_servers=()):
    """Run the checks, reporting each through ``check(name, ok, detail)``; returns the number run.

    ``ca`` and ``secrets`` default to the inventory's ``.smbvdc/ca/ca.crt`` and ``.smbvdc/secrets``.
    With ``dns_servers`` (addresses of the branch's DNS servers), every site name must first resolve
    there to its VM's address: the site is reachable at its DNS name, not only at the address the
    model gives.
    """
    ca = Path(ca) if ca else Path(inventory_dir) / ".smbvdc" / "ca" / "ca.crt"
    secrets = Path(secrets) if secrets else Path(inventory_dir) / ".smbvdc" / "secrets"
    n = 0
    for host, w in sorted(webmod.web_sites(model).items()):
        if not w["addresses"]:
            continue
        address = w["addresses"][0]
        names = {name: address for s in w["sites"] for name in s["names"]}
        names[w["fqdn"]] = address
        for server in dns_servers:
            for name in sorted(names):
                try:
                    got = dns_address(server, name)
                except Exception as exc:  # pylint: disable=broad-except  (a DNS failure is a failed check)
                    got = "error: %s" % exc
                check("%s: %s resolves to %s at DNS server %s" % (host, name, address, server), got == address,
                      "answer %s" % got)
                n += 1
        with resolve(names):
            for site in w["sites"]:
                s = session(ca)
                for name in site["names"]:
                    ok, detail = chain_ok(address, name, ca)
                    check("%s: certificate of %s validates against the branch CA" % (host, name), ok, detail)
                    n += 1
                try:
                    r = s.get("http://%s/" % site["name"], allow_redirects=False, timeout=30)
                    check("%s: http://%s/ redirects to %s" % (host, site["name"], site["wwwroot"]),
                          r.status_code == 301 and r.headers.get("Location", "").startswith(site["wwwroot"]),
                          "HTTP %d %s" % (r.status_code, r.headers.get("Location", "")))
                    r = s.get(site["wwwroot"] + "/", timeout=60)
                    check("%s: %s answers over HTTPS with HSTS" % (host, site["wwwroot"]),
                          r.status_code < 400 and "Strict-Transport-Security" in r.headers, "HTTP %d" % r.status_code)
                    if site["app"] == "moodle":
                        pw = secrets / ("moodle-%s-%s.password" % (host, admin_user))
                        ok, detail = (moodle_login(s, site["wwwroot"], admin_user, pw.read_text().strip())
                                      if pw.exists() else (False, "no %s" % pw))
                        check("%s: Moodle admin logs in at %s" % (host, site["wwwroot"]), ok, detail)
                    elif site["app"] == "nextcloud":
                        ok, detail = nextcloud_status(s, site["wwwroot"])
                        check("%s: %s/status.php says installed" % (host, site["wwwroot"]), ok, detail)
                except requests.RequestException as exc:
                    check("%s: %s answers" % (host, site["wwwroot"]), False, exc)
                n += 3
    return n
