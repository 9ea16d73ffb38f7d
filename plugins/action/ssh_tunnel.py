# Copyright: (c) 2026, pyweb.ha maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Open or close a reverse port forward on the SSH connection Ansible already
holds to a host, so the host reaches a service on the controller's loopback
(the image role's layer registry). Documented in plugins/modules/ssh_tunnel.py."""

from __future__ import annotations

import subprocess
from typing import Any

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase

ARGS = {
    "port": {"type": "int", "required": True},
    "remote_port": {"type": "int"},
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "probe_path": {"type": "str", "default": ""},
    "probe_timeout": {"type": "int", "default": 10},
}


def forward_spec(remote_port: int, port: int) -> str:
    """ssh's -R argument: the host's loopback port to the controller's."""
    return f"127.0.0.1:{remote_port}:127.0.0.1:{port}"


class ActionModule(ActionBase):
    """pyweb.ha.ssh_tunnel"""

    TRANSFERS_FILES = False
    _requires_connection = True

    def run(self, tmp: str | None = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        args = self.validate_argument_spec(argument_spec=ARGS)[1]
        host = task_vars.get("inventory_hostname", "?") if task_vars else "?"
        remote_port = args["remote_port"] or args["port"]
        spec = forward_spec(remote_port, args["port"])
        result.update(forward=f"{host} 127.0.0.1:{remote_port} -> controller 127.0.0.1:{args['port']}")
        if self._connection.transport not in ("ssh", "ansible.builtin.ssh"):
            raise AnsibleActionFail(
                f"{host}: the image layers travel through an SSH tunnel, but this host is reached with the "
                f"'{self._connection.transport}' connection. "
                "Reach it over SSH, or set image_transfer: archive."
            )
        if self._task.check_mode:
            result.update(changed=args["state"] == "present", skipped_reason="check mode")
            return result
        if args["state"] == "absent":
            # Gone already when the master is (ControlPersist ended, host restarted): nothing to undo.
            result["changed"] = self._ssh_control(host, "cancel", spec, must=False)
            return result
        # The forward rides on Ansible's multiplexed connection: make sure its master runs.
        self._low_level_execute_command("true", sudoable=False)
        if not getattr(self._connection, "_persistent", False):
            raise AnsibleActionFail(
                f"{host}: the SSH connection is not multiplexed (no ControlPersist in ssh_args), "
                "so no tunnel can ride on it. Keep ControlMaster=auto and ControlPersist in "
                "ansible.cfg's ssh_args (Ansible's default), or set image_transfer: archive."
            )
        result["changed"] = self._ssh_control(host, "forward", spec, must=True)
        if args["probe_path"]:
            self._probe(host, remote_port, args, task_vars or {})
        return result

    def _ssh_control(self, host: str, operation: str, spec: str, must: bool) -> bool:
        """ssh -O OPERATION -R SPEC on the connection's master; whether it did."""
        target = self._connection.get_option("host") or host
        command = self._connection._build_command("ssh", "ssh", "-O", operation, "-R", spec, target)
        done = subprocess.run(command, capture_output=True, check=False, timeout=60)
        if done.returncode != 0 and must:
            said = to_text(done.stderr or done.stdout).strip()
            raise AnsibleActionFail(
                f"{host}: ssh -O {operation} -R {spec} failed ({said}). Is TCP forwarding allowed by the "
                "host's sshd (AllowTcpForwarding), and is the host's loopback port free? "
                "Change image_layers_port, or set image_transfer: archive."
            )
        return done.returncode == 0

    def _probe(self, host: str, port: int, args: dict[str, Any], task_vars: dict[str, Any]) -> None:
        """The host asks the controller's service through the tunnel, as its Docker will."""
        url = f"http://127.0.0.1:{port}{args['probe_path']}"
        answer = self._execute_module(
            module_name="ansible.builtin.uri",
            module_args={"url": url, "timeout": args["probe_timeout"], "status_code": [200]},
            task_vars=task_vars,
        )
        if answer.get("failed"):
            raise AnsibleActionFail(
                f"{host}: {url} does not answer through the tunnel ({answer.get('msg', '')}). "
                "Is the controller's layer registry running (docker ps on the controller)?"
            )
