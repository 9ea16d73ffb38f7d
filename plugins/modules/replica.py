#!/usr/bin/python
# Copyright: (c) 2026, pyweb.ha maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Read the replicas of a pyweb.ha app host, or replace one beside itself."""

from __future__ import annotations

DOCUMENTATION = r"""
module: replica
short_description: Read the replicas of a pyweb.ha app host, or swap one to a new version beside itself
description:
  - Works on the compose project that the C(pyweb.ha.stack) role renders; every
    replica has two slots (compose services C(app_N_a) and C(app_N_b)), one of
    which serves, as recorded in the routes file C(replicas.json).
  - C(action=info) reports the routes, the release record (C(release.json), written by
    C(pyweb.ha.release)) and every container of the project (state,
    health, image, version), without their environment, so nothing secret is
    returned, and which running replicas are stale, that is created from
    another configuration than the compose file and environment file now on
    disk (environment, secrets, limits, WSGI server), as Compose itself decides
    in C(docker compose --dry-run up).
  - The stack role rolls stale replicas one at a time with C(action=swap) to
    their own version before it brings the project up, so a configuration
    change never recreates every replica at once.
  - C(action=swap) replaces one replica in one call, holding the host lock that
    the health agent also takes (so the two never race) -
    writes the surge compose file (successor beside its predecessor), starts the
    successor, gates it (Docker healthy, then an HTTP request from the host
    Nginx's network namespace to the successor itself on the health path,
    answering the expected status and version), moves the replica's virtual
    address to it (one atomic DNAT rule change in the host Nginx's network
    namespace - no Nginx reload, so no client connection is closed; new
    connections go to the successor, open ones finish on the predecessor),
    waits until the predecessor has no connection from Nginx left (detected
    in its own network namespace), stops it gracefully and writes the final
    compose file and routes.
  - The DNAT rules themselves are applied by the same code as the C(pyweb.ha.route) module's
    (C(action=up) with O(dnat), or that module), and kept up by the health agent; the balancer
    shares them.
  - A successor that fails its gate is removed and the compose file restored;
    the predecessor was never touched and keeps serving.
  - Meant to be called through the stack role's C(swap) entry point, which
    renders the compose and Nginx files from the role's own templates.
version_added: 0.2.0
author: pyweb.ha maintainers (@pyweb-ha)
options:
  action:
    description:
      - C(info) reads; C(swap) replaces one replica; C(up) runs C(docker compose up --wait) for the
        whole project (removing orphans) under the host lock, so the health agent and a
        swap never touch the project at the same time (C(site.yml) does this). The balancer
        role brings its own project up the same way, under its own host lock.
      - C(up) first asks Compose what it would do (C(docker compose --dry-run up)); when every
        container runs healthy and Compose would create, recreate, start or remove nothing, it
        leaves out C(up --wait) and reports no change.
      - C(up) with O(dnat) then points the virtual addresses at their targets under the same lock,
        as C(pyweb.ha.route) does (one module run where a project's C(up) and its routes took two).
    type: str
    choices: [info, swap, up]
    default: info
  project_dir:
    description: Directory of the compose project on the host.
    type: path
    required: true
  project_name:
    description: Compose project name.
    type: str
    required: true
  net_service:
    description: Compose service that holds the host Nginx's network namespace.
    type: str
    default: net
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
  dnat:
    description:
      - Where each replica's virtual address goes after the swap, a list of C(name), C(vip), C(address)
        and C(port). Required with C(action=swap).
      - With C(action=up), where each virtual address goes once the project is up (C(pyweb.ha.route)'s
        O(pyweb.ha.route#module:targets)); not given, the rules are left as they are.
    type: list
    elements: dict
  health_port:
    description: Port the app listens on inside the replica (also the port of the virtual addresses).
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
  wait_timeout:
    description: Seconds C(action=up) waits for every container to be healthy.
    type: int
    default: 180
  lock_timeout:
    description: Seconds to wait for the host lock.
    type: float
    default: 120
notes:
  - Needs C(docker) with Compose v2, C(nsenter) and C(iptables) on the host; runs as root.
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
release:
  description:
    - The release record of the project (C(action=info)), as C(pyweb.ha.release) returns it; its
      C(version) is null when nothing was deployed yet.
  returned: when action is info
  type: dict
  sample: {version: 2.0.0, previous: 1.0.0, history: [1.0.0, 2.0.0], rolled_back: false}
containers:
  description: Containers of the project (C(action=info)), without their environment.
  returned: when action is info
  type: list
  elements: dict
stale:
  description:
    - Running replicas whose configuration on disk differs from the one their container was
      created from (C(action=info)), each with its serving service and version.
  returned: when action is info
  type: list
  elements: dict
  sample: [{replica: app_1, service: app_1_a, version: 1.0.0}]
routed:
  description: Whether C(action=up) changed the rules of the virtual addresses (O(dnat)).
  returned: when action is up
  type: bool
swap:
  description: What a swap did and how long each step took (seconds from its start).
  returned: when action is swap
  type: dict
  sample: {replica: app_1, from: app_1_a, to: app_1_b, version: 2.0.0, healthy: 2.1, switched: 2.2,
           drained: 3.1, stopped: 3.9, total: 3.9, drain_timed_out: false}
"""

