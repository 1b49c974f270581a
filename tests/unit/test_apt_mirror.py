"""roles/kvm_host/files/smbvdc-apt-mirror: the one apt mirror detection.

smbvdc-build-image (on KVM hosts) and scripts/build-base-image.sh (molecule's
base image) both call it; the cases below are the rules they relied on.
"""

import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "roles" / "kvm_host" / "files" / "smbvdc-apt-mirror"

DEB822 = """\
# disabled first
Types: deb
URIs: http://disabled.example/debian
Suites: bookworm
Enabled: no

Types: deb-src
URIs: http://src.example/debian
Suites: bookworm bookworm-security

types: deb deb-src
uris: http://one.example/debian/ http://two.example/debian
suites: bookworm-updates bookworm
components: main
"""

ONE_LINE = """\
# deb http://commented.example/debian bookworm main
deb [arch=amd64 signed-by=/x.gpg] http://line.example/debian-security/ bookworm-security main
deb http://line.example/debian trixie main # trailing comment
deb-src http://srcline.example/debian sid main
"""


@pytest.fixture
def apt_dir(tmp_path):
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "a.sources").write_text(DEB822)
    (tmp_path / "sources.list").write_text(ONE_LINE)
    (tmp_path / "sources.list.d" / "b.list").write_text("deb http://list.example/debian sid main\n")
    return tmp_path


def _run(*args):
    return subprocess.run(["sh", str(SCRIPT)] + list(args), capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize("suite,expected", [
    ("bookworm", "http://one.example/debian/"),           # deb822 first, disabled and deb-src skipped, slash kept
    ("bookworm-updates", "http://one.example/debian/"),
    ("bookworm-security", "http://line.example/debian-security/"),  # one-line with [options]
    ("trixie", "http://line.example/debian"),
    ("sid", "http://list.example/debian"),                # sources.list.d/*.list; deb-src skipped
    ("buster", ""),                                       # none: empty output, exit 0
])
def test_mirror_for_suite(apt_dir, suite, expected):
    result = _run("--apt-dir", str(apt_dir), suite)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected


def test_empty_apt_dir(tmp_path):
    result = _run("--apt-dir", str(tmp_path), "bookworm")
    assert (result.returncode, result.stdout) == (0, "")


def test_usage_errors():
    assert _run().returncode == 2
    assert _run("--bogus", "bookworm").returncode == 2


def test_both_callers_use_it():
    build_image = (ROOT / "roles" / "kvm_host" / "files" / "smbvdc-build-image").read_text()
    base_image = (ROOT / "scripts" / "build-base-image.sh").read_text()
    for text in (build_image, base_image):
        assert "smbvdc-apt-mirror" in text
        assert "apt_sources()" not in text
