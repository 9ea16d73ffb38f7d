# Copyright: (c) 2026, pyweb.ha maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""A compose project whose proxy lives in the network namespace of a holder
service (`net`): its containers, that namespace, and the DNAT rules there
that send each virtual address (VIP) to its target. Shared by the modules
replica and route, and by the health agent (roles/agent), which all change a
server's state the same way: one atomic rewrite of one chain, no reload."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import tempfile
import time
from collections.abc import Callable
from typing import Any

CHAIN = "PYWEB"
TARGETS_FILE = "dnat.json"
LOCK_FILE = ".lock"
IN_FLIGHT_STATES = ("01", "03")  # ESTABLISHED, SYN_RECV
LOOPBACK_HEX = "0100007F"


class NetnsError(Exception):
    """A step failed; the message speaks to the operator."""


def read_text(path: str) -> str:
    """The file's text, '' when there is none."""
    if not os.path.exists(path):
        return ""
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def routes_json(routes: dict[str, Any]) -> str:
    """The routes record of a host's replicas (replicas.json) as written on
    disk, by the replica module and by the stack role (filter
    pyweb.ha.routes_json): the same bytes, so a run that changes nothing
    writes nothing."""
    return json.dumps(routes, indent=2, sort_keys=True) + "\n"


def write_atomic(path: str, content: str, mode: int = 0o644) -> bool:
    """Write content to path (temp file and rename); False when it was there already."""
    if read_text(path) == content and os.path.exists(path):
        return False
    directory = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".pyweb.")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(content)
    os.chmod(tmp, mode)
    os.replace(tmp, path)
    return True


