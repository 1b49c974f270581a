"""Adding a VM never renumbers a defined one: the model keeps the addresses the
VMs were built with (read from their libvirt metadata by playbooks/placement.yml)."""

import copy

import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.smbvdc.datacenter.plugins.plugin_utils.model import ModelError, build_model
from ansible_collections.smbvdc.datacenter.tests.branch_fixtures import lab


def _addresses(model):
    return {n: {"network": v["network"], "ipv4": v["ipv4"], "ipv6": v["ipv6"]} for n, v in model["vms"].items()}


def _add(inv, name, group="web"):
    inv = copy.deepcopy(inv)
    inv["groups"].setdefault(group, []).append(name)
    inv["hostvars"][name] = {"vm_memory_mb": 256}
    return inv


def test_adding_a_vm_that_sorts_first_renumbers_without_addresses():
    """What the addresses fix: without them the plan shifts (this is why they are read)."""
    branch, inv = lab()
    before = build_model(branch, inv)
    after = build_model(branch, _add(inv, "aaa1"))
    assert after["vms"]["mail1"]["ipv4"] != before["vms"]["mail1"]["ipv4"]


def test_adding_a_vm_keeps_every_defined_address():
    branch, inv = lab()
    before = build_model(branch, inv)
    after = build_model(branch, _add(inv, "aaa1"), addresses=_addresses(before))
    for name, a in _addresses(before).items():
        assert _addresses(after)[name] == a, name
    # the new VM gets a free address, none taken twice
    used = [v["ipv4"] for v in after["vms"].values()]
    assert len(used) == len(set(used))


def test_explicit_vm_address_wins_and_a_clash_is_an_error():
    branch, inv = lab()
    before = build_model(branch, inv)
    inv2 = _add(inv, "aaa1")
    inv2["hostvars"]["aaa1"]["vm_address"] = before["vms"]["mail1"]["ipv4"]
    with pytest.raises(ModelError) as err:
        build_model(branch, inv2, addresses=_addresses(before))
    assert "already used by" in str(err.value)
    inv3 = copy.deepcopy(inv)
    inv3["hostvars"]["mail1"]["vm_address"] = "10.77.10.99"
    assert build_model(branch, inv3, addresses=_addresses(before))["vms"]["mail1"]["ipv4"] == "10.77.10.99"


def test_address_outside_the_subnet_is_dropped():
    branch, inv = lab()
    old = {"mail1": {"network": "lan", "ipv4": "192.168.1.5", "ipv6": ""}}
    m = build_model(branch, inv, addresses=old)
    assert m["vms"]["mail1"]["ipv4"].startswith("10.77.10.")


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=6), min_size=1, max_size=6,
                unique=True))
def test_random_additions_never_renumber(new_names):
    branch, inv = lab()
    model = build_model(branch, inv)
    for i, n in enumerate(new_names):
        name = "%s%d" % (n, i)
        if name in model["vms"]:
            continue
        inv = _add(inv, name)
        known = _addresses(model)
        model = build_model(branch, inv, addresses=known)
        for vm, a in known.items():
            assert _addresses(model)[vm] == a
