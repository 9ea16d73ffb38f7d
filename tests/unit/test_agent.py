"""Unit tests of the health agent's checks (roles/agent/files/pyweb-agent.py)
against real sockets on loopback: a server that answers, one that accepts and
never answers (a frozen process: the kernel still completes the handshake),
one that answers late (a busy target: it stays in), one that answers too late
(never within 4 x timeout). Its DNAT and Docker side runs in the Molecule
scenarios."""

from __future__ import annotations

import contextlib
import importlib.util
import socket
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from plugins.module_utils import netns

AGENT_PATH = Path(__file__).resolve().parents[2] / "roles/agent/files/pyweb-agent.py"


@pytest.fixture(scope="module")
def agent() -> ModuleType:
    sys.modules.setdefault("pyweb_netns", netns)  # installed beside the agent on a host
    spec = importlib.util.spec_from_file_location("pyweb_agent", AGENT_PATH)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["pyweb_agent"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


class Handler(BaseHTTPRequestHandler):
    delay = 0.0

    def do_GET(self) -> None:
        time.sleep(self.delay)
        with contextlib.suppress(OSError):  # the check gave up first
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

    def log_message(self, *args: Any) -> None:
        pass


def serve(delay: float) -> Iterator[int]:
    handler = type("DelayedHandler", (Handler,), {"delay": delay})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture
def healthy() -> Iterator[int]:
    yield from serve(0.0)


@pytest.fixture
def slow() -> Iterator[int]:
    yield from serve(0.5)


@pytest.fixture
def frozen() -> Iterator[int]:
    """Accepts connections (the backlog) and never reads or answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    yield sock.getsockname()[1]
    sock.close()


def make_agent(agent: ModuleType, tmp_path: Path, **overrides: Any) -> Any:
    cfg = {
        "project_dir": str(tmp_path), "project_name": "unit", "net_service": "net",
        "health_path": "/healthz", "health_status": 200,
        "interval": 0.05, "timeout": 0.3, "fall": 2, "rise": 2, "restart_after": 0,
    }  # fmt: skip
    return agent.Agent({**cfg, **overrides})


def target(name: str, port: int) -> dict[str, Any]:
    return {"name": name, "address": "127.0.0.1", "port": port}


def is_down(checker: Any, name: str) -> bool:
    return name in checker.health and not checker.health[name].up


def rounds_until(agent_obj: Any, targets: list[dict[str, Any]], done, limit_s: float = 5.0) -> float:
    """Run check rounds every interval until done(); the seconds it took."""
    started = time.monotonic()
    while not done():
        assert time.monotonic() - started < limit_s, {n: vars(s) for n, s in agent_obj.health.items()}
        agent_obj.check(targets)
        time.sleep(agent_obj.cfg["interval"])
    return time.monotonic() - started


def run_rounds(checker: Any, targets: list[dict[str, Any]], rounds: int, pause: float) -> None:
    for _round in range(rounds):
        checker.check(targets)
        time.sleep(pause)


def test_a_healthy_target_stays_up(agent, tmp_path, healthy):
    checker = make_agent(agent, tmp_path)
    run_rounds(checker, [target("app_1", healthy)], 20, 0.05)
    state = checker.health["app_1"]
    assert state.up and state.fails == 0 and state.oks >= 10, vars(state)


def test_a_frozen_target_is_down_and_never_delays_the_checks_of_others(agent, tmp_path, frozen, healthy):
    """Checks do not wait for each other: while the frozen target's checks
    hang, its healthy neighbour is checked every round; the frozen one is out
    once it has answered nothing for timeout + (fall - 1) x interval (never earlier)."""
    checker = make_agent(agent, tmp_path)
    targets = [target("app_1", frozen), target("app_2", healthy)]
    took = rounds_until(checker, targets, lambda: is_down(checker, "app_1"))
    assert took >= 0.35, f"down after {took:.2f} s, before 0.3 + 0.05 s without an answer"
    assert checker.health["app_1"].why == "no answer for 0.35 s"
    neighbour = checker.health["app_2"]
    assert neighbour.up and neighbour.oks >= 3, vars(neighbour)  # 0.3 s / 0.05 s rounds, minus slack


def test_checks_of_a_frozen_target_are_bounded(agent, tmp_path, frozen):
    checker = make_agent(agent, tmp_path)
    run_rounds(checker, [target("app_1", frozen)], 60, 0.01)
    url = next(iter(checker.probes))
    assert len(checker.probes[url]) + len(checker.late[url]) <= checker.MAX_OUT


@pytest.fixture
def too_slow() -> Iterator[int]:
    yield from serve(1.0)


def test_a_busy_target_that_answers_late_stays_in(agent, tmp_path, slow):
    """Every answer comes 0.5 s after its check (timeout 0.2 s): slow, not
    failed. Checks started every round keep answers coming, so once the
    first answers are in, the target stays in every round."""
    checker = make_agent(agent, tmp_path, timeout=0.2)
    targets = [target("app_1", slow)]
    run_rounds(checker, targets, 20, 0.05)  # the first answer takes 0.5 s
    states = []
    for _round in range(30):
        checker.check(targets)
        states.append(checker.health["app_1"].up)
        time.sleep(0.05)
    assert all(states), (states, vars(checker.health["app_1"]))
    assert checker.health["app_1"].why.startswith("answered 200 after 0.5"), vars(checker.health["app_1"])


def test_an_answer_later_than_four_timeouts_is_a_failure(agent, tmp_path, too_slow):
    checker = make_agent(agent, tmp_path, timeout=0.2)
    targets = [target("app_1", too_slow)]
    rounds_until(checker, targets, lambda: is_down(checker, "app_1"))
    assert checker.health["app_1"].why == "no answer for 0.25 s"
    run_rounds(checker, targets, 30, 0.05)  # the checks give up after 0.8 s: still out
    assert is_down(checker, "app_1")
    assert checker.health["app_1"].why == "no answer within 0.8 s"


def test_a_target_that_answers_again_is_back_after_rise_passes(agent, tmp_path, frozen, healthy):
    checker = make_agent(agent, tmp_path)
    rounds_until(checker, [target("app_1", frozen)], lambda: is_down(checker, "app_1"))
    # the same target now answers (a new address: what a thawed replica looks like to the checks)
    rounds_until(checker, [target("app_1", healthy)], lambda: checker.health["app_1"].up)
    assert len(checker.probes) == 1 and len(checker.late) == 1  # the old address's checks are forgotten


def test_a_refused_connection_fails_at_once(agent, tmp_path):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there
    checker = make_agent(agent, tmp_path, timeout=30.0)
    rounds_until(checker, [target("app_1", port)], lambda: is_down(checker, "app_1"), limit_s=10.0)
    assert checker.health["app_1"].why == "ConnectionRefusedError"  # not a timeout of 30 s
