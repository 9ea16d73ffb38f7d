#!/usr/bin/env python
# Copyright: (c) 2026, pyweb.ha maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""pyweb.ha health agent: active health checks for one proxy (the host Nginx of
an app host, or the edge balancer), run by systemd as pyweb-agent@NAME.

Every `interval` seconds it asks each target (dnat.json, written by the
modules replica and route) for its health path, from the proxy's own network
namespace (it re-executes itself inside it). Checks do not wait for each
other: a new one starts every interval while earlier ones are still out. A
slow target is not a failed one: an answer with the right status is a pass
however late it comes (within `4 x timeout`), so a target that is busy under
load stays in. A target that answers nothing at all for `timeout + (fall - 1)
x interval` seconds while checks are out (frozen, cut off) is taken out, as is
one that fails `fall` checks in a row (a wrong status, a refused or reset
connection, no answer within 4 x timeout): its virtual address is sent to a
healthy target (one atomic DNAT rewrite, no Nginx reload, nothing in flight is
cut); one that passes `rise` checks in a row is put back. A replica (a target with a
`service`) that stays down `restart_after` seconds is restarted. Every few
seconds (in a thread of its own, so that slow Docker calls never delay a
check) it starts the project's containers that are down although nobody
asked (a host that boots may start the proxy before the namespace it joins;
`docker kill` defeats the restart policy) with `compose up --no-recreate`:
it never recreates one. The agent holds the project's host lock while it
changes anything and skips a round while a swap or site.yml holds it. Its
view is in agent-status.json.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pyweb_netns import (  # installed beside this file
    CHAIN,
    TARGETS_FILE,
    HostLock,
    NetnsError,
    Project,
    dnat_restore,
    dnat_rule_lines,
    effective,
    write_atomic,
)

IN_NETNS = "PYWEB_AGENT_NETNS"


def log(message: str) -> None:
    print(f"pyweb-agent: {message}", flush=True)


@dataclass
class Target:
    """A target's health as the agent sees it."""

    up: bool = True
    oks: int = 0
    fails: int = 0
    since: float = field(default_factory=time.time)
    heard: float = field(default_factory=time.monotonic)  # when its last check came back
    last_restart: float = 0.0
    why: str = ""

    def record(self, ok: bool, why: str, fall: int, rise: int) -> bool:
        """Count one check; True when the target changed state."""
        self.oks, self.fails = (self.oks + 1, 0) if ok else (0, self.fails + 1)
        self.why = why
        if self.up and self.fails >= fall:
            return self.set_up(False)
        if not self.up and self.oks >= rise:
            return self.set_up(True)
        return False

    def silent(self, oldest_out: float | None, now: float, limit: float) -> bool:
        """Take the target out when it has answered nothing for `limit`
        seconds while a check older than that is still out; True if it was up."""
        if not self.up or oldest_out is None or now - max(self.heard, oldest_out) < limit:
            return False
        self.oks, self.why = 0, f"no answer for {limit:g} s"
        return self.set_up(False)

    def set_up(self, up: bool) -> bool:
        self.up, self.since = up, time.time()
        return True


class Probe:
    """One health check of one target, run in the pool; it is judged from the
    moment it actually started (a queued probe is not late)."""

    def __init__(self, url: str, timeout: float, status: int, slow: float) -> None:
        self.url, self.timeout, self.status, self.slow = url, timeout, status, slow
        self.started: float | None = None
        self.took = 0.0
        self.future: Future[tuple[bool, str, bool]] | None = None

    def __call__(self) -> tuple[bool, str, bool]:
        self.started = time.monotonic()
        try:
            return probe(self.url, self.timeout, self.status)
        finally:
            self.took = time.monotonic() - self.started

    def outcome(self, now: float) -> tuple[bool, str] | None:
        """The result once known: the answer, however late (a slow answer
        says how slow), a failure once it is `timeout` old without one, or
        None while it may still answer."""
        if self.future is not None and self.future.done():
            ok, why, _heard = self.future.result()
            return ok, f"{why} after {self.took:.2f} s" if ok and self.took > self.slow else why
        if self.started is not None and now - self.started >= self.timeout:
            return False, f"no answer within {self.timeout:g} s"
        return None

    def running(self) -> bool:
        return self.future is not None and not self.future.done()

    def answered(self) -> bool:
        """Something came back from the target: an answer, a refusal, a reset."""
        return self.future is not None and self.future.done() and self.future.result()[2]


def say(target: dict[str, Any], state: Target) -> bool:
    """Log a change of state (True: something changed)."""
    log(f"{target['name']} ({target['address']}) is {'up' if state.up else 'DOWN'}: {state.why}")
    return True


def probe(url: str, timeout: float, status: int) -> tuple[bool, str, bool]:
    """(passed, why, heard): heard is False only when nothing came back in time."""
    late = False, f"no answer within {timeout:g} s", False
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            got = answer.status
    except urllib.error.HTTPError as err:
        got = err.code
    except urllib.error.URLError as err:  # refused, unreachable, or no connection in time
        reason = err.reason
        if isinstance(reason, TimeoutError):
            return late
        return False, type(reason).__name__ if isinstance(reason, Exception) else str(reason), True
    except TimeoutError:  # connected, no answer: a frozen process
        return late
    except Exception as err:  # a broken answer
        return False, type(err).__name__, True
    return got == status, f"answered {got}", True


