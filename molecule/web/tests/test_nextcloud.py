"""The file cloud (Nextcloud) on web1 (molecule verify -s web).

Two parts, and the second one only with a real release archive:

1. Always (CI): everything up to the installer. The cloud site's virtual
   host answers over HTTPS with a certificate of the branch CA, plain HTTP
   redirects, Nextcloud's DAV redirects are there; the ``nextcloud`` PHP-FPM
   pool runs as its own user and, asked over its own FastCGI socket, has the
   PHP modules and settings Nextcloud needs loaded (APCu, gd, intl, ...,
   memory_limit 512M, opcache, PATH in the environment); the database and
   its user exist with utf8mb4; the data directory is outside the web root,
   owned by the pool user, 0770; the background jobs timer is there.
2. With ``NEXTCLOUD_ARCHIVE=/path/to/nextcloud-<version>.tar.bz2`` (the
   converge installed it): ``occ status`` says installed, status.php over
   HTTPS says installed, the admin logs in over WebDAV with the generated
   password (and a wrong one is refused), the settings from the model are in
   config.php, a background jobs run succeeds. Without the archive these
   tests are skipped with the reason, and a line in the output says the
   real-archive part did NOT run: it is never counted as passed.
"""

from __future__ import annotations

import json
import os
import re
import socket
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
import requests

# the scenario's names, and the autouse fixture that resolves them to the VM
# (pytest runs with --import-mode=importlib: this folder is not on sys.path)
sys.path.insert(0, str(Path(__file__).resolve().parent))
from webscenario import DOMAIN, WEB, resolve_test_domain  # noqa: E402,F401

CLOUD = "cloud." + DOMAIN
EPHEMERAL = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"])
CA = EPHEMERAL / "ca" / "ca.crt"
SECRETS = EPHEMERAL / "secrets"
PHP = "/usr/bin/php8.2"
CODE = "/var/www/nextcloud"
DATA = "/var/lib/nextcloud/data"
SOCKET = "/run/php/php8.2-fpm-nextcloud.sock"
ARCHIVE = os.environ.get("NEXTCLOUD_ARCHIVE", "")
REAL = pytest.mark.skipif(not ARCHIVE, reason="real-archive test NOT RUN: NEXTCLOUD_ARCHIVE is not set (no Nextcloud "
                                              "release archive on this machine)")
# The modules Nextcloud's setup check requires or recommends (imagick is
# left out in the scenario: nextcloud_imagick: false).
MODULES = ["apcu", "bcmath", "ctype", "curl", "dom", "fileinfo", "gd", "gmp", "intl", "json", "libxml",
           "mbstring", "openssl", "pdo_mysql", "posix", "session", "SimpleXML", "sodium", "xmlreader", "xmlwriter",
           "zip", "zlib", "bz2", "Zend OPcache"]

@pytest.fixture(scope="module", autouse=True)
def say_whether_the_real_archive_part_ran(request):
    """A line in the test output, after this module's tests, that nobody can miss."""
    yield
    line = ("nextcloud real-archive test: RUN with %s" % ARCHIVE if ARCHIVE else
            "nextcloud real-archive test: NOT RUN - NEXTCLOUD_ARCHIVE is not set, so the install, occ status, "
            "status.php and the WebDAV login were not tested here (skipped, not passed)")
    # past pytest's output capture (the skipped tests' reasons say it too)
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():
        sys.stdout.write("\n%s\n" % line)
        sys.stdout.flush()


def sh(*cmd, check=True, stdin=None):
    return subprocess.run(["docker", "exec", "-i", "web1", *cmd], check=check, capture_output=True, text=True,
                          input=stdin)


def occ(*args, check=True):
    return sh("runuser", "-u", "nextcloud", "--", PHP, CODE + "/occ", "--no-ansi", *args, check=check)


def session():
    s = requests.Session()
    s.verify = str(CA)
    s.trust_env = False
    return s


