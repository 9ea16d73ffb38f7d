"""Every module's DOCUMENTATION, EXAMPLES and RETURN are valid YAML (what
ansible-doc and ansible-test's validate-modules read first)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

MODULES = sorted(
    p
    for p in (Path(__file__).resolve().parents[2] / "plugins" / "modules").glob("*.py")
    if p.stem != "__init__"
)


def doc_strings(path: Path) -> dict[str, str]:
    tree = ast.parse(path.read_text())
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            for target in node.targets:
                if isinstance(target, ast.Name) and target.id in {"DOCUMENTATION", "EXAMPLES", "RETURN"}:
                    found[target.id] = node.value.value
    return found


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.stem)
def test_module_documentation_is_yaml(path):
    docs = doc_strings(path)
    assert "DOCUMENTATION" in docs, path.name
    documentation = yaml.safe_load(docs["DOCUMENTATION"])
    assert documentation["module"] == path.stem
    assert documentation["short_description"]
    for name in ("EXAMPLES", "RETURN"):
        if name in docs:
            yaml.safe_load(docs[name])
