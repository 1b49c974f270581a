"""No Python traceback reaches the user: every wrong value ends in a ModelError naming a variable.

Every value of a full branch description (the branch mapping, every host's
variables, the mail and DNS layers' variables) is replaced in turn by values
of the wrong type or shape; the model, the zones, the preflight of the layers
and the zone text must either accept it or raise ``ModelError``, never
anything else.
"""

import copy

import pytest

from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import dns as dnsgen
from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import model
from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import preflight
from ansible_collections.smbvdc.datacenter.plugins.plugin_utils.errors import ModelError

from branch_fixtures import lab

WRONG = [None, [], {}, "x", 1, -1, True, ["a"], {"a": 1}, "", 0, 3.5, "10.77.10.300", "fd00::1", "a b"]


def full_branch():
    b, inv = lab()
    b, inv = copy.deepcopy(b), copy.deepcopy(inv)
    b["dns"] = {"records": [{"name": "x", "type": "A", "value": "10.77.10.99", "ttl": 60}], "verification": ["tok"],
                "caa": ['0 issue "x.org"'], "hostmaster": "a@b.org", "service_names": {"web": ["www"]}}
    b["mail"] = {"dmarc_rua": "mailto:a@b.org", "spf_extra": ["ip4:192.0.2.4"], "dkim_selector": "s",
                 "mx_priority": 10}
    b["budget"] = {"vm_overhead_mb": 100}
    inv["hostvars"]["web1"].update(vm_vcpus=1, vm_disk_gb=5, vm_address="10.77.10.50", vm_address6="fd00:77:10::50",
                                   vm_host="kvm1", vm_anti_affinity=["w"], vm_network="lan")
    inv["hostvars"]["kvm1"].update(kvm_os_reserve_mb=1024, kvm_site="hq", kvm_addresses={"lan": "10.77.10.2"})
    inv["hostvars"]["mail1"].update(mail_postmaster="a@lab.smbvdc.test",
                                    mail_mailboxes=[{"address": "a@lab.smbvdc.test", "quota": "1G"}],
                                    mail_aliases=[{"address": "b@lab.smbvdc.test", "to": ["a@lab.smbvdc.test"]}])
    inv["hostvars"]["ns1"]["nsd_tsig_secret"] = "K2tf3TRjvQkVCmJF3/Z9vA=="
    return b, inv


def _paths(obj, prefix=()):
    if prefix:
        yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, prefix + (i,))


def _set(obj, path, value):
    for p in path[:-1]:
        obj = obj[p]
    obj[path[-1]] = value


B, INV = full_branch()
TARGETS = [("branch", p) for p in _paths(B)] + [("hostvars", p) for p in _paths(INV["hostvars"]) if len(p) >= 2]


def test_the_full_branch_is_valid():
    b, inv = full_branch()
    m = model.build_model(b, inv)
    preflight.check_layers(m, inv["hostvars"])


@pytest.mark.parametrize("target", TARGETS, ids=["%s.%s" % (k, ".".join(map(str, p))) for k, p in TARGETS])
def test_wrong_values_give_a_model_error_not_a_traceback(target):
    kind, path = target
    for value in WRONG:
        b, inv = full_branch()
        _set(b if kind == "branch" else inv["hostvars"], path, copy.deepcopy(value))
        try:
            m = model.build_model(b, inv)
            preflight.check_layers(m, inv["hostvars"])
            for z in dnsgen.build_zones(m, {}).values():
                dnsgen.render_zone(z, m)
        except ModelError as exc:
            assert exc.problems and all(p.variable for p in exc.problems)
        except Exception as exc:  # the test's point: anything else is a traceback the user would see
            pytest.fail("%s = %r: %s: %s" % (".".join(map(str, path)), value, type(exc).__name__, exc))
