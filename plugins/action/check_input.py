# Copyright: (c) 2026, pyweb.ha maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Check a role's input on the controller, before any change: the types and
choices of its meta/argument_specs.yml, the formats and ranges its options
are tagged with (plugins/plugin_utils/input_check.py), and the role's
cross-variable rules given as data. One message names the host, every invalid
variable, its value (never a no_log one), what is allowed and how to fix it.
Documented in plugins/modules/check_input.py."""

from __future__ import annotations

import os
from typing import Any

from ansible.errors import AnsibleError
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase
from ansible_collections.pyweb.ha.plugins.plugin_utils.input_check import (
    check_options,
    check_report,
    failed_checks,
    load_argument_specs,
)


def _spec(role_path: str, entry_point: str) -> dict[str, Any]:
    path = os.path.join(role_path, "meta", "argument_specs.yml")
    specs = load_argument_specs(path)
    if entry_point not in specs:
        raise AnsibleError(f"{path} has no entry point {entry_point!r}")
    return specs[entry_point].get("options") or {}


class ActionModule(ActionBase):
    """pyweb.ha.check_input"""

    TRANSFERS_FILES = False
    _requires_connection = False

    def _values(self, options: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        templar = self._templar.copy_with_new_env(available_variables=task_vars)
        return {name: templar.resolve_variable_expression(name) for name in options if name in task_vars}

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        role = self._task._role
        if role is None:
            raise AnsibleError("pyweb.ha.check_input runs inside a role (its validate entry point)")
        entry_point = self._task.args.get("entry_point", "main")
        rules = self._task.args.get("rules") or []
        options = _spec(role._role_path, entry_point)
        values = self._values(options, task_vars)
        host = task_vars.get("inventory_hostname", "?")
        role_name = os.path.basename(role._role_path)

        validated = ArgumentSpecValidator(options).validate(values)
        if validated.error_messages:
            result.update(
                failed=True,
                msg=(
                    f"{host}: {'; '.join(validated.error_messages)}. Fix: give each of these a value of"
                    f" the type (and one of the choices) that roles/{role_name}/README.md lists,"
                    " in the inventory or with -e."
                ),
            )
            return result

        failures = check_options(options, values, validated.validated_parameters) + failed_checks(rules)
        result.update(changed=False, checked=len(values) + len(rules))
        if failures:
            result.update(failed=True, msg=check_report(failures, host))
        return result
