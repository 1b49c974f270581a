"""Each role's variables are declared once and documented where users look.

For every role with ``meta/argument_specs.yml``: each option of its entry
points is in ``defaults/main.yml`` (and the other way round), a default
the spec states is the one ``defaults/main.yml`` has, and the README's
variable table lists exactly the spec's options. Roles that do not meet this
yet are listed in PENDING (with the reason) rather than skipped silently.
"""

import pathlib
import re

import pytest
import yaml

ROLES = pathlib.Path(__file__).resolve().parents[3] / "roles"
# Roles whose README or defaults do not follow the rule yet: name -> why.
PENDING = {}


def _roles():
    return sorted(p.parent.parent.name for p in ROLES.glob("*/meta/argument_specs.yml"))


def _spec(role):
    """The options of all entry points (main, and tasks_from ones such as mariadb's database)."""
    out = {}
    for entry in yaml.safe_load((ROLES / role / "meta" / "argument_specs.yml").read_text())["argument_specs"].values():
        out.update(entry.get("options") or {})
    return out


def _defaults(role):
    path = ROLES / role / "defaults" / "main.yml"
    return (yaml.safe_load(path.read_text()) or {}) if path.exists() else {}


def _readme_vars(role):
    """The names in the first column of the README's variable tables (header "variable")."""
    out, in_table = [], False
    for line in (ROLES / role / "README.md").read_text().splitlines():
        if not line.startswith("|"):
            in_table = False
            continue
        first = line.split("|")[1].strip()
        if not in_table:
            in_table, is_vars = True, first.lower() == "variable"
            continue
        if is_vars:
            names = re.findall(r"`([a-z0-9_]+)(?:…)?`", first)
            # layered lists written short: `common_x` (+ `common_group_…`, `common_host_…`)
            out += [n + names[0][len(role) + 1:] if n.endswith("_") else n for n in names]
    return out


def _problems(role):
    spec, defaults = _spec(role), _defaults(role)
    out = []
    out += ["%s is in argument_specs but not in defaults/main.yml" % n for n in spec if n not in defaults]
    out += ["%s is in defaults/main.yml but not in argument_specs" % n for n in defaults if n not in spec]
    out += ["%s: argument_specs default %r, defaults/main.yml %r" % (n, o["default"], defaults[n])
            for n, o in spec.items() if "default" in o and n in defaults and o["default"] != defaults[n]]
    readme = _readme_vars(role)
    out += ["%s is not in the README's variable table" % n for n in spec if n not in readme]
    out += ["the README lists %s, which argument_specs does not have" % n for n in readme if n not in spec]
    return out


@pytest.mark.parametrize("role", [r for r in _roles() if r not in PENDING])
def test_argument_specs_defaults_and_readme_agree(role):
    assert not _problems(role)


def test_the_nextcloud_role_is_checked():
    assert "nextcloud" in _roles() and "nextcloud" not in PENDING
