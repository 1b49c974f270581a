# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smbvdc.datacenter developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Address plan: static addresses, gateways and reverse-zone names (netaddr)."""

from __future__ import annotations

try:
    import netaddr
    HAS_NETADDR = True
    NETADDR_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - exercised only without netaddr
    HAS_NETADDR = False
    NETADDR_IMPORT_ERROR = exc

from .errors import Collector


def require_netaddr():
    if not HAS_NETADDR:
        raise ImportError("the python library netaddr is required on the controller "
                          "(pip install netaddr): %s" % NETADDR_IMPORT_ERROR)


def _label_v4(net, octets):
    """in-addr.arpa name for the first ``octets`` octets of ``net``."""
    parts = str(net.network).split(".")[:octets]
    return ".".join(reversed(parts)) + ".in-addr.arpa"


def reverse_zones(cidr):
    """Reverse zones that serve ``cidr``.

    IPv4 on an octet boundary (/8, /16, /24) is one zone. A shorter non-octet
    prefix (/20, /22) is split into the /24 (or /16, /8) zones it covers. A
    prefix longer than /24 (an ISP's /25, /26, /27 ...) is an RFC 2317
    classless zone ``<first>-<last>.<c>.<b>.<a>.in-addr.arpa`` that the parent
    /24 zone's owner delegates with CNAMEs; ``parent`` names that zone.
    (RFC 2317 allows ``/`` or ``-`` in the label; ``-`` is used because ``/``
    is not a valid file name for zone files and confuses some tools.)
    IPv6 works the same on nibble (4-bit) boundaries.

    :returns: list of ``{zone, network, classless, parent}``.
    """
    require_netaddr()
    net = netaddr.IPNetwork(str(cidr))
    net = netaddr.IPNetwork("%s/%d" % (net.network, net.prefixlen))
    zones = []
    if net.version == 4:
        if net.prefixlen > 24:
            base = netaddr.IPNetwork("%s/24" % net.network).cidr
            first = int(str(net.network).split(".")[3])
            last = first + net.size - 1
            parent = _label_v4(base, 3)
            zones.append({"zone": "%d-%d.%s" % (first, last, parent), "network": str(net),
                          "classless": True, "parent": parent})
            return zones
        boundary = ((net.prefixlen + 7) // 8) * 8
        boundary = max(boundary, 8)
        for sub in net.subnet(boundary):
            zones.append({"zone": _label_v4(sub, boundary // 8), "network": str(sub),
                          "classless": False, "parent": None})
        return zones
    boundary = ((net.prefixlen + 3) // 4) * 4
    boundary = max(boundary, 4)
    for sub in net.subnet(boundary):
        nibbles = "%032x" % int(sub.network)
        labels = list(nibbles[: boundary // 4])
        zones.append({"zone": ".".join(reversed(labels)) + ".ip6.arpa", "network": str(sub),
                      "classless": False, "parent": None})
    return zones


def reverse_pointer(address):
    """The PTR owner name of an address (without the trailing dot)."""
    require_netaddr()
    return netaddr.IPAddress(str(address)).reverse_dns.rstrip(".")


def zone_for_address(address, zones):
    """The reverse zone (from ``reverse_zones``) that holds ``address``'s PTR."""
    ip = netaddr.IPAddress(str(address))
    for z in zones:
        if ip in netaddr.IPNetwork(z["network"]):
            return z["zone"]
    return None


def parse_network(value, version, variable, problems):
    """Parse a subnet; record a problem naming ``variable`` when it is bad."""
    if value in (None, ""):
        return None
    try:
        net = netaddr.IPNetwork(str(value))
    except (netaddr.AddrFormatError, ValueError, TypeError):
        problems.add(variable, "%r is not a valid IPv%d subnet." % (value, version),
                     "write it in CIDR form, e.g. %s." % ("10.77.10.0/24" if version == 4 else "fd00:77:10::/64"))
        return None
    if net.version != version:
        problems.add(variable, "%r is an IPv%d subnet where IPv%d is expected." % (value, net.version, version),
                     "put IPv4 subnets in ipv4 and IPv6 subnets in ipv6.")
        return None
    if net.ip != net.network:
        problems.add(variable, "%r has host bits set (the network is %s)." % (value, net.cidr),
                     "write the network address, %s." % net.cidr)
        return None
    if version == 4 and net.prefixlen > 30:
        problems.add(variable, "%r leaves no room for a gateway and VMs." % value, "use a /30 or larger subnet.")
        return None
    if version == 6 and net.prefixlen > 120:
        problems.add(variable, "%r leaves no room for a gateway and VMs." % value, "use a /64 (at most a /120).")
        return None
    return net


def parse_address(value, net, variable, problems, what="address", reserved=()):
    """Parse a host address inside ``net``; reject network/broadcast/reserved ones."""
    try:
        ip = netaddr.IPAddress(str(value))
    except (netaddr.AddrFormatError, ValueError, TypeError):
        problems.add(variable, "%r is not a valid IP %s." % (value, what), "write a plain address such as %s."
                     % (netaddr.IPAddress(int(net.network) + 10) if net is not None else "10.77.10.10"))
        return None
    if net is None:
        return ip
    if ip.version != net.version or ip not in net:
        problems.add(variable, "%s is outside the subnet %s." % (ip, net.cidr),
                     "choose an address inside %s or change the network." % net.cidr)
        return None
    if net.version == 4 and (ip == net.network or ip == net.broadcast):
        problems.add(variable, "%s is the %s address of %s." % (ip, "network" if ip == net.network else "broadcast", net.cidr),
                     "use an address between %s and %s." % (net[1], net[-2]))
        return None
    if net.version == 6 and ip == net.network:
        problems.add(variable, "%s is the subnet-router anycast address of %s." % (ip, net.cidr),
                     "use another address in %s." % net.cidr)
        return None
    if ip in reserved:
        problems.add(variable, "%s is the gateway of %s." % (ip, net.cidr), "use another address.")
        return None
    return ip


def check_overlaps(networks, problems):
    """Reject overlapping subnets between networks (``{name: {ipv4, ipv6}}``)."""
    items = []
    for name, n in networks.items():
        for key in ("ipv4", "ipv6"):
            if n.get(key) is not None:
                items.append((name, key, n[key]))
    for i, (n1, k1, a) in enumerate(items):
        for n2, k2, b in items[i + 1:]:
            if a.version == b.version and (a in b or b in a or a.first <= b.last and b.first <= a.last):
                problems.add("smbvdc_branch.networks['%s'].%s" % (n2, k2),
                             "%s overlaps %s of network '%s'." % (b.cidr, a.cidr, n1),
                             "give every network its own subnet.")


def assign(network, requests, problems):
    """Addresses for hosts on one network.

    :param network: normalised network (``ipv4``/``ipv6`` IPNetwork, ``gateway4``,
        ``gateway6``, ``pool_start``).
    :param requests: ordered list of ``(host, wanted_v4, wanted_v6, var4, var6)``
        (wanted addresses may be None; ``var4``/``var6`` name the variables);
        hosts with a wanted address keep it, the others get the next free
        address from ``pool_start`` on, in the given (name) order.
    :returns: ``{host: {"ipv4": str|None, "ipv6": str|None}}``.
    """
    net4, net6 = network.get("ipv4"), network.get("ipv6")
    used = {}
    out = {}
    reserved4 = [network["gateway4"]] if network.get("gateway4") is not None else []
    reserved6 = [network["gateway6"]] if network.get("gateway6") is not None else []
    for host, want4, want6, variable, variable6 in requests:
        out[host] = {"ipv4": None, "ipv6": None}
        if want4 is not None:
            ip = parse_address(want4, net4, variable, problems, reserved=reserved4)
            if ip is not None:
                if ip in used:
                    problems.add(variable, "%s is already used by %s." % (ip, used[ip]),
                                 "give each host its own address.")
                else:
                    used[ip] = host
                    out[host]["ipv4"] = ip
        if want6 is not None:
            ip6 = parse_address(want6, net6, variable6, problems, reserved=reserved6)
            if ip6 is not None:
                if ip6 in used:
                    problems.add(variable6, "%s is already used by %s." % (ip6, used[ip6]), "give each host its own address.")
                else:
                    used[ip6] = host
                    out[host]["ipv6"] = ip6
    if net4 is not None:
        candidate = int(net4.network) + int(network.get("pool_start", 10))
        for host, want4, _w6, variable, _v6 in requests:
            if want4 is not None:
                continue
            while candidate < int(net4.broadcast) and (netaddr.IPAddress(candidate) in used
                                                        or netaddr.IPAddress(candidate) in reserved4):
                candidate += 1
            if candidate >= int(net4.broadcast):
                problems.add(variable, "no free address left in %s for %s (pool starts at offset %s)."
                             % (net4.cidr, host, network.get("pool_start", 10)),
                             "use a larger subnet, lower pool_start, or set vm_address.")
                continue
            ip = netaddr.IPAddress(candidate)
            used[ip] = host
            out[host]["ipv4"] = ip
    if net6 is not None:
        for host, _w4, _w6, _v4, _v6 in requests:
            if out[host]["ipv6"] is not None or out[host]["ipv4"] is None:
                continue
            # same host part as the IPv4 address: 10.77.10.11 -> fd00:77:10::b
            offset = int(out[host]["ipv4"]) - int(net4.network)
            if offset >= net6.size:
                continue
            ip6 = netaddr.IPAddress(int(net6.network) + offset, 6)
            if ip6 in used or ip6 in reserved6:
                continue
            used[ip6] = host
            out[host]["ipv6"] = ip6
    return {h: {"ipv4": str(v["ipv4"]) if v["ipv4"] is not None else None,
                "ipv6": str(v["ipv6"]) if v["ipv6"] is not None else None} for h, v in out.items()}


def new_collector():
    return Collector()
