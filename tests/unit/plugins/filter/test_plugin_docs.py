"""Every plugin's DOCUMENTATION, EXAMPLES and RETURN parse as YAML (ansible-doc needs that)."""

import ast
import pathlib

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[4]
PLUGINS = sorted(list((ROOT / "plugins" / "filter").glob("*.py")) + list((ROOT / "plugins" / "modules").glob("*.py")))


def _docs(path):
    tree = ast.parse(path.read_text())
    out = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            if node.targets[0].id in ("DOCUMENTATION", "EXAMPLES", "RETURN"):
                out[node.targets[0].id] = node.value.value
    return out


@pytest.mark.parametrize("path", [p for p in PLUGINS if p.name != "__init__.py"], ids=lambda p: p.name)
def test_documentation_parses(path):
    docs = _docs(path)
    assert set(docs) == {"DOCUMENTATION", "EXAMPLES", "RETURN"}, path.name
    doc = yaml.safe_load(docs["DOCUMENTATION"])
    assert doc.get("short_description")
    assert doc.get("name", doc.get("module")) == path.stem
    yaml.safe_load(docs["EXAMPLES"])
    yaml.safe_load(docs["RETURN"])
