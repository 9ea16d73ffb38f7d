#!/usr/bin/python
# Copyright: (c) 2026, pyweb.ha maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Read the replicas of a pyweb.ha app host, or replace one beside itself."""

from __future__ import annotations

DOCUMENTATION = r"""
module: replica
short_description: Read the replicas of a pyweb.ha app host, or swap one to a new version beside itself
description:
  - Works on the compose project that the C(pyweb.ha.stack) role renders: every
    replica has two slots (compose services C(app_N_a) and C(app_N_b)), one of
    which serves, as recorded in the routes file C(replicas.json).
  - C(action=info) reports the routes and every container of the project (state,
    health, image, version), without their environment, so nothing secret is
    returned.
  - C(action=swap) replaces one replica in one call, holding the host lock that
    the replica watchdog also takes (so the two never race) -
    writes the surge compose file (successor beside its predecessor), starts the
    successor, gates it (Docker healthy, then an HTTP request from the host
    Nginx's network namespace to the successor itself on the health path,
    answering the expected status and version), switches the host Nginx
    upstream to it (the new configuration is tested with C(nginx -t) first and
    the reload is confirmed by new worker processes), waits until the old
    workers exited (no request in flight to the predecessor any more), stops
    the predecessor gracefully and writes the final compose file and routes.
  - A successor that fails its gate is removed and the compose file restored;
    the predecessor was never touched and keeps serving.
  - Meant to be called through the stack role's C(swap) entry point, which
    renders the compose and Nginx files from the role's own templates.
version_added: 0.2.0
author: pyweb.ha maintainers (@pyweb-ha)
options:
  action:
    description: C(info) reads; C(swap) replaces one replica.
    type: str
    choices: [info, swap]
    default: info
  project_dir:
    description: Directory of the compose project on the host.
    type: path
    required: true
  project_name:
    description: Compose project name.
    type: str
    required: true
  nginx_service:
    description: Compose service of the host Nginx.
    type: str
    default: nginx
  replica:
    description: Replica to swap (C(app_1) ..). Required with C(action=swap).
    type: str
  from_service:
    description: Compose service of the serving slot (the predecessor).
    type: str
  to_service:
    description: Compose service of the successor's slot.
    type: str
  to_address:
    description: Fixed address of the successor on the internal network.
    type: str
  version:
    description: Version the successor must report on the health path.
    type: str
  routes:
    description: Routes after the swap, written to C(replicas.json) when the upstream switches.
    type: dict
  compose_surge:
    description: Compose file with the successor beside its predecessor.
    type: str
  compose_final:
    description: Compose file after the swap (the predecessor's slot left out).
    type: str
  nginx_conf:
    description: Host Nginx configuration whose upstream names the successor.
    type: str
  health_port:
    description: Port the app listens on inside the replica.
    type: int
    default: 8000
  health_path:
    description: Path of the health request.
    type: str
    default: /healthz
  health_status:
    description: Expected HTTP status of the health request.
    type: int
    default: 200
  health_version_key:
    description:
      - Key of the JSON health answer that must equal I(version); empty to not check the version.
    type: str
    default: version
  health_request_timeout:
    description: Seconds one health request may take.
    type: float
    default: 2.0
  gate_timeout:
    description: Seconds the successor gets to pass its gate.
    type: float
    default: 60
  drain_timeout:
    description: Seconds to wait for the requests in flight to the predecessor.
    type: float
    default: 30
  stop_timeout:
    description: Seconds Docker gives the predecessor to stop gracefully.
    type: int
    default: 30
  lock_timeout:
    description: Seconds to wait for the host lock.
    type: float
    default: 120
notes:
  - Needs C(docker) with Compose v2, and C(nsenter) on the host; runs as root.
"""

EXAMPLES = r"""
- name: Read the replicas
  pyweb.ha.replica:
    project_dir: /opt/pyweb
    project_name: pyweb
  register: replicas
"""

RETURN = r"""
routes:
  description: Serving slot and version of every replica (after a swap, the new routes).
  returned: always
  type: dict
  sample: {app_1: {slot: a, version: 1.0.0}}
containers:
  description: Containers of the project (C(action=info)), without their environment.
  returned: when action is info
  type: list
  elements: dict
swap:
  description: What a swap did and how long each step took (seconds from its start).
  returned: when action is swap
  type: dict
  sample: {replica: app_1, from: app_1_a, to: app_1_b, version: 2.0.0, healthy: 2.1, switched: 2.4,
           drained: 2.5, stopped: 3.3, total: 3.6, drain_timed_out: false}
"""

import fcntl
import json
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from typing import Any

from ansible.module_utils.basic import AnsibleModule

