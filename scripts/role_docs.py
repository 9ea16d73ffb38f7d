#!/usr/bin/env python
"""Regenerate, from each role's meta/argument_specs.yml (where every variable
is described once), its defaults/main.yml and the entry point and variable
tables of its README, between the markers

    <!-- BEGIN VARIABLES -->
    <!-- END VARIABLES -->

Usage: scripts/role_docs.py [--check] [ROLE_DIR ...]
  (default: every roles/*/ with a meta/argument_specs.yml)
  --check  change nothing; exit 1 when a file is out of date or a README lacks the markers.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from plugins.plugin_utils.input_check import describe  # noqa: E402  (the collection's vocabulary)

BEGIN = "<!-- BEGIN VARIABLES -->"
END = "<!-- END VARIABLES -->"
NOTE = (
    "<!-- Generated from meta/argument_specs.yml by scripts/role_docs.py;"
    " edit the specification, not this table. -->"
)

# Ansible documentation markup -> Markdown.
_MARKUP = [
    (re.compile(r"L\(([^,()]+),\s*([^()]+)\)"), r"[\1](\2)"),
    (re.compile(r"[COVE]\(([^()]+)\)"), r"`\1`"),
    (re.compile(r"I\(([^()]+)\)"), r"*\1*"),
    (re.compile(r"B\(([^()]+)\)"), r"**\1**"),
    (re.compile(r"[UMR]\(([^()]+)\)"), r"\1"),
    # Internal variables: keep Markdown from reading their underscores as emphasis.
    (re.compile(r"(?<![`\w])(__\w+)"), r"`\1`"),
]


def markdown(text: str) -> str:
    for pattern, replacement in _MARKUP:
        text = pattern.sub(replacement, text)
    return text


def cell(text: str) -> str:
    """One table cell: a single line, pipes escaped."""
    return " ".join(text.split()).replace("|", "\\|")


def description(value: Any) -> str:
    """Markdown of a description; the Format and Range tags in words."""
    if isinstance(value, list):
        return " ".join(markdown(describe(str(v))) for v in value)
    return markdown(str(value or ""))


def show_default(option: dict[str, Any]) -> str:
    if "default" not in option:
        return ""
    value = option["default"]
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str):
        text = value if value else '""'
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        text = "[" + ", ".join(value) + "]"
    else:
        text = json.dumps(value)
    return f"`{text}`"


def show_type(option: dict[str, Any]) -> str:
    kind = str(option.get("type", "str"))
    if kind == "list" and "elements" in option:
        kind = f"list of {option['elements']}"
    if "choices" in option:
        kind += ": " + ", ".join(f"`{c}`" for c in option["choices"])
    return kind


def options_table(options: dict[str, Any]) -> list[str]:
    if not options:
        return ["None."]
    lines = ["| Variable | Type | Default | Description |", "| --- | --- | --- | --- |"]
    for name, option in options.items():
        option = option or {}
        row = [f"`{name}`", show_type(option), show_default(option), description(option.get("description"))]
        lines.append("| " + " | ".join(cell(c) for c in row) + " |")
    return lines


def render(specs: dict[str, Any]) -> str:
    """The Markdown that goes between the markers."""
    entries: dict[str, Any] = specs.get("argument_specs") or {}
    main = (entries.get("main") or {}).get("options") or {}
    lines = [
        NOTE,
        "",
        "Entry points (`tasks_from`):",
        "",
        "| Entry point | Purpose | Options |",
        "| --- | --- | --- |",
    ]
    for name, entry in entries.items():
        entry = entry or {}
        options = entry.get("options") or {}
        if name == "main":
            takes = "the variables below"
        elif not options:
            takes = "none"
        elif options == main:
            takes = "same as `main`"
        else:
            takes = "see below"
        lines.append(f"| `{name}` | {cell(description(entry.get('short_description')))} | {takes} |")
    lines += ["", "Variables:", "", *options_table(main)]
    for name, entry in entries.items():
        options = (entry or {}).get("options") or {}
        if name != "main" and options and options != main:
            lines += ["", f"Variables of the entry point `{name}`:", "", *options_table(options)]
    return "\n".join(lines)


DEFAULTS_HEAD = """---
# Generated from meta/argument_specs.yml by scripts/role_docs.py: every
# variable is described there (and in README.md). Edit the specification.
"""


class _Dumper(yaml.SafeDumper):
    """Block lists indented under their key; templates in double quotes."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = '"' if "{{" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def defaults(specs: dict[str, Any]) -> str:
    """defaults/main.yml: the default of every option of every entry point,
    in the specification's order (main first), each once."""
    values: dict[str, Any] = {}
    for entry in (specs.get("argument_specs") or {}).values():
        for name, option in ((entry or {}).get("options") or {}).items():
            if "default" in option and name not in values:
                values[name] = option["default"]
    body = yaml.dump(values, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=1000)
    return DEFAULTS_HEAD + body


def write(path: Path, new: str, check: bool) -> str | None:
    if path.exists() and path.read_text() == new:
        return None
    if check:
        return f"{path}: out of date; run scripts/role_docs.py"
    path.write_text(new)
    print(f"updated {path.relative_to(REPO) if path.is_relative_to(REPO) else path}")
    return None


def update(role: Path, check: bool) -> str | None:
    """None when the README and defaults are up to date (or were updated), else the problem."""
    readme = role / "README.md"
    if not readme.exists():
        return f"{readme}: missing"
    text = readme.read_text()
    if BEGIN not in text or END not in text or text.index(BEGIN) > text.index(END):
        return f"{readme}: lacks the markers {BEGIN} ... {END}"
    specs = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text()) or {}
    head, rest = text.split(BEGIN, 1)
    _old, tail = rest.split(END, 1)
    stale = write(role / "defaults" / "main.yml", defaults(specs), check)
    return write(readme, f"{head}{BEGIN}\n{render(specs)}\n{END}{tail}", check) or stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="report stale READMEs, change nothing")
    parser.add_argument("roles", nargs="*", type=Path, help="role directories (default: roles/*)")
    args = parser.parse_args(argv)
    roles = args.roles or sorted(p.parent.parent for p in (REPO / "roles").glob("*/meta/argument_specs.yml"))
    problems = [p for p in (update(role, args.check) for role in roles) if p]
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
