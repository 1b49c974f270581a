"""The branch report page and its topology picture, on small models.

The page is read back with an XML parser (it is polyglot markup) and the
SVG's nodes and edges by the titles graphviz gives them, so the tests look at
what a browser would draw, not at the DOT source.
"""

import copy
import xml.etree.ElementTree as ET

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.smbvdc.datacenter.plugins.filter.report_html import report_html
from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import model as model_mod
from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import report, report_html as page, topology

from branch_fixtures import lab, two_hosts

SVG = "{http://www.w3.org/2000/svg}"
XHTML = "{http://www.w3.org/1999/xhtml}"


def _model(fixture, **pins):
    branch, inv = fixture()
    for vm, host in pins.items():
        inv["hostvars"][vm]["vm_host"] = host
    return model_mod.build_model(branch, inv)


@pytest.fixture
def apart():
    """kvm1 + kvm2, ns1 and ns2 (anti-affinity group dns) placed apart."""
    m = _model(two_hosts)
    assert m["vms"]["ns1"]["kvm_host"] != m["vms"]["ns2"]["kvm_host"]
    return m


def _svg(root):
    svgs = list(root.iter(SVG + "svg"))
    assert len(svgs) == 1, "one inline SVG expected, found %d" % len(svgs)
    return svgs[0]


def _titled(svg, kind):
    """``{title: <g>}`` of the SVG's nodes, edges or clusters."""
    return {g.find(SVG + "title").text: g for g in svg.iter(SVG + "g") if g.get("class") == kind}


def _texts(g):
    return [t.text for t in g.iter(SVG + "text")]


def _all_text(root):
    return "\n".join(t for t in root.itertext())


def test_topology_has_hosts_vms_network_and_the_pair_apart(apart):
    svg = ET.fromstring(topology.topology_svg(apart))
    nodes = _titled(svg, "node")
    assert set(nodes) == {"kvm.kvm1", "kvm.kvm2", "net.lan", "vm.ns1", "vm.ns2", "vm.mail1", "vm.web1"}
    ns1 = _texts(nodes["vm.ns1"])
    assert ns1[0] == "ns1" and "512 MiB, 1 vCPU, 10 GiB" in ns1 and apart["vms"]["ns1"]["ipv4"] in ns1
    assert "dns_primary" in ns1
    assert "10.77.10.0/24 gw 10.77.10.1" in _texts(nodes["net.lan"])
    b = apart["budgets"]["kvm1"]
    assert "y %d MiB, y_os %d, y_a %d" % (b["total_mb"], b["reserved_mb"], b["available_mb"]) \
        in _texts(nodes["kvm.kvm1"])
    assert set(_titled(svg, "cluster")) == {"cluster_kvm.kvm1", "cluster_kvm.kvm2"}
    edges = _titled(svg, "edge")
    pair = edges["vm.ns1->vm.ns2"]
    assert pair.get("id") == "pair.dns.ns1.ns2"
    assert _texts(pair) == ["pair dns", "apart"]
    assert {e for e in edges if e.startswith("net.lan->vm.")} == {"net.lan->vm.%s" % v for v in apart["vms"]}


def test_pair_on_one_host_is_marked_red():
    m = _model(lab)
    assert topology.redundancy_pairs(m) == [{"group": "dns", "a": "ns1", "b": "ns2", "same_host": True}]
    edge = _titled(ET.fromstring(topology.topology_svg(m)), "edge")["vm.ns1->vm.ns2"]
    assert "SAME HOST" in _texts(edge)
    assert any(p.get("stroke") == topology.PAIR_SHARED for p in edge.iter(SVG + "path"))


def test_site_links_are_drawn_when_the_model_has_them(apart):
    assert topology.site_links(apart) == []
    assert not [n for n in _titled(ET.fromstring(topology.topology_svg(apart)), "node") if n.startswith("site.")]
    m = copy.deepcopy(apart)
    m["site_links"] = [{"name": "gre-hq-b2", "sites": ["hq", "b2"], "kind": "gre"}]
    svg = ET.fromstring(topology.topology_svg(m))
    nodes = _titled(svg, "node")
    assert {"site.hq", "site.b2"} <= set(nodes)
    assert _texts(_titled(svg, "edge")["site.hq->site.b2"]) == ["gre-hq-b2", "gre"]
    m["site_links"] = [{"name": "half", "sites": ["hq"]}]
    with pytest.raises(ValueError, match=r"site_links\[0\]"):
        topology.site_links(m)