import json
import os
import subprocess
import time
from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.pyweb.ha.plugins.module_utils.netns import (
    HostLock,
    NetnsError,
    Project,
    connections_in,
    read_text,
    routes_json,
    wait_until,
    write_atomic,
)
from ansible_collections.pyweb.ha.plugins.module_utils.release import read_release

ROUTES_FILE = "replicas.json"
# Runs in the replica's network namespace with the host's python3, where
# ansible.module_utils is not importable: the standard library's http.client.
PROBE = r"""
import http.client, json, sys, urllib.parse
url, timeout = urllib.parse.urlsplit(sys.argv[1]), float(sys.argv[2])
try:
    conn = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=timeout)
    conn.request("GET", (url.path or "/") + ("?" + url.query if url.query else ""))
    r = conn.getresponse()
    status, body = r.status, r.read(4096)
except Exception as e:
    status, body = 0, repr(e).encode()
print(json.dumps({"status": status, "body": body.decode("utf-8", "replace")}))
"""


def read_routes(project_dir: str) -> dict[str, Any]:
    path = os.path.join(project_dir, ROUTES_FILE)
    text = read_text(path)
    try:
        data = json.loads(text) if text else {}
    except ValueError as err:
        raise ValueError(
            f"{path}, the routes record of the replicas, is not valid JSON ({err}). "
            'Fix it by hand (per replica its serving slot and version: {"app_1": {"slot": "a", '
            '"version": "1.0.0"}, ...}, as `docker ps` shows them), then run the playbook again.'
        ) from err
    return data if isinstance(data, dict) else {}


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


def container_summary(info: dict[str, Any]) -> dict[str, Any]:
    """What `info` reports of a container: never its environment."""
    labels = (info.get("Config") or {}).get("Labels") or {}
    state = info.get("State") or {}
    image = (info.get("Config") or {}).get("Image", "")
    name, _sep, tag = image.rpartition(":")
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


