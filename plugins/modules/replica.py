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
    answering the expected status and version), moves the replica's virtual
    address to it (one atomic DNAT rule change in the host Nginx's network
    namespace - no Nginx reload, so no client connection is closed; new
    connections go to the successor, open ones finish on the predecessor),
    waits until the predecessor has no connection from Nginx left (detected
    in its own network namespace), stops it gracefully and writes the final
    compose file and routes.
  - C(action=route) makes the DNAT rules match I(dnat) (after C(compose up)
    in C(site.yml)), and writes them to C(dnat.rules) for the watchdog.
  - A successor that fails its gate is removed and the compose file restored;
    the predecessor was never touched and keeps serving.
  - Meant to be called through the stack role's C(swap) entry point, which
    renders the compose and Nginx files from the role's own templates.
version_added: 0.2.0
author: pyweb.ha maintainers (@pyweb-ha)
options:
  action:
    description: C(info) reads; C(route) applies the DNAT rules; C(swap) replaces one replica.
    type: str
    choices: [info, route, swap]
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
      - Where each virtual address goes (after the swap), a list of C(vip) and C(address).
      - Required with C(action=route) and C(action=swap).
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
containers:
  description: Containers of the project (C(action=info)), without their environment.
  returned: when action is info
  type: list
  elements: dict
swap:
  description: What a swap did and how long each step took (seconds from its start).
  returned: when action is swap
  type: dict
  sample: {replica: app_1, from: app_1_a, to: app_1_b, version: 2.0.0, healthy: 2.1, switched: 2.2,
           drained: 3.1, stopped: 3.9, total: 3.9, drain_timed_out: false}
"""

import fcntl
import json
import os
import subprocess
import tempfile
import time
from collections.abc import Callable
from typing import Any

from ansible.module_utils.basic import AnsibleModule

ROUTES_FILE = "replicas.json"
RULES_FILE = "dnat.rules"
LOCK_FILE = ".lock"
CHAIN = "PYWEB"
IN_FLIGHT_STATES = ("01", "03")  # ESTABLISHED, SYN_RECV
LOOPBACK_HEX = "0100007F"
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


def read_text(path: str) -> str:
    """The file's text, '' when there is none."""
    if not os.path.exists(path):
        return ""
    with open(path, encoding="utf-8") as handle:
        return handle.read()


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


def dnat_rule_lines(dnat: list[dict[str, Any]], port: int) -> list[str]:
    """The rules of the chain, as `iptables -S` prints them."""
    return [
        f"-A {CHAIN} -d {d['vip']}/32 -p tcp -m tcp --dport {port} -j DNAT"
        f" --to-destination {d['address']}:{port}"
        for d in dnat
    ]


def dnat_restore(dnat: list[dict[str, Any]], port: int, add_jump: bool) -> str:
    """iptables-restore input (with --noflush) that replaces the chain's rules
    in one commit: a connection sees the old rules or the new, never none."""
    jump = [f"-A OUTPUT -j {CHAIN}"] if add_jump else []
    return "\n".join(["*nat", f":{CHAIN} - [0:0]", *jump, *dnat_rule_lines(dnat, port), "COMMIT", ""])