# A FastCGI request straight to the pool's socket (as www-data, the only
# user Apache's side of the socket allows): what PHP-FPM has loaded for
# Nextcloud, not what the CLI has.
FCGI_CLIENT = r'''
import socket, struct, sys
def rec(kind, content):
    return struct.pack("!BBHHBx", 1, kind, 1, len(content), 0) + content
def length(n):
    return bytes([n]) if n < 128 else struct.pack("!I", n | 0x80000000)
def pair(k, v):
    k, v = k.encode(), v.encode()
    return length(len(k)) + length(len(v)) + k + v
def recvall(s, n):
    out = b""
    while len(out) < n:
        chunk = s.recv(n - len(out))
        if not chunk:
            raise SystemExit("connection closed")
        out += chunk
    return out
script = sys.argv[2]
params = {"SCRIPT_FILENAME": script, "SCRIPT_NAME": "/probe.php", "REQUEST_METHOD": "GET",
          "REQUEST_URI": "/probe.php", "QUERY_STRING": "", "SERVER_PROTOCOL": "HTTP/1.1",
          "GATEWAY_INTERFACE": "CGI/1.1", "SERVER_NAME": "probe", "SERVER_PORT": "443",
          "REMOTE_ADDR": "127.0.0.1", "DOCUMENT_ROOT": "/nonexistent"}
s = socket.socket(socket.AF_UNIX)
s.settimeout(60)
s.connect(sys.argv[1])
body = b"".join(pair(k, v) for k, v in params.items())
s.sendall(rec(1, struct.pack("!HB5x", 1, 0)) + rec(4, body) + rec(4, b"") + rec(5, b""))
out = b""
while True:
    _v, kind, _id, clen, plen = struct.unpack("!BBHHBx", recvall(s, 8))
    content = recvall(s, clen)
    recvall(s, plen)
    if kind == 6:
        out += content
    elif kind == 3:
        break
sys.stdout.write(out.decode().split("\r\n\r\n", 1)[-1])
'''

PROBE = r'''<?php
header('Content-Type: application/json');
echo json_encode([
    'user' => posix_getpwuid(posix_geteuid())['name'],
    'extensions' => get_loaded_extensions(),
    'memory_limit' => ini_get('memory_limit'),
    'upload_max_filesize' => ini_get('upload_max_filesize'),
    'output_buffering' => ini_get('output_buffering'),
    'opcache' => function_exists('opcache_get_status') && opcache_get_status(false) !== false,
    'opcache_interned' => ini_get('opcache.interned_strings_buffer'),
    'apcu' => function_exists('apcu_enabled') && apcu_enabled(),
    'path' => getenv('PATH'),
]);
'''


@pytest.fixture(scope="module")
def pool():
    """What the nextcloud pool answers to the probe script."""
    probe = "/usr/local/share/smbvdc-test-nextcloud-probe.php"
    sh("sh", "-c", "cat > %s && chmod 0644 %s" % (probe, probe), stdin=PROBE)
    out = sh("runuser", "-u", "www-data", "--", "python3", "-c", FCGI_CLIENT, SOCKET, probe)
    return json.loads(out.stdout)


# --- 1. up to the installer (always) ---------------------------------------------------------------
def test_cloud_certificate_validates_against_the_branch_ca():
    ctx = ssl.create_default_context(cafile=str(CA))
    with socket.create_connection((WEB, 443), timeout=30) as raw:
        with ctx.wrap_socket(raw, server_hostname=CLOUD) as tls:
            cert = tls.getpeercert()
    assert CLOUD in [v for k, v in cert["subjectAltName"] if k == "DNS"]


def test_cloud_vhost_answers_over_https():
    r = session().get("http://%s/status.php" % CLOUD, allow_redirects=False, timeout=30)
    assert r.status_code == 301 and r.headers["Location"] == "https://%s/status.php" % CLOUD
    r = session().get("https://%s/status.php" % CLOUD, allow_redirects=False, timeout=60)
    assert r.headers["Strict-Transport-Security"] == "max-age=31536000"
    # Nextcloud's own redirects of the site's virtual host (not the default one)
    dav = session().get("https://%s/.well-known/caldav" % CLOUD, allow_redirects=False, timeout=30)
    assert dav.status_code == 301 and dav.headers["Location"] == "https://%s/remote.php/dav" % CLOUD
    # code and config are never served
    assert session().get("https://%s/config/config.php" % CLOUD, timeout=30).status_code in (403, 404)


