import pytest

from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import ipplan


@pytest.mark.parametrize("cidr,zones", [
    ("10.77.10.0/24", ["10.77.10.in-addr.arpa"]),
    ("10.77.0.0/16", ["77.10.in-addr.arpa"]),
    ("10.0.0.0/8", ["10.in-addr.arpa"]),
    ("10.77.8.0/22", ["8.77.10.in-addr.arpa", "9.77.10.in-addr.arpa", "10.77.10.in-addr.arpa", "11.77.10.in-addr.arpa"]),
    ("198.51.100.128/25", ["128-255.100.51.198.in-addr.arpa"]),
    ("198.51.100.64/26", ["64-127.100.51.198.in-addr.arpa"]),
    ("2001:db8::/32", ["8.b.d.0.1.0.0.2.ip6.arpa"]),
    ("fd00:77:10::/64", ["0.0.0.0.0.1.0.0.7.7.0.0.0.0.d.f.ip6.arpa"]),
    ("2001:db8:0:10::/62", ["0.1.0.0.8.b.d.0.1.0.0.2.ip6.arpa"[0:0] + z for z in [
        "0.1.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa", "1.1.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa",
        "2.1.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa", "3.1.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"]]),
])
def test_reverse_zones(cidr, zones):
    assert [z["zone"] for z in ipplan.reverse_zones(cidr)] == zones


def test_classless_zone_names_parent():
    (z,) = ipplan.reverse_zones("198.51.100.128/25")
    assert z["classless"] and z["parent"] == "100.51.198.in-addr.arpa"
    assert z["network"] == "198.51.100.128/25"


def test_zone_for_address_and_pointer():
    zones = ipplan.reverse_zones("10.77.8.0/22")
    assert ipplan.zone_for_address("10.77.10.5", zones) == "10.77.10.in-addr.arpa"
    assert ipplan.zone_for_address("10.78.0.1", zones) is None
    assert ipplan.reverse_pointer("10.77.10.5") == "5.10.77.10.in-addr.arpa"
    assert ipplan.reverse_pointer("fd00::1").endswith(".ip6.arpa") and ipplan.reverse_pointer("fd00::1").startswith("1.0.0")


def _net(cidr4, cidr6=None, gw4=None):
    import netaddr
    n4 = netaddr.IPNetwork(cidr4)
    return {"ipv4": n4, "ipv6": netaddr.IPNetwork(cidr6) if cidr6 else None,
            "gateway4": netaddr.IPAddress(gw4) if gw4 else n4[1], "gateway6": None, "pool_start": 10}


def test_assign_is_deterministic_and_skips_taken():
    c = ipplan.new_collector()
    out = ipplan.assign(_net("10.0.0.0/24", "fd00::/64"), [
        ("a", None, None, "va", "va6"), ("b", "10.0.0.10", None, "vb", "vb6"), ("c", None, None, "vc", "vc6")], c)
    assert not c.problems
    assert out == {"a": {"ipv4": "10.0.0.11", "ipv6": "fd00::b"}, "b": {"ipv4": "10.0.0.10", "ipv6": "fd00::a"},
                   "c": {"ipv4": "10.0.0.12", "ipv6": "fd00::c"}}


def test_assign_skips_gateway_in_pool():
    c = ipplan.new_collector()
    out = ipplan.assign(_net("10.0.0.0/24", gw4="10.0.0.10"), [("a", None, None, "va", "va6")], c)
    assert out["a"]["ipv4"] == "10.0.0.11"


def test_overlap_detected():
    import netaddr
    c = ipplan.new_collector()
    ipplan.check_overlaps({"a": {"ipv4": netaddr.IPNetwork("10.0.0.0/16")},
                           "b": {"ipv4": netaddr.IPNetwork("10.0.5.0/24")}}, c)
    assert [p.variable for p in c.problems] == ["smbvdc_branch.networks['b'].ipv4"]
