"""plugin_utils/schema.py: the one declaration of the inventory variables.

It drives the model's checks (messages: variable + what is wrong + Fix:), the
tables of docs/branch-model.md (must be regenerated when it changes) and must
agree with the roles' argument specs.
"""

import pathlib

import pytest
import yaml

from ansible_collections.smbvdc.datacenter.plugins.plugin_utils import budget, model, schema
from ansible_collections.smbvdc.datacenter.plugins.plugin_utils.errors import Collector, ModelError

from branch_fixtures import lab

ROOT = pathlib.Path(__file__).resolve().parents[4]
DOC = ROOT / "docs" / "branch-model.md"


def test_docs_tables_are_generated_from_the_schema():
    text = DOC.read_text(encoding="utf-8")
    assert schema.render_docs(text) == text, "docs/branch-model.md is out of date: run scripts/gen-docs.py"


def test_every_variable_has_a_row_in_the_docs():
    text = DOC.read_text(encoding="utf-8")
    for section, variables in schema.SECTIONS.items():
        block = text.split("<!-- BEGIN schema:%s -->" % section)[1].split("<!-- END schema:%s -->" % section)[0]
        for name in variables:
            assert "| `%s` |" % name in block, (section, name)


def test_render_docs_needs_every_block():
    with pytest.raises(ValueError, match="no <!-- BEGIN schema:[a-z]+ -->"):
        schema.render_docs("no tables here\n")
    # every section but one present: the missing one is named
    text = "".join("<!-- BEGIN schema:%s -->\n<!-- END schema:%s -->\n" % (s, s) for s in schema.SECTIONS
                   if s != "backup")
    with pytest.raises(ValueError, match="schema:backup"):
        schema.render_docs(text)


def test_the_model_reads_its_keys_from_the_schema():
    assert model.HOST_VAR_KEYS == tuple(schema.KVM) + tuple(schema.VM)
    assert model.BRANCH_KEYS == tuple(schema.BRANCH)
    assert model.NETWORK_KEYS == tuple(schema.NETWORK)
    assert model.VM_STATES == schema.VM["vm_state"].choices
    assert model.NETWORK_MODES == schema.NETWORK["mode"].choices
    assert (model.DEFAULT_VM_VCPUS, model.DEFAULT_VM_DISK_GB) == (1, 10)


def test_budget_defaults_are_budget_py_defaults():
    assert list(schema.BUDGET) == list(budget.BUDGET_DEFAULTS)
    for key, spec in schema.BUDGET.items():
        assert spec.default == budget.BUDGET_DEFAULTS[key]
        assert isinstance(spec.cast(spec.default), type(budget.BUDGET_DEFAULTS[key]))


def test_every_variable_says_what_it_means():
    for section in schema.SECTIONS.values():
        for spec in section.values():
            assert spec.description, spec
            if spec.required:
                assert spec.default is None, spec


def _check(value, spec, example=None):
    problems = Collector()
    out = schema.check(value, spec, "hostvars['h'].%s" % spec.name, problems, example)
    return out, [str(p) for p in problems.problems]