def test_the_pool_runs_as_its_own_user(host, pool):
    conf = host.file("/etc/php/8.2/fpm/pool.d/smbvdc-nextcloud.conf").content_string
    assert "user = nextcloud" in conf and "listen = %s" % SOCKET in conf
    assert "env[PATH] = /usr/local/bin:/usr/bin:/bin" in conf
    assert pool["user"] == "nextcloud"
    users = sh("ps", "-o", "user=", "-C", "php-fpm8.2").stdout.split()
    assert "nextcloud" in users and "moodle" in users


def test_the_pool_has_the_php_modules_and_settings_nextcloud_needs(pool):
    missing = [m for m in MODULES if m not in pool["extensions"]]
    assert not missing, missing
    assert pool["memory_limit"] == "512M"
    assert pool["upload_max_filesize"] == "512M"
    assert pool["output_buffering"] in ("0", "")
    assert pool["opcache"], "opcache is not enabled in the pool"
    assert int(pool["opcache_interned"]) >= 8
    assert pool["apcu"], "APCu is not enabled in the pool"
    assert pool["path"], "getenv('PATH') is empty in the pool (Nextcloud's setup check warns)"


def test_the_cli_has_apcu_for_cron_and_occ():
    out = sh(PHP, "-r", "echo ini_get('apc.enable_cli'), ' ', ini_get('memory_limit');").stdout.split()
    assert out == ["1", "512M"]


def test_database_and_user_exist_with_utf8mb4():
    out = sh("mysql", "-N", "-e", "SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM "
             "information_schema.SCHEMATA WHERE SCHEMA_NAME = 'nextcloud'").stdout.split()
    assert out == ["utf8mb4", "utf8mb4_unicode_ci"]
    grants = sh("mysql", "-N", "-e", "SHOW GRANTS FOR 'nextcloud'@'localhost'").stdout
    assert "ON `nextcloud`.*" in grants and "ALL PRIVILEGES" in grants
    pw = SECRETS / "mariadb-web1-nextcloud@localhost.password"
    assert oct(pw.stat().st_mode & 0o777) == "0o600"
    # the user logs in with the generated password (given on stdin, not argv)
    login = sh("sh", "-c", "read -r p && MYSQL_PWD=\"$p\" mysql -u nextcloud -N -e 'SELECT CURRENT_USER()' nextcloud",
               stdin=pw.read_text().strip() + "\n")
    assert login.stdout.strip() == "nextcloud@localhost"


def test_data_directory_is_outside_the_web_root(host):
    data = host.file(DATA)
    assert data.is_directory
    assert (data.user, data.group, data.mode) == ("nextcloud", "nextcloud", 0o770)
    parent = host.file(os.path.dirname(DATA))
    assert (parent.user, parent.group) == ("root", "nextcloud") and not parent.mode & 0o007
    docroot = re.search(r"DocumentRoot (\S+)", host.file(
        "/etc/apache2/sites-available/smbvdc-%s.conf" % CLOUD).content_string).group(1)
    assert docroot == CODE and not DATA.startswith(docroot + "/")


def test_the_data_directory_is_what_the_backup_plan_saves():
    sys.path.insert(0, str(Path(os.environ["MOLECULE_PROJECT_DIRECTORY"]) / "tests"))
    import conftest  # noqa: F401  (ansible_collections.smbvdc.datacenter importable)
    from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import checks
    assert DATA in dict(checks.SERVICE_PATHS["owncloud"])


def test_background_jobs_timer_is_there(host):
    timer = host.file("/etc/systemd/system/nextcloud-cron.timer").content_string
    assert "OnCalendar=*:0/5" in timer
    service = host.file("/etc/systemd/system/nextcloud-cron.service").content_string
    assert "User=nextcloud" in service and "ExecStart=%s -f %s/cron.php" % (PHP, CODE) in service
    assert sh("systemctl", "is-enabled", "nextcloud-cron.timer").stdout.strip() == "enabled"
    assert sh("systemctl", "is-active", "nextcloud-cron.timer").stdout.strip() == "active"