def wait_until(check: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def dnat_rule_lines(targets: list[dict[str, Any]]) -> list[str]:
    """The rules of the chain, as `iptables -S` prints them: each target's VIP
    (on its port) sent to its address (on `to_port`, by default the same port)."""
    return [
        f"-A {CHAIN} -d {t['vip']}/32 -p tcp -m tcp --dport {t['port']} -j DNAT"
        f" --to-destination {t['address']}:{t.get('to_port') or t['port']}"
        for t in targets
    ]


def effective(targets: list[dict[str, Any]], up: dict[str, bool] | None = None) -> list[dict[str, Any]]:
    """Where each VIP goes: to its own target when that serves (up, per the
    health agent, and not drained by the operator), else to a serving one
    (spread by position), or kept when none serves."""
    up = up or {}

    def serving(target: dict[str, Any]) -> bool:
        return up.get(target["name"], True) and not target.get("drained")

    healthy = [t for t in targets if serving(t)]
    rules = []
    for index, target in enumerate(targets):
        to = target if serving(target) or not healthy else healthy[index % len(healthy)]
        rules.append({**target, "address": to["address"], "to_port": to["port"]})
    return rules


def dnat_restore(targets: list[dict[str, Any]], add_jump: bool) -> str:
    """iptables-restore input (with --noflush) that replaces the chain's rules
    in one commit: a new connection sees the old rules or the new, never none;
    connections already open keep their destination (conntrack)."""
    jump = [f"-A OUTPUT -j {CHAIN}"] if add_jump else []
    return "\n".join(["*nat", f":{CHAIN} - [0:0]", *jump, *dnat_rule_lines(targets), "COMMIT", ""])


def connections_in(tcp_tables: list[str], port: int, remote: str | None = None) -> int:
    """Connections in flight in a namespace's /proc/PID/net/tcp tables: to
    local `port` from outside (not the loopback), or, with `remote`
    ("ADDRESS:PORT"), to that remote endpoint."""
    wanted = _hex_endpoint(remote) if remote else None
    count = 0
    for table in tcp_tables:
        for line in table.splitlines()[1:]:
            fields = line.split()
            if len(fields) < 4 or fields[3] not in IN_FLIGHT_STATES:
                continue
            local, peer = fields[1], fields[2]
            if wanted is not None:
                count += peer == wanted
            elif int(local.split(":")[1], 16) == port:
                count += peer.split(":")[0] != LOOPBACK_HEX
    return count


def _hex_endpoint(endpoint: str) -> str:
    address, port = endpoint.rsplit(":", 1)
    octets = [int(o) for o in address.split(".")]
    return "".join(f"{o:02X}" for o in reversed(octets)) + f":{int(port):04X}"


class HostLock:
    """The host lock of a compose project: the health agent takes it
    without waiting (and skip a round), swaps and routes wait for it."""

    def __init__(self, project_dir: str, timeout: float) -> None:
        self.path = os.path.join(project_dir, LOCK_FILE)
        self.timeout = timeout
        self.handle: Any = None

    def __enter__(self) -> HostLock:
        self.handle = open(self.path, "a+", encoding="utf-8")  # held until __exit__
        if not wait_until(self._try, self.timeout, 0.2):
            self.handle.close()
            raise NetnsError(f"the host lock {self.path} stayed taken for {self.timeout:g} s")
        return self

    def _try(self) -> bool:
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def __exit__(self, *exc: object) -> None:
        self.handle.close()


class Project:
    """Docker and Compose access to one project on this host."""

    def __init__(self, project_dir: str, project_name: str, net_service: str = "net") -> None:
        self.dir = project_dir
        self.name = project_name
        self.net_service = net_service
        self.compose_path = os.path.join(project_dir, "compose.yml")

    def run(
        self, argv: list[str], check: bool = True, timeout: float = 300, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            argv, input=stdin, capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and result.returncode != 0:
            raise NetnsError(f"{' '.join(argv)} failed ({result.returncode}): {result.stderr.strip()[-800:]}")
        return result

    def compose(
        self, *args: str, check: bool = True, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        base = ["docker", "compose", "--project-name", self.name, "--project-directory", self.dir]
        return self.run([*base, "-f", self.compose_path, *args], check=check, timeout=timeout)

    def containers(self, service: str | None = None) -> list[dict[str, Any]]:
        argv = ["docker", "ps", "--all", "--quiet", "--no-trunc"]
        argv += ["--filter", f"label=com.docker.compose.project={self.name}"]
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
        pid = self.pid(self.net_service)
        if not pid:
            raise NetnsError(
                f"the network namespace of project {self.name} (service {self.net_service}) is not running; "
                "run site.yml first"
            )
        return pid

    def in_ns(
        self, *argv: str, stdin: str | None = None, timeout: float = 30
    ) -> subprocess.CompletedProcess[str]:
        full = ["nsenter", "--target", str(self.ns_pid()), "--net", *argv]
        return self.run(full, check=False, timeout=timeout, stdin=stdin)

    def route(self, targets: list[dict[str, Any]], check_mode: bool = False) -> bool:
        """Make the chain send each VIP to its target (a drained one's elsewhere);
        True when it changed. The targets are also kept in dnat.json, which the
        health agent reads (it also moves the VIPs of targets that fail)."""
        if check_mode and not self.pid(self.net_service):
            return True
        if not check_mode:
            write_atomic(
                os.path.join(self.dir, TARGETS_FILE), json.dumps({"targets": targets}, indent=2) + "\n"
            )
        rules = effective(targets)
        current = self.in_ns("iptables", "-w", "5", "-t", "nat", "-S", CHAIN)
        jump = self.in_ns("iptables", "-w", "5", "-t", "nat", "-C", "OUTPUT", "-j", CHAIN).returncode == 0
        if jump and current.returncode == 0 and current.stdout.splitlines()[1:] == dnat_rule_lines(rules):
            return False
        if check_mode:
            return True
        done = self.in_ns("iptables-restore", "-w", "5", "--noflush", stdin=dnat_restore(rules, not jump))
        if done.returncode != 0:
            raise NetnsError(
                f"iptables-restore in the namespace of {self.name} failed: {done.stderr.strip()[-600:]}"
            )
        # Tell the health agent the chain was rewritten (it re-applies its own view).
        os.utime(os.path.join(self.dir, TARGETS_FILE))
        return True

    def tcp_tables(self, pid: int) -> list[str]:
        tables = []
        for name in ("tcp", "tcp6"):
            try:
                with open(f"/proc/{pid}/net/{name}", encoding="ascii") as handle:
                    tables.append(handle.read())
            except OSError:
                continue
        return tables
