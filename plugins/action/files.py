# Copyright: (c) 2026, pyweb.ha maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Render a role's templates and read its source files on the controller, then
hand them to the pyweb.ha.files module, which writes the ones that differ in
one round trip. Documented in plugins/modules/files.py."""

from __future__ import annotations

import base64
import os
from typing import Any

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible.template import trust_as_template

try:  # the same template variables (ansible_managed, template_path, ...) as ansible.builtin.template
    from ansible._internal._templating._template_vars import generate_ansible_template_vars
except ImportError:  # pragma: no cover - older ansible-core
    from ansible.template import generate_ansible_template_vars  # type: ignore[no-redef,attr-defined]

PASSED = ("dest", "state", "mode", "owner", "group", "validate", "secret", "defer")


def _encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _tree(source: str, dest: str) -> list[tuple[str, str]]:
    """(source file, destination) for every file under a directory, in a stable order."""
    pairs = []
    for root, dirs, names in os.walk(source):
        dirs.sort()
        for name in sorted(names):
            path = os.path.join(root, name)
            pairs.append((path, os.path.join(dest, os.path.relpath(path, source))))
    return pairs


class ActionModule(ActionBase):
    """pyweb.ha.files"""

    TRANSFERS_FILES = False

    def _render(self, name: str, dest: str, task_vars: dict[str, Any]) -> bytes:
        source = self._find_needle("templates", name)
        searchpath = list(task_vars.get("ansible_search_path", []))
        searchpath.extend([self._loader.get_basedir(), os.path.dirname(source)])
        searchpath = [p for base in searchpath for p in (os.path.join(base, "templates"), base)]
        variables = task_vars.copy()
        variables.update(
            generate_ansible_template_vars(
                path=name,
                fullpath=source,
                dest_path=dest,
                include_ansible_managed="ansible_managed" not in variables,
            )
        )
        templar = self._templar.copy_with_new_env(searchpath=searchpath, available_variables=variables)
        data = trust_as_template(self._loader.get_text_file_contents(source))
        rendered = templar.template(data, escape_backslashes=False, overrides={"trim_blocks": True})
        return ("" if rendered is None else str(rendered)).encode("utf-8")

    def _read(self, path: str) -> bytes:
        with open(path, "rb") as handle:
            return handle.read()

    def _entries(self, spec: dict[str, Any], task_vars: dict[str, Any]) -> list[dict[str, Any]]:
        """The module's entries for one given file (several for a src directory)."""
        if "dest" not in spec:
            raise AnsibleActionFail(f"pyweb.ha.files: an entry has no dest: {sorted(spec)}")
        entry = {key: spec[key] for key in PASSED if key in spec}
        if spec.get("state", "present") == "absent":
            return [entry]
        sources = [key for key in ("template", "src", "content") if key in spec]
        if len(sources) != 1:
            raise AnsibleActionFail(
                f"pyweb.ha.files: {spec['dest']} needs exactly one of template, src, content"
            )
        if "template" in spec:
            return [dict(entry, content=_encode(self._render(spec["template"], spec["dest"], task_vars)))]
        if "content" in spec:
            return [dict(entry, content=_encode(str(spec["content"]).encode("utf-8")))]
        source = self._find_needle("files", spec["src"])
        if os.path.isdir(source):
            return [
                dict(entry, dest=dest, content=_encode(self._read(path)))
                for path, dest in _tree(source, spec["dest"])
            ]
        return [dict(entry, content=_encode(self._read(source)))]

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        files = [
            entry for spec in self._task.args.get("files") or [] for entry in self._entries(spec, task_vars)
        ]
        # The report options (packages, units, users, group, docker_info) go as given.
        report = {key: value for key, value in self._task.args.items() if key not in ("files", "directories")}
        module_args = {"files": files, "directories": self._task.args.get("directories") or [], **report}
        result.update(
            self._execute_module(module_name="pyweb.ha.files", module_args=module_args, task_vars=task_vars)
        )
        return result