@pytest.mark.parametrize("spec,value,expected", [
    (schema.VM["vm_memory_mb"], "2048", 2048),
    (schema.VM["vm_memory_mb"], " 512 ", 512),
    (schema.VM["vm_vcpus"], None, 1),                       # default
    (schema.VM["vm_disk_gb"], None, 10),
    (schema.KVM["kvm_os_reserve_mb"], None, None),          # no default: the model computes one
    (schema.KVM["kvm_os_reserve_mb"], 0, 0),
    (schema.VM["vm_network"], 7, "7"),                      # a scalar becomes a string
    (schema.VM["vm_anti_affinity"], "web", ["web"]),        # a string is a list of one
    (schema.VM["vm_anti_affinity"], ("a", "b"), ["a", "b"]),
    (schema.VM["vm_anti_affinity"], None, []),
    (schema.VM["vm_state"], "paused", "paused"),
    (schema.KVM["kvm_addresses"], {"lan": "10.0.0.2"}, {"lan": "10.0.0.2"}),
    (schema.NETWORK["reverse_parent"], False, False),
    (schema.BUDGET["vm_overhead_mb"], "300.9", 300),        # *_mb: a number, cut to MiB
    (schema.BUDGET["ram_allocation_ratio"], "1.5", 1.5),
    (schema.BUDGET["os_reserve_fraction"], 0, 0.0),
    (schema.VM["vm_data_disks"], None, []),
    (schema.DATA_DISK["name"], "vtapes", "vtapes"),
    (schema.DATA_DISK["name"], "a" * 13, "a" * 13),          # smbvdc- + 13 = the 20 bytes of a virtio serial
    (schema.DATA_DISK["size_gb"], "8", 8),
])
def test_check_accepts(spec, value, expected):
    out, problems = _check(value, spec)
    assert problems == []
    assert out == expected and type(out) is type(expected)


@pytest.mark.parametrize("spec,value,message", [
    (schema.KVM["kvm_memory_mb"], None, "must be an integer >= 512, got None."),
    (schema.KVM["kvm_memory_mb"], 256, "must be an integer >= 512, got 256."),
    (schema.VM["vm_vcpus"], "two", "must be an integer >= 1, got 'two'."),
    (schema.VM["vm_vcpus"], True, "must be an integer >= 1, got True."),
    (schema.VM["vm_disk_gb"], 1, "must be an integer >= 2, got 1."),
    (schema.VM["vm_network"], ["lan"], "must be a single value, got list ['lan']."),
    (schema.VM["vm_host"], {"a": 1}, "must be a single value, got dict {'a': 1}."),
    (schema.VM["vm_state"], "stopped", "must be one of running, defined, shutdown, destroyed, paused, saved, "
                                       "undefined, got 'stopped'."),
    (schema.VM["vm_anti_affinity"], 5, "must be a list, got 5."),
    (schema.KVM["kvm_addresses"], ["x"], "must map network names to addresses, got ['x']."),
    (schema.NETWORK["mode"], None, "must be one of nat, isolated, bridge, got None."),   # explicit null
    (schema.NETWORK["pool_start"], 1, "must be an integer >= 2, got 1."),
    (schema.NETWORK["reverse_parent"], "yes", "must be true or false, got 'yes'."),
    (schema.BUDGET["vm_overhead_mb"], "lots", "must be a number, got 'lots'."),
    (schema.BUDGET["vm_overhead_mb"], None, "must be a number, got None."),
    (schema.BUDGET["vm_overhead_mb"], -1, "must be a number >= 0, got -1."),
    (schema.BUDGET["ram_allocation_ratio"], 0, "must be a number > 0 and <= 16, got 0."),
    (schema.BUDGET["cpu_allocation_ratio"], 17, "must be a number > 0 and <= 16, got 17."),
    (schema.BUDGET["os_reserve_fraction"], 1, "must be a number >= 0 and < 1, got 1."),
    (schema.VM["vm_data_disks"], {"name": "x"}, "must be a list, got {'name': 'x'}."),
    (schema.DATA_DISK["name"], "Vtapes", "must be a label of a-z, 0-9 and '-' starting with a letter, at most 13 "
                                         "characters, got 'Vtapes'."),
    (schema.DATA_DISK["name"], "1tapes", "must be a label of a-z, 0-9 and '-' starting with a letter, at most 13 "
                                         "characters, got '1tapes'."),
    (schema.DATA_DISK["name"], "a" * 14, "must be a label of a-z, 0-9 and '-' starting with a letter, at most 13 "
                                         "characters, got '%s'." % ("a" * 14)),
    (schema.DATA_DISK["name"], None, "must be a label of a-z, 0-9 and '-' starting with a letter, at most 13 "
                                     "characters, got None."),
    (schema.DATA_DISK["size_gb"], 0, "must be an integer >= 1, got 0."),
    (schema.DATA_DISK["size_gb"], None, "must be an integer >= 1, got None."),
])
def test_check_reports_variable_message_and_fix(spec, value, message):
    out, problems = _check(value, spec)
    assert out is None
    assert len(problems) == 1
    assert problems[0] == "hostvars['h'].%s: %s Fix: %s" % (spec.name, message, schema.fix_text(spec))


