# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smbvdc.datacenter developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The topology picture of a branch model: a graphviz graph, rendered to inline SVG.

What is drawn (node names are stable, tests and readers rely on them):

- ``kvm.<host>``: each KVM host, inside a cluster ``cluster_kvm.<host>``
  with its VMs; label: RAM y, y_os, y_a, what the VMs take, what is free.
- ``vm.<name>``: each VM: RAM, vCPUs, disks, addresses, services (groups).
- ``net.<name>``: each network: CIDRs, gateway, mode, bridge; an edge to
  every VM and KVM host with an address on it.
- ``ext.<name>``: machines that exist outside the branch and serve in it
  (``external_hosts``, e.g. another branch's DNS secondary).
- redundancy pairs: the VMs sharing an anti-affinity group (ns1/ns2 share
  ``dns``), joined by a dashed edge; red when they share a KVM host (one
  host failure takes both), green when they are apart.
- ``site.<name>``: sites, drawn when the branch has more than one or has
  site links; ``model["site_links"]`` (a list of ``{name, sites: [a, b],
  kind}``, e.g. GRE tunnels) are drawn as bold edges between the sites
  when the model has them (the branch model has no site links yet).

Every label is escaped for graphviz (no escape sequence or HTML label can
come from the inventory); graphviz escapes text for SVG itself, and the SVG
is parsed and written again with ElementTree, which drops comments and the
XML prolog so that the result can be put inline into an HTML page.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"

# fill colours of VM nodes by their first service group (others: SERVICE_DEFAULT)
SERVICE_COLOURS = {
    "dns_primary": "#dbeafe", "dns_secondary": "#dbeafe", "mail": "#fef3c7", "web": "#dcfce7",
    "moodle": "#dcfce7", "owncloud": "#dcfce7", "monitoring": "#fce7f3", "backup": "#ede9fe",
}
SERVICE_DEFAULT = "#f3f4f6"
PAIR_APART = "#15803d"
PAIR_SHARED = "#dc2626"


def _graphviz():
    try:
        import graphviz
    except ImportError:
        raise ImportError("the Python package graphviz is not installed: run make setup "
                          "(or pip install -r requirements.txt)")
    return graphviz


def _label(graphviz, *lines):
    """A graphviz label from text lines, every line taken literally (no escapes, no HTML label)."""
    text = "\\n".join(str(graphviz.escape(str(line))) for line in lines if line not in (None, ""))
    return graphviz.nohtml(text)


def redundancy_pairs(model):
    """``[{group, a, b, same_host}]``: the VM pairs of each anti-affinity group, sorted.

    Every pair of a group of up to four VMs; larger groups as a chain (a-b,
    b-c, ...) so that the picture stays readable.
    """
    groups = {}
    for name, vm in sorted(model["vms"].items()):
        for g in vm.get("anti_affinity") or []:
            groups.setdefault(g, []).append(name)
    pairs = []
    for g, members in sorted(groups.items()):
        if len(members) <= 4:
            combos = [(a, b) for i, a in enumerate(members) for b in members[i + 1:]]
        else:
            combos = list(zip(members, members[1:]))
        for a, b in combos:
            pairs.append({"group": g, "a": a, "b": b,
                          "same_host": model["vms"][a]["kvm_host"] == model["vms"][b]["kvm_host"]})
    return pairs


def site_links(model):
    """``[{name, a, b, kind}]`` from ``model["site_links"]`` (absent in today's branch model: ``[]``)."""
    links = []
    for i, link in enumerate(model.get("site_links") or []):
        ends = link.get("sites") if isinstance(link, dict) else None
        if not isinstance(ends, (list, tuple)) or len(ends) != 2:
            raise ValueError("site_links[%d] must be a mapping with sites: [a, b], got %r" % (i, link))
        links.append({"name": str(link.get("name") or "%s-%s" % tuple(ends)), "a": str(ends[0]), "b": str(ends[1]),
                      "kind": str(link.get("kind") or "")})
    return links


def _host_budgets(model, capacity):
    if capacity is None:
        from .report import capacity_data
        capacity = capacity_data(model)
    return dict((h["name"], h) for h in capacity["hosts"])


def topology_graph(model, capacity=None):
    """The branch as a ``graphviz.Digraph`` (see the module docstring for what is drawn).

    :param capacity: ``report.capacity_data(model)`` when the caller has it
        (the KVM host labels show its figures); computed here otherwise.
    """
    graphviz = _graphviz()
    budgets = _host_budgets(model, capacity)
    g = graphviz.Digraph("branch", graph_attr={
        "rankdir": "TB", "fontname": "Helvetica", "fontsize": "11", "nodesep": "0.3", "ranksep": "0.7",
        "label": _label(graphviz, "branch %s (%s)" % (model["name"], model["domain"])), "labelloc": "t",
        "bgcolor": "white"})
    g.attr("node", fontname="Helvetica", fontsize="10", margin="0.15,0.07")
    g.attr("edge", fontname="Helvetica", fontsize="9", color="#6b7280", arrowhead="none")

    links = site_links(model)
    sites = dict(model.get("sites") or {})
    for link in links:
        for end in (link["a"], link["b"]):
            sites.setdefault(end, {"name": end, "description": "(not in this branch)"})
    draw_sites = len(sites) > 1 or bool(links)
    if draw_sites:
        for name, site in sorted(sites.items()):
            g.node("site.%s" % name, _label(graphviz, "site %s" % name, site.get("description")),
                   shape="house", style="filled", fillcolor="#e0f2fe")
        for link in links:
            g.edge("site.%s" % link["a"], "site.%s" % link["b"],
                   _label(graphviz, link["name"], link["kind"]), style="bold", color="#0369a1", penwidth="2",
                   constraint="false")

    for name, net in sorted(model["networks"].items()):
        lines = ["network %s" % name]
        if net.get("ipv4"):
            lines.append("%s gw %s" % (net["ipv4"], net.get("gateway4") or "-"))
        if net.get("ipv6"):
            lines.append(net["ipv6"])
        lines.append("mode %s on %s" % (net.get("mode"), net.get("bridge")))
        if not draw_sites and net.get("site"):
            lines.append("site %s" % net["site"])
        g.node("net.%s" % name, _label(graphviz, *lines), shape="box", style="filled,dashed",
               fillcolor="#f0f9ff", color="#0369a1")
        if draw_sites and net.get("site"):
            g.edge("site.%s" % net["site"], "net.%s" % name, color="#0369a1")

    for host_name, host in sorted(model["kvm_hosts"].items()):
        b = budgets[host_name]
        with g.subgraph(name="cluster_kvm.%s" % host_name) as c:
            c.attr(label=_label(graphviz, "KVM host %s" % host_name), style="rounded,filled", fillcolor="#f9fafb",
                   color="#374151", fontname="Helvetica-Bold")
            c.node("kvm.%s" % host_name, _label(
                graphviz, host_name,
                "y %s MiB, y_os %s, y_a %s" % (b["total_mb"], b["reserved_mb"], b["available_mb"]),
                "%d VM(s): %s MiB, free %s MiB" % (b["vm_count"], b["allocated_mb"], b["free_mb"]),
                "vCPU %s/%s, disk %s/%s GiB" % (b["vcpus_allocated"], b["vcpu_capacity"], b["disk_allocated_gb"],
                                                b["disk_capacity_gb"]),
                *["%s %s" % (net, a.get("ipv4") or a.get("ipv6") or "")
                  for net, a in sorted((host.get("addresses") or {}).items())]),
                shape="box3d", style="filled", fillcolor="#e5e7eb" if b["ok"] else "#fecaca")
            for vm_name in sorted(host["vms"]):
                vm = model["vms"][vm_name]
                disks = "+".join(str(d) for d in [vm["disk_gb"]] + [d["size_gb"] for d in vm.get("data_disks") or []])
                groups = vm.get("groups") or []
                c.node("vm.%s" % vm_name, _label(
                    graphviz, vm_name, "%s MiB, %s vCPU, %s GiB" % (vm["memory_mb"], vm["vcpus"], disks),
                    vm.get("ipv4"), vm.get("ipv6"), ", ".join(groups) or "(no service)"),
                    shape="box", style="rounded,filled",
                    fillcolor=SERVICE_COLOURS.get(groups[0], SERVICE_DEFAULT) if groups else SERVICE_DEFAULT)
                # the host above its VMs
                c.edge("kvm.%s" % host_name, "vm.%s" % vm_name, style="invis")
        host_nets = set(host.get("addresses") or {})
        for net in sorted(host_nets):
            if net in model["networks"]:
                g.edge("net.%s" % net, "kvm.%s" % host_name, style="dashed")
        # the networks of its VMs above the host (a layout hint, not drawn)
        for net in sorted({model["vms"][v]["network"] for v in host["vms"]} - host_nets):
            if net in model["networks"]:
                g.edge("net.%s" % net, "kvm.%s" % host_name, style="invis")

    for vm_name, vm in sorted(model["vms"].items()):
        if vm.get("network") in model["networks"]:
            g.edge("net.%s" % vm["network"], "vm.%s" % vm_name)

    for name, ext in sorted((model.get("external_hosts") or {}).items()):
        g.node("ext.%s" % name, _label(graphviz, name, "existing machine", ext.get("ansible_host"),
                                       ", ".join(ext.get("groups") or [])),
               shape="box", style="rounded,dashed", color="#6b7280")

    for pair in redundancy_pairs(model):
        colour = PAIR_SHARED if pair["same_host"] else PAIR_APART
        g.edge("vm.%s" % pair["a"], "vm.%s" % pair["b"],
               _label(graphviz, "pair %s" % pair["group"], "SAME HOST" if pair["same_host"] else "apart"),
               style="dashed", color=colour, fontcolor=colour, penwidth="2", constraint="false",
               id="pair.%s.%s.%s" % (pair["group"], pair["a"], pair["b"]))
    return g


def _clean_svg(text):
    """graphviz's SVG as one ``<svg>`` element: no XML prolog, DOCTYPE or comments; checked to be well-formed."""
    ET.register_namespace("", SVG_NS)
    ET.register_namespace("xlink", XLINK_NS)
    root = ET.fromstring(text.encode("utf-8"))
    if root.tag != "{%s}svg" % SVG_NS:
        raise ValueError("graphviz did not return an SVG document (root element %r)" % root.tag)
    for el in root.iter():
        if el.tag.split("}")[-1] in ("script", "foreignObject") or any(
                a.split("}")[-1] in ("href",) or a.startswith("on") for a in el.attrib):
            raise ValueError("graphviz's SVG holds an active element or link (%s): refusing to inline it" % el.tag)
    root.set("role", "img")
    return ET.tostring(root, encoding="unicode")


def topology_svg(model, capacity=None):
    """The topology as one inline ``<svg>`` element (text)."""
    graphviz = _graphviz()
    g = topology_graph(model, capacity)
    try:
        svg = g.pipe(format="svg", encoding="utf-8")
    except graphviz.ExecutableNotFound:
        raise ImportError("graphviz's dot program is not installed: run make setup (apt-get install graphviz)")
    return _clean_svg(svg)