def connections_in(tcp_tables: list[str], port: int) -> int:
    """Connections in flight to `port` from outside the container (not its own
    health check on 127.0.0.1), read from /proc/PID/net/tcp of its namespace."""
    count = 0
    for table in tcp_tables:
        for line in table.splitlines()[1:]:
            fields = line.split()
            if len(fields) < 4:
                continue
            local, remote, state = fields[1], fields[2], fields[3]
            if state in IN_FLIGHT_STATES and int(local.split(":")[1], 16) == port:
                count += 0 if remote.split(":")[0] == LOOPBACK_HEX else 1
    return count


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

    def run(
        self, argv: list[str], check: bool = True, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
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

    def pid(self, service: str) -> int:
        """Host PID of a service's container, 0 when it is not running."""
        return int((((self.one(service) or {}).get("State") or {}).get("Pid")) or 0)

    def ns_pid(self) -> int:
        pid = self.pid(self.p["net_service"])
        if not pid:
            raise SwapError(
                f"the network namespace of the host Nginx (service {self.p['net_service']}) is not running; "
                "run site.yml first"
            )
        return pid

    def in_ns(self, *argv: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        full = ["nsenter", "--target", str(self.ns_pid()), "--net", *argv]
        return subprocess.run(full, input=stdin, capture_output=True, text=True, timeout=30, check=False)

    def route(self, dnat: list[dict[str, Any]]) -> bool:
        """Make the DNAT chain say `dnat`; True when it changed. Also kept in
        dnat.rules, from which the watchdog restores a namespace that lost them."""
        port = self.p["health_port"]
        if self.module.check_mode and not self.pid(self.p["net_service"]):
            return True
        if not self.module.check_mode:
            write_atomic(os.path.join(self.dir, RULES_FILE), dnat_restore(dnat, port, add_jump=True))
        current = self.in_ns("iptables", "-w", "5", "-t", "nat", "-S", CHAIN)
        jump = self.in_ns("iptables", "-w", "5", "-t", "nat", "-C", "OUTPUT", "-j", CHAIN).returncode == 0
        wanted = dnat_rule_lines(dnat, port)
        if jump and current.returncode == 0 and current.stdout.splitlines()[1:] == wanted:
            return False
        if self.module.check_mode:
            return True
        done = self.in_ns(
            "iptables-restore", "-w", "5", "--noflush", stdin=dnat_restore(dnat, port, not jump)
        )
        if done.returncode != 0:
            raise SwapError(
                f"iptables-restore in the host Nginx's namespace failed: {done.stderr.strip()[-600:]}"
            )
        return True

    def connections(self, service: str) -> int:
        """Connections in flight to a replica's app port (0 when it is gone)."""
        pid = self.pid(service)
        if not pid:
            return 0
        tables = []
        for name in ("tcp", "tcp6"):
            try:
                with open(f"/proc/{pid}/net/{name}", encoding="ascii") as handle:
                    tables.append(handle.read())
            except OSError:
                continue
        return connections_in(tables, self.p["health_port"])

    def probe(self, url: str) -> dict[str, Any]:
        """One HTTP request from the host Nginx's network namespace (the path
        Nginx itself takes to the replica), so it works for any app image."""
        argv = ["nsenter", "--target", str(self.ns_pid()), "--net", "python3", "-c", PROBE]
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
        before = read_text(host.compose_path)
        write_atomic(host.compose_path, p["compose_surge"])
        try:
            host.compose("rm", "--stop", "--force", p["to_service"])  # a leftover of an interrupted run
            host.compose("up", "--detach", "--no-deps", "--no-build", "--pull", "never", p["to_service"])
            self.gate()
            self.mark("healthy")
            host.route(p["dnat"])
        except Exception:
            host.compose("rm", "--stop", "--force", p["to_service"], check=False)
            write_atomic(host.compose_path, before or p["compose_final"])
            raise
        write_atomic(os.path.join(host.dir, ROUTES_FILE), routes_json(p["routes"]))
        self.mark("switched")
        drained = not p["from_service"] or wait_until(
            lambda: host.connections(p["from_service"]) == 0, p["drain_timeout"], 0.05
        )
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
        url = f"http://{p['to_address']}:{p['health_port']}{p['health_path']}"
        deadline = time.monotonic() + p["gate_timeout"]
        why = "not started"
        while time.monotonic() < deadline:
            info = host.one(p["to_service"]) or {}
            state = info.get("State") or {}
            health = (state.get("Health") or {}).get("Status", "none")
            if state.get("Status") in ("exited", "dead") or health == "unhealthy":
                raise SwapError(
                    f"the successor is {state.get('Status')}/{health}: {last_health_output(info)}"
                )
            if state.get("Status") == "running" and health in ("healthy", "none"):
                why = health_verdict(host.probe(url), p["health_status"], *self.expect())
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
        self.handle = open(self.path, "a+", encoding="utf-8")  # held until __exit__
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
            "action": {"type": "str", "choices": ["info", "route", "swap"], "default": "info"},
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
        },
        required_if=[("action", "swap", REQUIRED_FOR_SWAP), ("action", "route", ("dnat",))],
        supports_check_mode=True,
    )
    host = Host(module)
    try:
        routes = read_routes(host.dir)
        if module.params["action"] == "info":
            summaries = [container_summary(c) for c in host.containers()] if os.path.isdir(host.dir) else []
            module.exit_json(
                changed=False, routes=routes, containers=sorted(summaries, key=lambda c: c["name"])
            )
        if module.params["action"] == "route":
            with HostLock(host.dir, module.params["lock_timeout"]):
                module.exit_json(changed=host.route(module.params["dnat"]), routes=routes)
        if module.check_mode:
            module.exit_json(changed=True, routes=module.params["routes"], swap={})
        with HostLock(host.dir, module.params["lock_timeout"]):
            result = Swap(host).run()
        module.exit_json(changed=True, routes=module.params["routes"], swap=result)
    except (SwapError, OSError, ValueError, subprocess.TimeoutExpired) as err:
        module.fail_json(msg=str(err), replica=module.params.get("replica"))


if __name__ == "__main__":
    main()