def run(argv: list[str], stdin: str | None = None, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=timeout, check=False)


def start_down(cfg: dict[str, Any]) -> None:
    """Start the services of the project's compose file whose container is down
    (exited, dead or only created), under the host lock; never recreate."""
    project = Project(cfg["project_dir"], cfg["project_name"], cfg["net_service"])
    status = ("--status", "exited", "--status", "dead", "--status", "created")
    listed = project.compose("ps", "--all", "--format", "{{.Service}}", *status, check=False, timeout=30)
    down = sorted(set(listed.stdout.split())) if listed.returncode == 0 else []
    if not down:
        return
    with HostLock(cfg["project_dir"], 0):  # raises while a swap or site.yml holds it: next round
        log(f"starting {', '.join(down)}: down although nobody asked")
        up = ("up", "--detach", "--no-recreate", "--no-build", "--pull", "never")
        done = project.compose(*up, check=False, timeout=180)
    if done.returncode != 0:
        log(f"starting {', '.join(down)} failed: {done.stderr.strip()[-400:]}")


def holder_pid(cfg: dict[str, Any]) -> int:
    ids = run(
        [
            "docker", "ps", "--quiet",
            "--filter", f"label=com.docker.compose.project={cfg['project_name']}",
            "--filter", f"label=com.docker.compose.service={cfg['net_service']}",
        ]
    ).stdout.split()  # fmt: skip
    if not ids:
        return 0
    out = run(["docker", "inspect", "--format", "{{.State.Pid}}", ids[0]]).stdout.strip()
    return int(out) if out.isdigit() else 0


def enter_netns(cfg: dict[str, Any]) -> None:
    """Re-execute inside the proxy's network namespace (waiting for it, and
    starting it when it is down)."""
    while not (pid := holder_pid(cfg)):
        with contextlib.suppress(NetnsError, OSError, subprocess.TimeoutExpired):
            start_down(cfg)
        time.sleep(1)
    os.environ[IN_NETNS] = f"{pid}:{os.stat(f'/proc/{pid}/ns/net').st_ino}"
    os.execvp("nsenter", ["nsenter", "--target", str(pid), "--net", sys.executable, *sys.argv])


def netns_current() -> bool:
    """The holder we entered still runs in the same namespace (no Docker call:
    cheap enough for every round)."""
    pid, inode = os.environ.get(IN_NETNS, "0:0").split(":")
    try:
        return str(os.stat(f"/proc/{pid}/ns/net").st_ino) == inode
    except OSError:
        return False