ROUTES_FILE = "replicas.json"
LOCK_FILE = ".lock"
NGINX_DIR = "nginx"
NGINX_CONF = "nginx.conf"
NGINX_IN_CONTAINER = "/etc/pyweb-nginx"
PROBE = r"""
import json, sys, urllib.request, urllib.error
url, timeout = sys.argv[1], float(sys.argv[2])
try:
    r = urllib.request.urlopen(url, timeout=timeout)
    status, body = r.status, r.read(4096)
except urllib.error.HTTPError as e:
    status, body = e.code, e.read(4096)
except Exception as e:
    status, body = 0, repr(e).encode()
print(json.dumps({"status": status, "body": body.decode("utf-8", "replace")}))
"""


class SwapError(Exception):
    """A step of a swap failed; the message speaks to the operator."""


# --------------------------------------------------------------------------
# Small helpers (pure, unit-tested)
# --------------------------------------------------------------------------


def read_routes(project_dir: str) -> dict[str, Any]:
    path = os.path.join(project_dir, ROUTES_FILE)
    if not os.path.exists(path):
        return {}
    with open(path, encoding="utf-8") as handle:
        data = json.load(handle)
    return data if isinstance(data, dict) else {}


def write_atomic(path: str, content: str, mode: int = 0o644) -> bool:
    """Write content to path (temp file and rename); False when it was there already."""
    if os.path.exists(path):
        with open(path, encoding="utf-8") as handle:
            if handle.read() == content:
                return False
    directory = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".pyweb.")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(content)
    os.chmod(tmp, mode)
    os.replace(tmp, path)
    return True


def routes_json(routes: dict[str, Any]) -> str:
    return json.dumps(routes, indent=2, sort_keys=True) + "\n"


def health_verdict(answer: dict[str, Any], status: int, version_key: str, version: str) -> str:
    """'' when a probe answer passes the gate, else why it does not."""
    if answer.get("status") != status:
        got = answer.get("status") or "no answer"
        return f"answered {got} (expected {status}): {str(answer.get('body', ''))[:300]}"
    if not version_key:
        return ""
    try:
        body = json.loads(answer.get("body") or "")
    except ValueError:
        return f"answer is not JSON, cannot read '{version_key}': {str(answer.get('body', ''))[:200]}"
    got = body.get(version_key) if isinstance(body, dict) else None
    if str(got) != str(version):
        return f"reports {version_key} {got!r}, expected {version!r}"
    return ""


def child_pids(parent: int, proc: str = "/proc") -> set[int]:
    """PIDs whose parent is `parent` (the worker processes of an Nginx master)."""
    pids = set()
    for entry in os.listdir(proc):
        if not entry.isdigit():
            continue
        try:
            with open(os.path.join(proc, entry, "stat"), encoding="utf-8") as handle:
                stat = handle.read()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces, so split after ')'.
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 1 and int(fields[1]) == parent:
            pids.add(int(entry))
    return pids


