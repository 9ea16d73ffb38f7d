# Copyright: (c) 2026, pyweb.ha maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""pyweb.ha.images on the controller without a module run: a lookup
delegated to the controller (connection local, no become, no task
environment) asks the controller's Docker from Ansible's own worker process,
where the module would start a Python of its own for a few requests on a
Unix socket. Anywhere else the module runs as usual. Documented in
plugins/modules/images.py."""

from __future__ import annotations

from typing import Any

from ansible.plugins.action import ActionBase
from ansible_collections.pyweb.ha.plugins.module_utils.docker_api import (
    IMAGES_OPTIONS,
    LookupFailed,
    find_images,
)


class ActionModule(ActionBase):
    """pyweb.ha.images"""

    TRANSFERS_FILES = False
    _supports_check_mode = True

    def _in_process(self) -> bool:
        """The module would run as this user, on this machine, with this environment."""
        return (
            self._connection.transport == "local"
            and not self._play_context.become
            and not any(self._task.environment or [])
        )

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        if not self._in_process():
            result.update(self._execute_module(module_name="pyweb.ha.images", task_vars=task_vars))
            return result
        args = self.validate_argument_spec(argument_spec=IMAGES_OPTIONS)[1]
        try:
            images = find_images(args)
        except LookupFailed as err:
            return {**result, "failed": True, "msg": str(err)}
        return {**result, "changed": False, "images": images}
