# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smbvdc.datacenter developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The branch report: one self-contained HTML page (playbooks/report.yml).

The page holds the topology (``topology.topology_svg``, inline SVG), the
capacity tables (``report.capacity_data``, the same figures as
playbooks/capacity.yml prints) and the last status results. It links to
nothing: no script, no external style sheet, image or font, so it can be
mailed or archived as it is. Every text from the model or the status file is
escaped; the page shows names, sizes, addresses and services only, never a
secret (the model's DNS, mail and web settings are not read).

The page is also well-formed XML (polyglot markup: every element closed,
only the five XML entities), so tests and tools can read it with an XML
parser.

Status results (what the status run writes, ``status.json`` beside
``index.html`` by default) are a JSON list, one object per check::

    [{"check": "dns serial", "host": "ns2", "ok": true,
      "detail": "serial 2026120401 on every server", "time": "2026-12-04T10:00:00Z"}]

``check``, ``host`` and ``time`` (ISO 8601) are strings, ``ok`` a boolean, or
null for an item that was not checked, ``detail`` a string (may be empty).
"""

from __future__ import annotations

import html
import json

from . import report, topology

STATUS_KEYS = (("check", str), ("host", str), ("ok", bool), ("detail", str), ("time", str))
STATUS_SCHEMA = '[{"check": str, "host": str, "ok": bool or null, "detail": str, "time": "ISO 8601 str"}, ...]'

CSS = """
body{font-family:Helvetica,Arial,sans-serif;margin:24px;color:#111827;background:#fff;max-width:1360px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #d1d5db}
p.sub{color:#4b5563;margin:0 0 12px}
table{border-collapse:collapse;font-size:13px;margin:6px 0 10px}
th,td{border:1px solid #d1d5db;padding:3px 8px;text-align:right;vertical-align:top}
th{background:#f3f4f6}td.l,th.l{text-align:left}
.ok{background:#dcfce7;color:#14532d}.bad{background:#fee2e2;color:#7f1d1d;font-weight:bold}
.warn{background:#fef3c7;border:1px solid #f59e0b;padding:6px 10px;margin:6px 0;font-size:13px}
.none{color:#6b7280;font-style:italic}
figure{margin:0;overflow-x:auto}figure svg{max-width:100%;height:auto}
figcaption,footer{color:#4b5563;font-size:12px}
"""


def _e(value):
    """Text for HTML (element content and quoted attributes)."""
    return html.escape("" if value is None else str(value), quote=True)


def parse_status(raw, source="status.json"):
    """Validate the status results; ``None`` (no file) stays ``None``.

    :param raw: JSON text or the already decoded list.
    :raises ValueError: naming ``source``, the entry and the key, with the schema.
    """
    if raw is None:
        return None
    if isinstance(raw, (bytes, str)):
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            raise ValueError("%s is not JSON (%s). Fix: write %s, or delete the file." % (source, exc, STATUS_SCHEMA))
    if not isinstance(raw, list):
        raise ValueError("%s must be a JSON list, got %s. Fix: write %s." % (source, type(raw).__name__, STATUS_SCHEMA))
    out = []
    for i, entry in enumerate(raw):
        if not isinstance(entry, dict):
            raise ValueError("%s[%d] must be an object, got %r. Fix: write %s." % (source, i, entry, STATUS_SCHEMA))
        row = {}
        for key, kind in STATUS_KEYS:
            value = entry.get(key, "" if key == "detail" else None)
            if not isinstance(value, kind) and not (key == "ok" and value is None):  # null: not checked
                raise ValueError("%s[%d].%s must be a %s, got %r. Fix: write %s."
                                 % (source, i, key, "boolean" if kind is bool else "string", value, STATUS_SCHEMA))
            row[key] = value
        out.append(row)
    return out


def _table(headers, rows, left=()):
    """``rows`` are lists of (text, css class or None); ``left``: indexes of left-aligned columns."""
    out = ["<table><thead><tr>"]
    out += ['<th%s>%s</th>' % (' class="l"' if i in left else "", _e(h)) for i, h in enumerate(headers)]
    out.append("</tr></thead><tbody>")
    for row in rows:
        out.append("<tr>")
        for i, cell in enumerate(row):
            text, css = cell if isinstance(cell, tuple) else (cell, None)
            classes = " ".join(c for c in (("l" if i in left else None), css) if c)
            out.append('<td%s>%s</td>' % (' class="%s"' % classes if classes else "", _e(text)))
        out.append("</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _capacity_section(cap):
    s = cap["settings"]
    out = ['<h2 id="capacity">Capacity</h2>',
           '<p class="sub">y: host RAM; y_os: kept for the host; y_a = y - y_os; demand: VM RAM + %s MiB overhead '
           'per VM; RAM ratio %s, vCPU ratio %s, disk ratio %s; placement %s (%s host(s) used, optimal %s).</p>'
           % (_e(s.get("vm_overhead_mb")), _e(s.get("ram_allocation_ratio")), _e(s.get("cpu_allocation_ratio")),
              _e(s.get("disk_allocation_ratio")), _e(cap["placement"].get("method")),
              _e(cap["placement"].get("hosts_used")), _e(cap["placement"].get("optimal")))]
    rows = []
    for b in cap["hosts"]:
        rows.append([b["name"], b["site"] or "-", b["total_mb"], b["reserved_mb"], b["available_mb"],
                     b["capacity_mb"], b["allocated_mb"], (b["free_mb"], None if b["ram_ok"] else "bad"),
                     ("%d/%s" % (b["vcpus_allocated"], b["vcpu_capacity"]), None if b["vcpu_ok"] else "bad"),
                     ("%d/%s" % (b["disk_allocated_gb"], b["disk_capacity_gb"]), None if b["disk_ok"] else "bad"),
                     b["vm_count"], b["more_vms"], ("ok", "ok") if b["ok"] else ("OVER", "bad")])
    out.append(_table(["KVM host", "site", "y MiB", "y_os MiB", "y_a MiB", "VM capacity MiB", "VMs' demand MiB",
                       "free MiB", "vCPU", "disk GiB", "VMs", "+%d MiB VMs that fit" % cap["vm_size_mb"], "state"],
                      rows, left=(0, 1)))
    rows = []
    for v in cap["vms"]:
        rows.append([v["name"], v["kvm_host"] + (" (pinned)" if v["pinned"] else ""), v["memory_mb"], v["demand_mb"],
                     v["vcpus"], "+".join(str(d) for d in v["disks_gb"]), v["network"], v["ipv4"] or "-",
                     v["ipv6"] or "-", ", ".join(v["services"]) or "-"])
    out.append(_table(["VM", "KVM host", "RAM MiB", "demand MiB", "vCPU", "disk GiB", "network", "IPv4", "IPv6",
                       "services"], rows, left=(0, 1, 6, 7, 8, 9)))
    return "\n".join(out)


def _status_section(status, status_file):
    out = ['<h2 id="status">Last status run</h2>']
    if status is None:
        out.append('<p class="none">no status run recorded (no %s).</p>' % _e(status_file))
        return "\n".join(out)
    if not status:
        out.append('<p class="none">the status run recorded no check (%s is an empty list).</p>' % _e(status_file))
        return "\n".join(out)
    failed = [r for r in status if r["ok"] is False]
    unchecked = [r for r in status if r["ok"] is None]
    last = max(r["time"] for r in status)
    out.append('<p class="sub">%d check(s) at %s: %d passed, <span class="%s">%d failed</span>, %d not checked (%s).</p>'
               % (len(status), _e(last), len(status) - len(failed) - len(unchecked), "bad" if failed else "ok",
                  len(failed), len(unchecked), _e(status_file)))
    # failures first, then in the order of the run
    word = {True: ("ok", "ok"), False: ("FAILED", "bad"), None: ("not checked", "none")}
    rows = [[r["check"], r["host"], word[r["ok"]], r["detail"], r["time"]]
            for r in failed + [r for r in status if r["ok"] is not False]]
    out.append(_table(["check", "host", "result", "detail", "time"], rows, left=(0, 1, 2, 3, 4)))
    return "\n".join(out)


def render(model, status=None, vm_size_mb=1024, status_file="status.json"):
    """The report page of a branch model (text of one HTML document).

    :param status: the status results (JSON text or list, see the module
        docstring), or ``None`` when no status run is recorded.
    :param vm_size_mb: VM size of the "VMs that fit" column.
    :param status_file: the status file's name, shown on the page.
    """
    status = parse_status(status, status_file)
    cap = report.capacity_data(model, vm_size_mb)
    svg = topology.topology_svg(model, cap)
    pairs = topology.redundancy_pairs(model)
    links = topology.site_links(model)
    title = "Branch %s (%s)" % (model["name"], model["domain"])
    parts = ['<!DOCTYPE html>',
             '<html xmlns="http://www.w3.org/1999/xhtml" lang="en">',
             '<head><meta charset="utf-8"/><title>%s</title><style>%s</style></head>' % (_e(title), CSS),
             '<body>',
             '<h1>%s</h1>' % _e(title),
             '<p class="sub">%d KVM host(s), %d VM(s), %d network(s), %d redundancy pair(s), %d site link(s). '
             'Drawn from the inventory by playbooks/report.yml; no host was contacted.</p>'
             % (len(model["kvm_hosts"]), len(model["vms"]), len(model["networks"]), len(pairs), len(links))]
    for w in cap["warnings"]:
        parts.append('<div class="warn">%s</div>' % _e(w))
    parts += ['<h2 id="topology">Topology</h2>',
              '<figure>%s<figcaption>Boxes in a frame: the VMs of one KVM host (RAM, vCPUs, disks, addresses, '
              'services). Dashed boxes: networks. Dashed coloured lines: redundancy pairs (anti-affinity groups), '
              'green when on different hosts, red when one host failure takes both.</figcaption></figure>' % svg,
              _capacity_section(cap),
              _status_section(status, status_file),
              '<footer><p>smbvdc.datacenter branch report of %s.</p></footer>' % _e(model["name"]),
              '</body>', '</html>', '']
    return "\n".join(parts)