def wait_until(check: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def container_summary(info: dict[str, Any]) -> dict[str, Any]:
    """What `info` reports of a container: never its environment."""
    labels = (info.get("Config") or {}).get("Labels") or {}
    state = info.get("State") or {}
    image = (info.get("Config") or {}).get("Image", "")
    name, _, tag = image.rpartition(":")
    networks = (info.get("NetworkSettings") or {}).get("Networks") or {}
    return {
        "name": str(info.get("Name", "")).lstrip("/"),
        "service": labels.get("com.docker.compose.service", ""),
        "replica": labels.get("pyweb.replica", ""),
        "slot": labels.get("pyweb.slot", ""),
        "image": image,
        "version": tag if name and "/" not in tag else "",
        "status": state.get("Status", ""),
        "health": (state.get("Health") or {}).get("Status", "none"),
        "started": state.get("StartedAt", ""),
        "addresses": sorted(n.get("IPAddress", "") for n in networks.values() if n.get("IPAddress")),
    }


# --------------------------------------------------------------------------
# The host: Docker, Compose and the Nginx master
# --------------------------------------------------------------------------


class Host:
    def __init__(self, module: AnsibleModule) -> None:
        self.module = module
        self.p = module.params
        self.dir = self.p["project_dir"]
        self.compose_path = os.path.join(self.dir, "compose.yml")

    def run(self, argv: list[str], check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
        if check and result.returncode != 0:
            raise SwapError(f"{' '.join(argv)} failed ({result.returncode}): {result.stderr.strip()[-800:]}")
        return result

    def compose(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        base = ["docker", "compose", "--project-name", self.p["project_name"]]
        return self.run([*base, "--project-directory", self.dir, "-f", self.compose_path, *args], check=check)

    def containers(self, service: str | None = None) -> list[dict[str, Any]]:
        argv = ["docker", "ps", "--all", "--quiet", "--no-trunc"]
        argv += ["--filter", f"label=com.docker.compose.project={self.p['project_name']}"]
        if service:
            argv += ["--filter", f"label=com.docker.compose.service={service}"]
        ids = self.run(argv).stdout.split()
        if not ids:
            return []
        return json.loads(self.run(["docker", "inspect", *ids]).stdout)

    def one(self, service: str) -> dict[str, Any] | None:
        found = self.containers(service)
        return found[0] if found else None

    def nginx_pid(self) -> int:
        nginx = self.one(self.p["nginx_service"])
        pid = int(((nginx or {}).get("State") or {}).get("Pid") or 0)
        if not pid:
            raise SwapError(f"the host Nginx ({self.p['nginx_service']}) is not running; run site.yml first")
        return pid

    def probe(self, nginx_pid: int, url: str) -> dict[str, Any]:
        """One HTTP request from the host Nginx's network namespace (the path
        Nginx itself takes to the replica), so it works for any app image."""
        argv = ["nsenter", "--target", str(nginx_pid), "--net", "python3", "-c", PROBE]
        argv += [url, str(self.p["health_request_timeout"])]
        result = self.run(argv, check=False, timeout=self.p["health_request_timeout"] + 10)
        try:
            return json.loads(result.stdout)
        except ValueError:
            return {"status": 0, "body": (result.stderr or result.stdout).strip()[-300:]}


# --------------------------------------------------------------------------
# The swap
# --------------------------------------------------------------------------


class Swap:
    def __init__(self, host: Host) -> None:
        self.host = host
        self.p = host.p
        self.t0 = time.monotonic()
        self.timings: dict[str, float] = {}

    def mark(self, step: str) -> None:
        self.timings[step] = round(time.monotonic() - self.t0, 3)

    def run(self) -> dict[str, Any]:
        p, host = self.p, self.host
        before = open(host.compose_path, encoding="utf-8").read() if os.path.exists(host.compose_path) else ""
        write_atomic(host.compose_path, p["compose_surge"])
        try:
            host.compose("rm", "--stop", "--force", p["to_service"])  # a leftover of an interrupted run
            host.compose("up", "--detach", "--no-deps", "--no-build", "--pull", "never", p["to_service"])
            self.gate()
            self.mark("healthy")
            old_workers = self.switch()
        except Exception:
            host.compose("rm", "--stop", "--force", p["to_service"], check=False)
            write_atomic(host.compose_path, before or p["compose_final"])
            raise
        self.mark("switched")
        drained = self.drain(old_workers)
        self.mark("drained")
        if p["from_service"]:
            host.compose("stop", "--timeout", str(p["stop_timeout"]), p["from_service"])
            host.compose("rm", "--force", p["from_service"])
        write_atomic(host.compose_path, p["compose_final"])
        self.mark("stopped")
        self.mark("total")
        return {
            "replica": p["replica"],
            "from": p["from_service"] or "",
            "to": p["to_service"],
            "version": p["version"],
            "drain_timed_out": not drained,
            **self.timings,
        }

    def gate(self) -> None:
        """Docker healthy (or running, for an image without a health check),
        then the app's own health answer from the host Nginx's namespace."""
        p, host = self.p, self.host
        nginx_pid = host.nginx_pid()
        url = f"http://{p['to_address']}:{p['health_port']}{p['health_path']}"
        deadline = time.monotonic() + p["gate_timeout"]
        why = "not started"
        while time.monotonic() < deadline:
            info = host.one(p["to_service"]) or {}
            state = info.get("State") or {}
            health = (state.get("Health") or {}).get("Status", "none")
            if state.get("Status") in ("exited", "dead") or health == "unhealthy":
                raise SwapError(f"the successor is {state.get('Status')}/{health}: {last_health_output(info)}")
            if state.get("Status") == "running" and health in ("healthy", "none"):
                why = health_verdict(host.probe(nginx_pid, url), p["health_status"], *self.expect())
                if not why:
                    return
            else:
                why = f"Docker reports it {state.get('Status', 'missing')}/{health}"
            time.sleep(0.2)
        info = host.one(p["to_service"]) or {}
        raise SwapError(
            f"the successor did not pass its gate within {p['gate_timeout']:g} s: GET {url} {why}; "
            f"Docker health: {last_health_output(info)}"
        )

    def expect(self) -> tuple[str, str]:
        return self.p["health_version_key"], self.p["version"]

    def switch(self) -> set[int]:
        """Point the upstream at the successor; returns the old worker PIDs."""
        p, host = self.p, self.host
        conf_dir = os.path.join(host.dir, NGINX_DIR)
        conf, staged = os.path.join(conf_dir, NGINX_CONF), os.path.join(conf_dir, NGINX_CONF + ".next")
        write_atomic(staged, p["nginx_conf"])
        nginx = host.one(p["nginx_service"]) or {}
        tested = host.run(
            ["docker", "exec", nginx.get("Id", "?"), "nginx", "-e", "stderr", "-t", "-q", "-c",
             f"{NGINX_IN_CONTAINER}/{NGINX_CONF}.next"],
            check=False,
        )
        if tested.returncode != 0:
            os.unlink(staged)
            raise SwapError(f"the host Nginx refused the new configuration: {tested.stderr.strip()[-600:]}")
        previous = open(conf, encoding="utf-8").read() if os.path.exists(conf) else ""
        os.replace(staged, conf)
        master = host.nginx_pid()
        old = child_pids(master)
        os.kill(master, signal.SIGHUP)
        if not wait_until(lambda: bool(child_pids(master) - old), 10):
            write_atomic(conf, previous)
            os.kill(master, signal.SIGHUP)
            raise SwapError("the host Nginx did not start new workers within 10 s of the reload; configuration restored")
        write_atomic(os.path.join(host.dir, ROUTES_FILE), routes_json(p["routes"]))
        return old

    def drain(self, old_workers: set[int]) -> bool:
        """True when every old worker exited (its requests to the predecessor done)."""
        def gone() -> bool:
            return not any(os.path.exists(f"/proc/{pid}") for pid in old_workers)

        return wait_until(gone, self.p["drain_timeout"], 0.05)


def last_health_output(info: dict[str, Any]) -> str:
    log = ((info.get("State") or {}).get("Health") or {}).get("Log") or []
    return " ".join(str(log[-1].get("Output", "")).split())[:400] if log else "no health output"


class HostLock:
    """The host lock of the compose project (the watchdog takes it with flock -n)."""

    def __init__(self, project_dir: str, timeout: float) -> None:
        self.path = os.path.join(project_dir, LOCK_FILE)
        self.timeout = timeout
        self.handle: Any = None

    def __enter__(self) -> HostLock:
        self.handle = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 (held until __exit__)
        ok = wait_until(self._try, self.timeout, 0.2)
        if not ok:
            raise SwapError(f"the host lock {self.path} stayed taken for {self.timeout:g} s")
        return self

    def _try(self) -> bool:
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def __exit__(self, *exc: object) -> None:
        self.handle.close()


REQUIRED_FOR_SWAP = ("replica", "to_service", "to_address", "version", "routes", "compose_surge", "compose_final",
                     "nginx_conf")


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "action": {"type": "str", "choices": ["info", "swap"], "default": "info"},
            "project_dir": {"type": "path", "required": True},
            "project_name": {"type": "str", "required": True},
            "nginx_service": {"type": "str", "default": "nginx"},
            "replica": {"type": "str"},
            "from_service": {"type": "str"},
            "to_service": {"type": "str"},
            "to_address": {"type": "str"},
            "version": {"type": "str"},
            "routes": {"type": "dict"},
            "compose_surge": {"type": "str"},
            "compose_final": {"type": "str"},
            "nginx_conf": {"type": "str"},
            "health_port": {"type": "int", "default": 8000},
            "health_path": {"type": "str", "default": "/healthz"},
            "health_status": {"type": "int", "default": 200},
            "health_version_key": {"type": "str", "default": "version", "no_log": False},
            "health_request_timeout": {"type": "float", "default": 2.0},
            "gate_timeout": {"type": "float", "default": 60},
            "drain_timeout": {"type": "float", "default": 30},
            "stop_timeout": {"type": "int", "default": 30},
            "lock_timeout": {"type": "float", "default": 120},
        },
        required_if=[("action", "swap", REQUIRED_FOR_SWAP)],
        supports_check_mode=True,
    )
    host = Host(module)
    try:
        routes = read_routes(host.dir)
        if module.params["action"] == "info":
            summaries = [container_summary(c) for c in host.containers()] if os.path.isdir(host.dir) else []
            module.exit_json(changed=False, routes=routes, containers=sorted(summaries, key=lambda c: c["name"]))
        if module.check_mode:
            module.exit_json(changed=True, routes=module.params["routes"], swap={})
        with HostLock(host.dir, module.params["lock_timeout"]):
            result = Swap(host).run()
        module.exit_json(changed=True, routes=module.params["routes"], swap=result)
    except (SwapError, OSError, ValueError, subprocess.TimeoutExpired) as err:
        module.fail_json(msg=str(err), replica=module.params.get("replica"))


if __name__ == "__main__":
    main()