def stale_replicas(project: Project, containers: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Running replicas whose container Compose would recreate from the files on
    disk (its own verdict, from `compose --dry-run up`: environment, secrets,
    limits, command, image)."""
    running = {}
    for info in containers:
        summary = container_summary(info)
        if summary["replica"] and summary["status"] == "running":
            running[summary["name"]] = summary
    if not running or not os.path.exists(project.compose_path):
        return []
    up = ("--dry-run", "up", "--detach", "--no-build", "--pull", "never", "--no-deps")
    result = project.compose(*up, *sorted({s["service"] for s in running.values()}), check=False)
    if result.returncode != 0:
        # A running replica's service is no longer declared (fewer replicas):
        # Compose refuses it; ask again for the declared ones only.
        services = sorted({s["service"] for s in running.values()} & declared_services(project))
        if not services:
            return []
        result = project.compose(*up, *services, check=False)
    recreated = recreated_containers(result.stdout + result.stderr)
    stale = [
        {"replica": s["replica"], "service": s["service"], "version": s["version"]}
        for name, s in running.items()
        if name in recreated
    ]
    return sorted(stale, key=lambda s: s["replica"])


def declared_services(project: Project) -> set[str]:
    return set(project.compose("config", "--services").stdout.split())


def recreated_containers(dry_run_output: str) -> set[str]:
    """Names of the containers that `compose --dry-run up` would recreate."""
    found = set()
    for line in dry_run_output.splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[-1] == "Recreate" and fields[-3:-2] == ["Container"]:
            found.add(fields[-2])
    return found


def project_fingerprint(containers: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """(name, id, state) of every container: what `up` may have changed."""
    return sorted(
        (str(c.get("Name", "")), str(c.get("Id", "")), str((c.get("State") or {}).get("Status", "")))
        for c in containers
    )


def settled(containers: list[dict[str, Any]]) -> bool:
    """Every container runs, healthy or without a health check: what
    `up --wait` waits for."""
    for info in containers:
        state = info.get("State") or {}
        health = (state.get("Health") or {}).get("Status", "healthy")
        if state.get("Status") != "running" or health != "healthy":
            return False
    return bool(containers)


def compose_up(project: Project, wait_timeout: int) -> bool:
    """`compose up --wait` of the whole project; True when a container changed."""
    before = project.containers()
    # Compose's own verdict first (a dry run, without the wait): nothing to do.
    if settled(before) and not would_change(project):
        return False
    fingerprint = project_fingerprint(before)
    project.compose(
        "up", "--detach", "--remove-orphans", "--no-build", "--pull", "never",
        "--wait", "--wait-timeout", str(wait_timeout),
    )  # fmt: skip
    return project_fingerprint(project.containers()) != fingerprint


DRY_RUN_CHANGES = ("Creat", "Recreat", "Start", "Remov", "Stop")


def would_change(project: Project) -> bool:
    """Check mode: what `compose --dry-run up` says it would do."""
    if not os.path.exists(project.compose_path):
        return True
    base = [
        "docker",
        "compose",
        "--dry-run",
        "--project-name",
        project.name,
        "--project-directory",
        project.dir,
    ]
    up = ["up", "--detach", "--remove-orphans", "--no-build", "--pull", "never"]
    result = project.run([*base, "-f", project.compose_path, *up], check=False)
    lines = (result.stdout + result.stderr).splitlines()
    return result.returncode != 0 or any(
        word in line for line in lines for word in DRY_RUN_CHANGES if "Running" not in line
    )


def last_health_output(info: dict[str, Any]) -> str:
    log = ((info.get("State") or {}).get("Health") or {}).get("Log") or []
    return " ".join(str(log[-1].get("Output", "")).split())[:400] if log else "no health output"


class Swap:
    """One replica replaced beside itself; timings in seconds from its start."""

    def __init__(self, project: Project, params: dict[str, Any]) -> None:
        self.project = project
        self.p = params
        self.t0 = time.monotonic()
        self.timings: dict[str, float] = {}

    def mark(self, step: str) -> None:
        self.timings[step] = round(time.monotonic() - self.t0, 3)

    def run(self) -> dict[str, Any]:
        p, project = self.p, self.project
        before = read_text(project.compose_path)
        write_atomic(project.compose_path, p["compose_surge"])
        try:
            project.compose("rm", "--stop", "--force", p["to_service"])  # a leftover of an interrupted run
            project.compose("up", "--detach", "--no-deps", "--no-build", "--pull", "never", p["to_service"])
            self.gate()
            self.mark("healthy")
            project.route(p["dnat"])
        except Exception:
            project.compose("rm", "--stop", "--force", p["to_service"], check=False)
            write_atomic(project.compose_path, before or p["compose_final"])
            raise
        write_atomic(os.path.join(project.dir, ROUTES_FILE), routes_json(p["routes"]))
        self.mark("switched")
        drained = not p["from_service"] or wait_until(self.drained, p["drain_timeout"], 0.05)
        self.mark("drained")
        if p["from_service"]:
            project.compose("stop", "--timeout", str(p["stop_timeout"]), p["from_service"])
            project.compose("rm", "--force", p["from_service"])
        write_atomic(project.compose_path, p["compose_final"])
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

    def drained(self) -> bool:
        """No connection from Nginx left in the predecessor (read in its own namespace)."""
        pid = self.project.pid(self.p["from_service"])
        return not pid or connections_in(self.project.tcp_tables(pid), self.p["health_port"]) == 0

    def gate(self) -> None:
        """Docker healthy (or running, for an image without a health check),
        then the app's own health answer from the proxy's namespace."""
        p, project = self.p, self.project
        url = f"http://{p['to_address']}:{p['health_port']}{p['health_path']}"
        deadline = time.monotonic() + p["gate_timeout"]
        why = "not started"
        while time.monotonic() < deadline:
            info = project.one(p["to_service"]) or {}
            state = info.get("State") or {}
            status, health = state.get("Status", "missing"), (state.get("Health") or {}).get("Status", "none")
            if status in ("exited", "dead") or health == "unhealthy":
                raise NetnsError(f"the successor is {status}/{health}: {last_health_output(info)}")
            if status == "running" and health in ("healthy", "none"):
                why = health_verdict(
                    self.probe(url), p["health_status"], p["health_version_key"], p["version"]
                )
                if not why:
                    return
            else:
                why = f"Docker reports it {status}/{health}"
            time.sleep(0.2)
        info = project.one(p["to_service"]) or {}
        raise NetnsError(
            f"the successor did not pass its gate within {p['gate_timeout']:g} s: GET {url} {why}; "
            f"Docker health: {last_health_output(info)}"
        )

    def probe(self, url: str) -> dict[str, Any]:
        """One HTTP request from the proxy's network namespace (the path Nginx
        itself takes to the replica), so it works for any app image."""
        timeout = self.p["health_request_timeout"]
        result = self.project.in_ns("python3", "-c", PROBE, url, str(timeout), timeout=timeout + 10)
        try:
            return json.loads(result.stdout)
        except ValueError:
            return {"status": 0, "body": (result.stderr or result.stdout).strip()[-300:]}


REQUIRED_FOR_SWAP = (
    "replica",
    "to_service",
    "to_address",
    "version",
    "routes",
    "compose_surge",
    "compose_final",
    "dnat",
)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "action": {"type": "str", "choices": ["info", "swap", "up"], "default": "info"},
            "project_dir": {"type": "path", "required": True},
            "project_name": {"type": "str", "required": True},
            "net_service": {"type": "str", "default": "net"},
            "replica": {"type": "str"},
            "from_service": {"type": "str"},
            "to_service": {"type": "str"},
            "to_address": {"type": "str"},
            "version": {"type": "str"},
            "routes": {"type": "dict"},
            "compose_surge": {"type": "str"},
            "compose_final": {"type": "str"},
            "dnat": {"type": "list", "elements": "dict"},
            "health_port": {"type": "int", "default": 8000},
            "health_path": {"type": "str", "default": "/healthz"},
            "health_status": {"type": "int", "default": 200},
            "health_version_key": {"type": "str", "default": "version", "no_log": False},
            "health_request_timeout": {"type": "float", "default": 2.0},
            "gate_timeout": {"type": "float", "default": 60},
            "drain_timeout": {"type": "float", "default": 30},
            "stop_timeout": {"type": "int", "default": 30},
            "lock_timeout": {"type": "float", "default": 120},
            "wait_timeout": {"type": "int", "default": 180},
        },
        required_if=[("action", "swap", REQUIRED_FOR_SWAP)],
        supports_check_mode=True,
    )
    params = module.params
    project = Project(params["project_dir"], params["project_name"], params["net_service"])
    try:
        routes = read_routes(project.dir)
        if params["action"] == "info":
            containers = project.containers() if os.path.isdir(project.dir) else []
            summaries = sorted((container_summary(c) for c in containers), key=lambda c: c["name"])
            stale = stale_replicas(project, containers)
            release = read_release(project.dir)
            module.exit_json(changed=False, routes=routes, release=release, containers=summaries, stale=stale)
        if params["action"] == "up":
            dnat = params["dnat"]
            if module.check_mode:
                changed = would_change(project)
                routed = dnat is not None and project.route(dnat, check_mode=True)
                module.exit_json(changed=changed or routed, routes=routes, routed=routed)
            with HostLock(project.dir, params["lock_timeout"]):
                changed = compose_up(project, params["wait_timeout"])
                routed = dnat is not None and project.route(dnat)
            module.exit_json(changed=changed or routed, routes=routes, routed=routed)
        if module.check_mode:
            module.exit_json(changed=True, routes=params["routes"], swap={})
        with HostLock(project.dir, params["lock_timeout"]):
            result = Swap(project, params).run()
        module.exit_json(changed=True, routes=params["routes"], swap=result)
    except (NetnsError, OSError, ValueError, subprocess.TimeoutExpired) as err:
        module.fail_json(msg=str(err), replica=params.get("replica"))


if __name__ == "__main__":
    main()
