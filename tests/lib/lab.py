"""Helpers for the Molecule verifiers: reach host containers from the
controller, ask their Docker about the stack, send HTTP the way a user does."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]
    headers: dict[str, str]


def container_ip(name: str) -> str:
    """Address of a host container on the controller's Docker."""
    out = subprocess.run(
        ["docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", name],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    if not out:
        raise RuntimeError(f"{name} has no address")
    return out[0]


def http(url: str, method: str = "GET", data: bytes | None = None, timeout: float = 5.0) -> Answer:
    """One request on a new connection; HTTP errors are answers, not exceptions."""
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return Answer(resp.status, _json(resp.read()), dict(resp.headers))
    except urllib.error.HTTPError as err:
        return Answer(err.code, _json(err.read()), dict(err.headers))


def _json(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except ValueError:
        return {"raw": raw.decode(errors="replace")}
    return value if isinstance(value, dict) else {"value": value}


def inspect(host: Any, container: str) -> dict[str, Any]:
    """`docker inspect` of a container, run on the host (testinfra host)."""
    return json.loads(host.check_output(f"docker inspect {container}"))[0]


def health(host: Any, container: str) -> str:
    cmd = host.run(f"docker inspect -f '{{{{.State.Health.Status}}}}' {container}")
    return cmd.stdout.strip() if cmd.rc == 0 else "missing"


def wait_for(predicate: Callable[[], bool], timeout: float, interval: float = 0.5) -> float:
    """Seconds until predicate() held; raises TimeoutError after timeout."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if predicate():
            return time.monotonic() - start
        time.sleep(interval)
    raise TimeoutError(f"condition not met within {timeout}s")


def replica_containers(host: Any, project: str = "pyweb") -> list[str]:
    """Names of the app replica containers of the compose project, sorted."""
    out = host.check_output(
        f"docker ps -a --filter label=com.docker.compose.project={project} --format '{{{{.Names}}}}'"
    )
    return sorted(n for n in out.split() if n.startswith(f"{project}-app_"))


def molecule_host(name: str) -> Any:
    """A testinfra host of the running Molecule scenario, by inventory name."""
    import os

    import testinfra
    from testinfra.utils.ansible_runner import AnsibleRunner

    # Over SSH as Ansible reaches it: testinfra's ansible:// would take the
    # group variables unrendered (the lab's key is "{{ lab_ssh_dir }}/..."), so
    # the address, user and key come from Molecule's instance configuration
    # (rendered) and the options from the scenario's ssh_args (known_hosts).
    variables = AnsibleRunner(os.environ["MOLECULE_INVENTORY_FILE"]).get_variables(name)
    return testinfra.get_host(
        f"ssh://{variables['ansible_user']}@{variables['ansible_host']}",
        ssh_identity_file=variables["ansible_private_key_file"],
        ssh_extra_args=molecule_ssh_args().get("ANSIBLE_SSH_ARGS", ""),
        sudo=True,
    )


class DockerError(subprocess.CalledProcessError):
    """A docker command that failed, with what docker said in its message."""

    def __str__(self) -> str:
        return f"{' '.join(self.cmd)} exited {self.returncode}: {str(self.stderr).strip()}"


def controller_docker(*args: str) -> str:
    """Run docker on the controller (host containers are its containers)."""
    result = subprocess.run(["docker", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise DockerError(result.returncode, ["docker", *args], result.stdout, result.stderr)
    return result.stdout


def served_by(url: str, count: int) -> list[tuple[str, str]]:
    """(host, replica) of count GETs; raises if any answer is not 200."""
    pairs = []
    for _attempt in range(count):
        answer = http(url)
        if answer.status != 200:
            raise AssertionError(f"GET {url} answered {answer.status}: {answer.body}")
        pairs.append((answer.body["host"], answer.body["replica"]))
    return pairs


REPO = __import__("pathlib").Path(__file__).resolve().parents[2]


def molecule_ssh_args() -> dict[str, str]:
    """The SSH options of the running scenario's Ansible configuration
    (.config/molecule/config.yml: the lab's known_hosts, host keys checked),
    for a playbook run with the repository's ansible.cfg."""
    import configparser
    import os

    config = configparser.ConfigParser(interpolation=None)
    config.read(os.environ.get("ANSIBLE_CONFIG", ""))
    ssh_args = config.get("ssh_connection", "ssh_args", fallback="")
    return {"ANSIBLE_SSH_ARGS": ssh_args} if ssh_args else {}


def run_playbook(playbook: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run one of the collection's playbooks against the Molecule inventory,
    the way a user would; output is returned (and kept for the report)."""
    import os

    inventory = os.path.dirname(os.environ["MOLECULE_INVENTORY_FILE"])
    env = {
        **os.environ,
        "ANSIBLE_COLLECTIONS_PATH": str(REPO / ".collections"),
        "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_NOCOLOR": "1",
        **molecule_ssh_args(),
    }
    cmd = ["ansible-playbook", "-i", inventory, str(REPO / "playbooks" / playbook), *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO, check=False)
