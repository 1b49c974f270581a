"""``playbooks/report.yml`` on the lab inventory, looked at as a person would: in a browser.

The real ``ansible-playbook playbooks/report.yml -i inventories/lab`` writes
build/report/lab/index.html; headless Chromium (Debian's ``chromium``, which
``make setup`` installs) renders it to build/report/lab/screenshot.png. The
test then checks the screenshot (a PNG of the window's size with more than a
blank page in it) and reads the page with an XML parser: the inline SVG must
have a node for every KVM host and every VM of inventories/lab/hosts.yml
(read here with PyYAML, not through the code under test), each VM drawn
inside its KVM host's frame, and the capacity table the inventory's figures.
Only the controller runs: no host is contacted.
"""

import json
import os
import pathlib
import re
import shutil
import struct
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
import zlib
from html.parser import HTMLParser

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[3]
PLAYBOOK = str(ROOT / "playbooks" / "report.yml")
LAB = ROOT / "inventories" / "lab"
OUT = ROOT / "build" / "report" / "lab"
SVG = "{http://www.w3.org/2000/svg}"
XHTML = "{http://www.w3.org/1999/xhtml}"
WINDOW = (1400, 2000)


def _ansible_playbook():
    local = pathlib.Path(sys.executable).parent / "ansible-playbook"
    return str(local) if local.exists() else "ansible-playbook"


def run(*args):
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    proc = subprocess.run([_ansible_playbook(), PLAYBOOK, "-i", str(LAB)] + list(args), capture_output=True,
                          text=True, env=env, cwd=str(ROOT), timeout=180)
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out, out
    assert proc.returncode == 0, out
    recap = out.split("PLAY RECAP", 1)[-1]
    # the controller only
    assert re.findall(r"^(\S+)\s+:\s+ok=", recap, re.M) == ["localhost"], recap
    return out


def lab_inventory():
    """``({kvm host: {vars}}, {vm: {vars}})`` of inventories/lab/hosts.yml, read with PyYAML."""
    data = yaml.safe_load((LAB / "hosts.yml").read_text())["all"]["children"]
    kvm = dict(data["kvm_hosts"]["hosts"])
    vms = {}

    def walk(group):
        for name, hostvars in (group.get("hosts") or {}).items():
            vms.setdefault(name, {}).update(hostvars or {})
        for child in (group.get("children") or {}).values():
            walk(child or {})

    walk(data["vms"])
    return kvm, vms


def png_facts(path):
    """Width, height and the number of distinct byte values of the image data, from the PNG itself."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "%s is not a PNG" % path
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    width, height = struct.unpack(">II", data[16:24])
    idat, pos = b"", 8
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"IDAT":
            idat += data[pos + 8:pos + 8 + length]
        pos += 12 + length
    return width, height, len(set(zlib.decompress(idat)))


def chromium():
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    pytest.fail("chromium is not installed: run make setup (scripts/setup.sh installs Debian's chromium and graphviz)")


def screenshot(page, png, profile):
    if png.exists():
        png.unlink()
    cmd = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
           "--user-data-dir=%s" % profile, "--screenshot=%s" % png, "--window-size=%d,%d" % WINDOW,
           page.resolve().as_uri()]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and png.exists(), "chromium failed (%d): %s" % (proc.returncode, proc.stderr[-2000:])


def _titled(svg, kind):
    return {g.find(SVG + "title").text: g for g in svg.iter(SVG + "g") if g.get("class") == kind}


def _bbox(g):
    """Bounding box of a cluster's frame (polygon points or path coordinates)."""
    shape = g.find(SVG + "polygon")
    if shape is None:
        shape = g.find(SVG + "path")
    numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", shape.get("points") or shape.get("d"))]
    xs, ys = numbers[0::2], numbers[1::2]
    return min(xs), min(ys), max(xs), max(ys)


class _Refs(HTMLParser):
    """Every attribute of the page, as a browser's HTML parser sees it."""

    def __init__(self):
        super().__init__()
        self.attrs = []

    def handle_starttag(self, tag, attrs):
        self.attrs += [(tag, k, v or "") for k, v in attrs]

    handle_startendtag = handle_starttag


@pytest.fixture(scope="module")
def lab_report(tmp_path_factory):
    """The lab's report in build/report/lab (no status file) and its screenshot; the run's seconds."""
    if not shutil.which("dot"):
        pytest.fail("graphviz's dot is not installed: run make setup")
    chromium()
    tmp = tmp_path_factory.mktemp("report")
    start = time.monotonic()
    out = run("-e", "report_status_file=%s" % (tmp / "status.json"))
    page = OUT / "index.html"
    assert "report: %s" % page in out, out
    png = OUT / "screenshot.png"
    screenshot(page, png, tmp / "chromium")
    seconds = time.monotonic() - start
    # what an empty page gives, for comparison
    (tmp / "empty.html").write_text("<!DOCTYPE html><html><body></body></html>")
    screenshot(tmp / "empty.html", tmp / "empty.png", tmp / "chromium")
    return page, png, tmp / "empty.png", seconds