def test_without_the_archive_the_role_stopped_before_the_code():
    if ARCHIVE:
        pytest.skip("the archive was given: the code is installed (the real-archive tests below)")
    assert sh("test", "-e", CODE, check=False).returncode != 0, "code without an archive?"
    assert sh("test", "-e", "/usr/local/lib/smbvdc/nextcloud-install.php", check=False).returncode != 0


# --- 2. with the real release archive (NEXTCLOUD_ARCHIVE) -----------------------------------------------
def admin_password():
    return (SECRETS / "nextcloud-web1-admin.password").read_text().strip()


@REAL
def test_occ_status_says_installed():
    status = json.loads(re.search(r"\{.*\}", occ("status", "--output=json").stdout).group(0))
    assert status["installed"] is True and status["maintenance"] is False
    assert status["needsDbUpgrade"] is False


@REAL
def test_status_php_over_https():
    r = session().get("https://%s/status.php" % CLOUD, timeout=120)
    assert r.status_code == 200, r.text[:500]
    status = r.json()
    assert status["installed"] is True and status["maintenance"] is False
    assert status["productname"] == "Nextcloud"


@REAL
def test_admin_logs_in_over_webdav():
    url = "https://%s/remote.php/dav/files/admin/" % CLOUD
    r = session().request("PROPFIND", url, auth=("admin", admin_password()), headers={"Depth": "1"}, timeout=120)
    assert r.status_code == 207, r.text[:500]
    assert "<d:multistatus" in r.text
    # a file round trip
    put = session().put(url + "smbvdc-test.txt", data=b"file cloud test\n", auth=("admin", admin_password()),
                        timeout=120)
    assert put.status_code in (201, 204)
    get = session().get(url + "smbvdc-test.txt", auth=("admin", admin_password()), timeout=120)
    assert get.content == b"file cloud test\n"
    # ... and the file is in the data directory outside the web root
    assert sh("test", "-f", DATA + "/admin/files/smbvdc-test.txt", check=False).returncode == 0


@REAL
def test_a_wrong_password_is_refused():
    r = session().request("PROPFIND", "https://%s/remote.php/dav/files/admin/" % CLOUD,
                          auth=("admin", admin_password() + "x"), headers={"Depth": "0"}, timeout=120)
    assert r.status_code == 401


@REAL
def test_settings_from_the_model():
    system = json.loads(re.search(r"\{.*\}", occ("config:list", "system", "--output=json").stdout).group(0))["system"]
    assert system["trusted_domains"] == [CLOUD]
    assert system["overwrite.cli.url"] == "https://%s" % CLOUD
    assert system["overwriteprotocol"] == "https"
    assert system["memcache.local"] == "\\OC\\Memcache\\APCu"
    assert system["datadirectory"] == DATA
    assert system["dbtype"] == "mysql" and system["mysql.utf8mb4"] is True
    assert occ("config:app:get", "core", "backgroundjobs_mode").stdout.strip() == "cron"


@REAL
def test_background_jobs_run(host):
    sh("systemctl", "start", "nextcloud-cron.service")
    props = dict(line.split("=", 1) for line in sh("systemctl", "show", "nextcloud-cron.service",
                                                    "--property=Result,ExecMainStatus").stdout.splitlines())
    assert props == {"Result": "success", "ExecMainStatus": "0"}


@REAL
def test_ownership_and_secrets(host):
    code = host.file(CODE + "/index.php")
    assert code.user == "root" and not code.mode & 0o022
    config = host.file(CODE + "/config/config.php")
    assert (config.user, config.group) == ("nextcloud", "nextcloud") and not config.mode & 0o007
    assert host.file(CODE + "/apps").user == "nextcloud"
    assert host.file(CODE + "/lib").user == "root"
    assert oct((SECRETS / "nextcloud-web1-admin.password").stat().st_mode & 0o777) == "0o600"
    secret = admin_password()
    assert secret not in sh("sh", "-c", "journalctl --no-pager -q; cat /var/log/apache2/*.log; ps auxww").stdout