def test_fix_text_takes_the_callers_example():
    _, problems = _check(["lan"], schema.VM["vm_network"], example="dmz")
    assert problems[0].endswith("Fix: name one network, e.g. vm_network: dmz")
    _, problems = _check(["kvm9"], schema.VM["vm_host"])
    assert problems[0].endswith("Fix: name one KVM host, e.g. vm_host: kvm1")


def test_defaults_are_not_shared():
    first, _ = _check(None, schema.VM["vm_anti_affinity"])
    first.append("x")
    assert _check(None, schema.VM["vm_anti_affinity"])[0] == []


def test_model_reports_schema_problems_all_at_once():
    branch, inv = lab()
    branch["budget"] = {"ram_allocation_ratio": 0, "os_reserve_fraction": 2}
    inv["hostvars"]["web1"].update(vm_state="stopped", vm_vcpus="two")
    inv["hostvars"]["kvm1"].update(kvm_memory_mb=100)
    with pytest.raises(ModelError) as err:
        model.build_model(branch, inv)
    text = str(err.value)
    for variable in ("smbvdc_branch.budget.ram_allocation_ratio", "smbvdc_branch.budget.os_reserve_fraction",
                     "hostvars['web1'].vm_state", "hostvars['web1'].vm_vcpus", "hostvars['kvm1'].kvm_memory_mb"):
        assert variable in err.value.variables
    assert text.count("Fix:") == len(err.value.problems)
    assert "0.05 reserves 5 % of RAM." in text


# --- the roles' argument specs ----------------------------------------------------------------------
# Ansible argument-spec types a schema type may be declared as.
ANSIBLE_TYPES = {"int": {"int"}, "number": {"float", "int"}, "str": {"str"}, "bool": {"bool"}, "list": {"list"},
                 "mapping": {"dict"}}
SPEC_FILES = [ROOT / "roles" / r / "meta" / "argument_specs.yml" for r in ("vm", "kvm_host")]


def _options(path):
    for entry_point, spec in (yaml.safe_load(path.read_text()) or {})["argument_specs"].items():
        for name, option in (spec.get("options") or {}).items():
            yield entry_point, name, option


@pytest.mark.parametrize("path", SPEC_FILES, ids=lambda p: p.parts[-3])
def test_role_argument_specs_do_not_contradict_the_schema(path):
    bad = []
    for entry_point, name, option in _options(path):
        spec = schema.HOST_VARS.get(name)
        if spec is None:
            continue
        kind = option.get("type", "str")
        if kind != "raw" and kind not in ANSIBLE_TYPES[spec.type]:
            bad.append("%s: %s has type %s, the schema %s" % (entry_point, name, kind, spec.type))
        if "default" in option and option["default"] != spec.default:
            bad.append("%s: %s has default %r, the schema %r" % (entry_point, name, option["default"], spec.default))
        if spec.choices is not None and tuple(option.get("choices") or ()) != spec.choices:
            bad.append("%s: %s has choices %r, the schema %r" % (entry_point, name, option.get("choices"),
                                                                 spec.choices))
    assert not bad, bad


def test_vm_role_default_state_has_the_vm_state_choices():
    options = {name: option for _, name, option in _options(SPEC_FILES[0])}
    assert tuple(options["vm_role_default_state"]["choices"]) == schema.VM["vm_state"].choices
    assert options["vm_role_default_state"]["default"] in schema.VM["vm_state"].choices