def test_screenshot_shows_a_page(lab_report):
    _page, png, empty, _seconds = lab_report
    width, height, distinct = png_facts(png)
    assert (width, height) == WINDOW, (width, height)
    # an empty page compresses to a few KiB with a handful of byte values; a
    # line of text gives ~13 KB; the report (drawing, tables) ~200 KB
    assert png_facts(empty)[:2] == WINDOW
    assert png.stat().st_size > max(30000, 5 * empty.stat().st_size), (png.stat().st_size, empty.stat().st_size)
    assert distinct > 200, distinct


def test_svg_has_a_node_for_every_kvm_host_and_vm_inside_its_host(lab_report):
    page = lab_report[0]
    kvm, vms = lab_inventory()
    assert kvm and len(vms) >= 4
    root = ET.parse(str(page)).getroot()
    svgs = list(root.iter(SVG + "svg"))
    assert len(svgs) == 1
    nodes = _titled(svgs[0], "node")
    clusters = _titled(svgs[0], "cluster")
    for host in kvm:
        assert "kvm.%s" % host in nodes, sorted(nodes)
        assert [t.text for t in nodes["kvm.%s" % host].iter(SVG + "text")][0] == host
    for vm, hostvars in vms.items():
        assert "vm.%s" % vm in nodes, sorted(nodes)
        texts = list(nodes["vm.%s" % vm].iter(SVG + "text"))
        assert texts[0].text == vm
        assert any(t.text.startswith("%d MiB" % hostvars["vm_memory_mb"]) for t in texts), [t.text for t in texts]
        host = hostvars.get("vm_host") or (next(iter(kvm)) if len(kvm) == 1 else None)
        if host:
            x0, y0, x1, y1 = _bbox(clusters["cluster_kvm.%s" % host])
            for t in texts:
                assert x0 < float(t.get("x")) < x1 and y0 < float(t.get("y")) < y1, (vm, host, t.text)
    # the lab's DNS pair shares its one KVM host: drawn as a pair, marked
    edges = _titled(svgs[0], "edge")
    assert "SAME HOST" in [t.text for t in edges["vm.ns1->vm.ns2"].iter(SVG + "text")]


def test_capacity_table_and_no_status(lab_report):
    page = lab_report[0]
    kvm, vms = lab_inventory()
    root = ET.parse(str(page)).getroot()
    rows = [[td.text for td in tr.iter(XHTML + "td")] for tr in root.iter(XHTML + "tr")]
    rows = [r for r in rows if r]          # not the header rows
    for host, hv in kvm.items():
        y, y_os = hv["kvm_memory_mb"], hv["kvm_os_reserve_mb"]
        assert [host, "hq", str(y), str(y_os), str(y - y_os)] in [r[:5] for r in rows], rows
    for vm, hv in vms.items():
        assert any(r[0] == vm and r[2] == str(hv["vm_memory_mb"]) for r in rows), (vm, rows)
    text = " ".join("".join(root.itertext()).split())
    assert "no status run recorded (no status.json)." in text


def test_page_links_nothing_and_shows_no_secret(lab_report):
    text = lab_report[0].read_text()
    refs = _Refs()
    refs.feed(text)
    for tag, attr, value in refs.attrs:
        assert attr not in ("src", "href", "xlink:href", "action", "srcset") and not attr.startswith("on"), \
            (tag, attr, value)
        if "://" in value:
            assert attr in ("xmlns", "xmlns:xlink"), (tag, attr, value)
    assert not [t for t, _a, _v in refs.attrs if t in ("script", "link", "img", "iframe")]
    assert "url(" not in text and "@import" not in text and "<script" not in text
    for word in ("password", "secret", "private key", "tsig"):
        assert word not in text.lower(), word


def test_status_file_and_second_run_changes_nothing(lab_report, tmp_path):
    status = [{"check": "dns serial", "host": "ns2", "ok": True, "detail": "2026120401 everywhere",
               "time": "2026-12-04T10:00:00Z"},
              {"check": "spf", "host": "ns1", "ok": False, "detail": "no TXT record <v=spf1>",
               "time": "2026-12-04T10:00:02Z"}]
    (tmp_path / "status.json").write_text(json.dumps(status))
    out = run("-e", "report_dir=%s" % tmp_path)
    assert re.search(r"localhost\s+: ok=\d+\s+changed=[1-9]", out), out
    root = ET.parse(str(tmp_path / "index.html")).getroot()
    rows = [[td.text for td in tr.iter(XHTML + "td")] for tr in root.iter(XHTML + "tr")]
    assert ["spf", "ns1", "FAILED", "no TXT record <v=spf1>", "2026-12-04T10:00:02Z"] in rows
    assert ["dns serial", "ns2", "ok", "2026120401 everywhere", "2026-12-04T10:00:00Z"] in rows
    out = run("-e", "report_dir=%s" % tmp_path)
    assert re.search(r"localhost\s+: ok=\d+\s+changed=0\b", out), out
    (tmp_path / "status.json").write_text('[{"check": "x"}]')
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    proc = subprocess.run([_ansible_playbook(), PLAYBOOK, "-i", str(LAB), "-e", "report_dir=%s" % tmp_path],
                          capture_output=True, text=True, env=env, cwd=str(ROOT), timeout=180)
    assert proc.returncode != 0
    assert r"status.json[0].host must be a string" in proc.stdout + proc.stderr