class Agent:
    VERIFY_EVERY_S = 5.0
    HOUSEKEEPING_EVERY_S = 5.0
    MAX_OUT = 16  # checks of one target out at once: a frozen one holds each until its socket times out
    PATIENCE = 4  # an answer is awaited PATIENCE x timeout: a slow answer is a pass

    def __init__(self, cfg: dict[str, Any]) -> None:
        self.cfg = cfg
        self.health: dict[str, Target] = {}
        self.pool = ThreadPoolExecutor(max_workers=64)  # threads start as needed
        self.probes: dict[str, deque[Probe]] = {}  # per URL, not judged yet, oldest first
        self.late: dict[str, list[Probe]] = {}  # per URL, judged failed but still running
        self.applied: list[str] = []
        self.verified = 0.0
        self.targets_mtime = 0.0
        self.current: list[dict[str, Any]] = []

    def targets(self) -> list[dict[str, Any]]:
        path = os.path.join(self.cfg["project_dir"], TARGETS_FILE)
        try:
            mtime = os.stat(path).st_mtime
            if mtime != self.targets_mtime:  # a swap or site.yml rewrote the chain: read it back
                self.targets_mtime, self.verified = mtime, 0.0
            with open(path, encoding="utf-8") as handle:
                return list(json.load(handle).get("targets") or [])
        except (OSError, ValueError):
            return []

    def silence_limit(self) -> float:
        """Seconds without any answer that take a target out."""
        return self.cfg["timeout"] + (self.cfg["fall"] - 1) * self.cfg["interval"]

    def check(self, targets: list[dict[str, Any]]) -> bool:
        """Judge the checks that have an outcome (in the order they started),
        take out a target that answered nothing for silence_limit(), then start
        one more check per target; True when some target changed state."""
        cfg, now, changed = self.cfg, time.monotonic(), False
        urls = {f"http://{t['address']}:{t['port']}{cfg['health_path']}": t for t in targets}
        for url, target in urls.items():
            out = self.probes.setdefault(url, deque())
            state = self.health.setdefault(target["name"], Target())
            late = self.late[url] = [p for p in self.late.get(url, []) if p.running()]
            if any(p.answered() for p in out):
                state.heard = now  # an answer, or a refusal, even before older checks: not silent
            while out and (result := out[0].outcome(now)) is not None:
                if out[0].running():
                    late.append(out[0])  # judged, but its socket has not timed out yet
                out.popleft()
                if state.record(*result, cfg["fall"], cfg["rise"]):
                    changed = say(target, state)
            if state.silent(out[0].started if out else None, now, self.silence_limit()):
                changed = say(target, state)
            if len(out) + len(late) < self.MAX_OUT:
                timeout = cfg["timeout"] * self.PATIENCE
                out.append(Probe(url, timeout, cfg["health_status"], slow=cfg["timeout"]))
                out[-1].future = self.pool.submit(out[-1])
        for url in set(self.probes) - set(urls):
            del self.probes[url], self.late[url]  # a target that left: its late checks judge nothing
        return changed

    def apply(self, targets: list[dict[str, Any]]) -> None:
        """Make the chain send every VIP where `effective` says, under the host
        lock; the chain is read back at most every VERIFY_EVERY_S when nothing
        changed (a swap's rewrite shows there, or in dnat.json)."""
        rules = effective(targets, {name: state.up for name, state in self.health.items()})
        wanted = dnat_rule_lines(rules)
        if wanted == self.applied and time.monotonic() - self.verified < self.VERIFY_EVERY_S:
            return
        current = run(["iptables", "-w", "2", "-t", "nat", "-S", CHAIN])
        jump = run(["iptables", "-w", "2", "-t", "nat", "-C", "OUTPUT", "-j", CHAIN]).returncode == 0
        if not (jump and current.returncode == 0 and current.stdout.splitlines()[1:] == wanted):
            with HostLock(self.cfg["project_dir"], 0):  # raises while a swap holds it: next round
                done = run(["iptables-restore", "-w", "2", "--noflush"], stdin=dnat_restore(rules, not jump))
            if done.returncode != 0:
                log(f"iptables-restore failed: {done.stderr.strip()}")
                return
            log("routes: " + ", ".join(f"{r['name']}->{r['address']}" for r in rules))
        self.applied, self.verified = wanted, time.monotonic()

    def restart(self, targets: list[dict[str, Any]]) -> None:
        """Restart a replica that stayed down restart_after seconds."""
        after, now = self.cfg["restart_after"], time.time()
        for target in targets:
            state = self.health.get(target["name"])
            if not after or not target.get("service") or not state or state.up:
                continue
            if now - state.since < after or now - state.last_restart < after:
                continue
            with HostLock(self.cfg["project_dir"], 0):
                ids = run(
                    ["docker", "ps", "--all", "--quiet",
                     "--filter", f"label=com.docker.compose.project={self.cfg['project_name']}",
                     "--filter", f"label=com.docker.compose.service={target['service']}"]
                ).stdout.split()  # fmt: skip
                for container in ids:
                    down = round(now - state.since)
                    log(f"restarting {target['name']} ({target['service']}): down for {down} s")
                    run(["docker", "unpause", container])
                    run(["docker", "restart", "--time", "10", container])
            state.last_restart = now

    def status(self, targets: list[dict[str, Any]]) -> None:
        document = {
            t["name"]: {"up": self.health[t["name"]].up, "since": round(self.health[t["name"]].since, 3),
                        "last": self.health[t["name"]].why}
            for t in targets if t["name"] in self.health
        }  # fmt: skip
        write_atomic(os.path.join(self.cfg["project_dir"], "agent-status.json"), json.dumps(document) + "\n")

    def housekeeping(self) -> None:
        """Every few seconds, in its own thread: restart replicas that stayed
        down, start containers that are down although nobody asked. Both call
        Docker and may take seconds; the checks go on meanwhile."""
        while True:
            time.sleep(self.HOUSEKEEPING_EVERY_S)
            with contextlib.suppress(NetnsError, OSError, subprocess.TimeoutExpired):
                self.restart(list(self.current))
            with contextlib.suppress(NetnsError, OSError, subprocess.TimeoutExpired):
                start_down(self.cfg)

    def loop(self) -> int:
        threading.Thread(target=self.housekeeping, name="housekeeping", daemon=True).start()
        rounds = 0
        while True:
            started = time.monotonic()
            self.current = targets = self.targets()
            changed = bool(targets) and self.check(targets)
            if targets:
                with contextlib.suppress(NetnsError):  # a swap or site.yml holds the host lock: next round
                    self.apply(targets)
            if changed or rounds % 20 == 0:
                self.status(targets)
            rounds += 1
            if not netns_current():
                log("the proxy's network namespace was recreated; restarting in the new one")
                return 75
            time.sleep(max(0.0, self.cfg["interval"] - (time.monotonic() - started)))


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as handle:
        cfg = json.load(handle)
    if not os.environ.get(IN_NETNS):
        enter_netns(cfg)
    log(f"checking the targets of {cfg['project_name']} every {cfg['interval']} s")
    return Agent(cfg).loop()


if __name__ == "__main__":
    sys.exit(main())