def test_page_is_self_contained_with_capacity_and_no_status(apart):
    text = page.render(apart)
    root = ET.fromstring(text)                       # well-formed: every element closed, entities escaped
    assert root.tag == XHTML + "html"
    svg = _svg(root)
    assert {"vm.ns1", "vm.ns2", "kvm.kvm1", "kvm.kvm2"} <= set(_titled(svg, "node"))
    for el in root.iter():
        name = el.tag.split("}")[-1]
        assert name not in ("script", "link", "img", "iframe", "object", "embed"), name
        for attr, value in el.attrib.items():
            assert attr.split("}")[-1] not in ("src", "href") and not attr.startswith("on"), (name, attr)
    assert "http" not in "".join(t.text or "" for t in root.iter(XHTML + "style"))
    assert "url(" not in text and "@import" not in text
    # the capacity rows are report.capacity_data's, the same as capacity.yml prints
    cap = report.capacity_data(apart)
    rows = {tuple(td.text for td in tr.iter(XHTML + "td")) for tr in root.iter(XHTML + "tr")}
    for h in cap["hosts"]:
        assert any(r[:5] == (h["name"], "hq", str(h["total_mb"]), str(h["reserved_mb"]), str(h["available_mb"]))
                   and r[-2:] == (str(h["more_vms"]), "ok") for r in rows), (h, rows)
    for v in cap["vms"]:
        assert any(r[:4] == (v["name"], v["kvm_host"], str(v["memory_mb"]), str(v["memory_mb"] + 200))
                   for r in rows), v
    assert "no status run recorded (no status.json)." in _all_text(root)


def test_status_results_are_shown_failures_first_and_escaped(apart):
    status = [{"check": "dns serial", "host": "ns1", "ok": True, "detail": "2026120401", "time": "2026-12-04T10:00:00Z"},
              {"check": "spf", "host": "ns2", "ok": False, "detail": "<script>alert(1)</script> & <b>x</b>",
               "time": "2026-12-04T10:00:05Z"}]
    text = page.render(apart, status=status)
    assert "<script" not in text and "<b>" not in text
    root = ET.fromstring(text)
    rows = [tuple(td.text for td in tr.iter(XHTML + "td")) for tr in root.iter(XHTML + "tr")]
    rows = [r for r in rows if r and r[0] in ("dns serial", "spf")]
    assert rows == [("spf", "ns2", "FAILED", "<script>alert(1)</script> & <b>x</b>", "2026-12-04T10:00:05Z"),
                    ("dns serial", "ns1", "ok", "2026120401", "2026-12-04T10:00:00Z")]
    assert "2 check(s) at 2026-12-04T10:00:05Z: 1 passed, 1 failed" in " ".join(_all_text(root).split())
    # JSON text as read from the file gives the same page
    import json
    assert page.render(apart, status=json.dumps(status)) == text


@pytest.mark.parametrize("raw, match", [
    ("{not json", r"status\.json is not JSON"),
    ('{"check": "x"}', r"must be a JSON list, got dict"),
    ('["x"]', r"status\.json\[0\] must be an object"),
    ('[{"check": "x", "host": "h", "ok": "yes", "time": "t"}]', r"status\.json\[0\]\.ok must be a boolean"),
    ('[{"check": "x", "ok": true, "time": "t"}]', r"status\.json\[0\]\.host must be a string"),
])
def test_bad_status_file_names_entry_and_key(raw, match):
    with pytest.raises(ValueError, match=match):
        page.parse_status(raw)


def test_inventory_text_is_taken_literally_in_svg_and_html(apart):
    m = copy.deepcopy(apart)
    # an HTML-like graphviz label, graphviz escape sequences (\N: node name) and markup
    m["site_links"] = [{"name": "<b>bold</b>", "sites": ["hq", "b&2"], "kind": "\\N \\G"}]
    m["sites"]["hq"]["description"] = "</svg><script>x</script>"
    text = page.render(m)
    assert "<script" not in text and "<b>" not in text
    svg = _svg(ET.fromstring(text))
    link = _titled(svg, "edge")["site.hq->site.b&2"]
    assert _texts(link) == ["<b>bold</b>", "\\N \\G"]
    assert "</svg><script>x</script>" in _texts(_titled(svg, "node")["site.hq"])


def test_no_secret_reaches_the_page(apart):
    m = copy.deepcopy(apart)
    secret = "c2VjcmV0LXRzaWcta2V5LXZhbHVlLWZvci10ZXN0cw=="
    m["dns"] = dict(m.get("dns") or {}, tsig_secret=secret)
    m["mail"] = dict(m.get("mail") or {}, mailbox_password=secret)
    assert secret not in page.render(m)


def test_filter_checks_input_and_size(apart):
    assert report_html(apart).startswith("<!DOCTYPE html>")
    with pytest.raises(AnsibleFilterError, match="report_html: input must be the branch model"):
        report_html({"name": "x"})
    with pytest.raises(AnsibleFilterError, match="vm_size_mb"):
        report_html(apart, vm_size_mb=0)
    with pytest.raises(AnsibleFilterError, match=r"report_html: status\.json\[0\]"):
        report_html(apart, status=[1])
