"""Unit tests for tests/lib/loadgen.py against a throw-away local HTTP server."""

from __future__ import annotations

import importlib.util
import json
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType

import pytest

LOADGEN_PATH = Path(__file__).resolve().parents[1] / "lib" / "loadgen.py"


def _load_loadgen() -> ModuleType:
    """Import loadgen.py by path: it is a standalone script, not a package module."""
    spec = importlib.util.spec_from_file_location("loadgen", LOADGEN_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["loadgen"] = module  # dataclasses look the module up here
    spec.loader.exec_module(module)
    return module


lg = _load_loadgen()


# --------------------------------------------------------------------------
# A tiny controllable backend
# --------------------------------------------------------------------------


class Backend(ThreadingHTTPServer):
    """JSON backend; can answer 502, drop connections or stall on demand."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(self, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), Handler)
        self.lock = threading.Lock()
        self.count = 0
        self.fail_every = 0  # every n-th request answers 502
        self.close_every = 0  # every n-th request is dropped without an answer
        self.fail_all = False
        self.delay = 0.0
        self.version = "1.0"
        self.client_ports: list[int] = []
        self.post_bodies: list[bytes] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def decide(self, port: int) -> tuple[int, str]:
        """Count the request; return (number, action)."""
        with self.lock:
            self.count += 1
            number = self.count
            self.client_ports.append(port)
        if self.close_every and number % self.close_every == 0:
            return number, "close"
        if self.fail_all or (self.fail_every and number % self.fail_every == 0):
            return number, "fail"
        return number, "ok"

    def handle_error(self, request: object, client_address: object) -> None:
        """Stalled handlers write to sockets the client gave up on: ignore."""


class Handler(BaseHTTPRequestHandler):
    server: Backend

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with self.server.lock:
            self.server.post_bodies.append(body)
        self._answer()

    def _answer(self) -> None:
        number, action = self.server.decide(self.client_address[1])
        if self.server.delay:
            time.sleep(self.server.delay)
        if action == "close":
            self.close_connection = True
            return
        if action == "fail":
            self._send(502, "text/html", b"<html>502 Bad Gateway</html>")
            return
        doc = {"host": "web", "replica": number % 2 + 1, "version": self.server.version}
        self._send(200, "application/json", json.dumps(doc).encode())

    def _send(self, status: int, content_type: str, payload: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        """Keep test output quiet."""


@pytest.fixture
def backend() -> Iterator[Backend]:
    server = Backend()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def config(url: str, **overrides: object) -> object:
    values: dict[str, object] = {"clients": 4, "duration": 10.0, "timeout": 2.0}
    values.update(overrides)
    return lg.Config(url=url, **values)


def record(start: float, latency: float, status: int, **extra: object) -> object:
    values: dict[str, object] = {
        "index": 0,
        "client": 0,
        "method": "GET",
        "path": "/",
        "start": start,
        "latency": latency,
        "status": status,
    }
    values.update(extra)
    return lg.RequestRecord(**values)


# --------------------------------------------------------------------------
# Pure functions
# --------------------------------------------------------------------------


def test_percentile_nearest_rank() -> None:
    values = [float(v) for v in range(100, 0, -1)]  # unsorted on purpose
    assert lg.percentile(values, 50) == 50.0
    assert lg.percentile(values, 90) == 90.0
    assert lg.percentile(values, 99) == 99.0
    assert lg.percentile(values, 100) == 100.0
    assert lg.percentile(values, 0) == 1.0
    assert lg.percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert lg.percentile([7.0], 99) == 7.0
    assert lg.percentile([], 50) == 0.0
    assert lg.percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.0
    assert lg.percentile([1.0, 2.0, 3.0, 4.0], 51) == 3.0
    with pytest.raises(ValueError, match="percentile"):
        lg.percentile([1.0], 101)


def test_max_gap_counts_both_edges() -> None:
    assert lg.max_gap([1.0, 2.0, 5.0], 0.0, 6.0) == 3.0
    assert lg.max_gap([5.0, 1.0, 2.0], 0.0, 6.0) == 3.0
    assert lg.max_gap([4.0, 5.0], 0.0, 6.0) == 4.0  # start -> first success
    assert lg.max_gap([1.0], 0.0, 10.0) == 9.0  # last success -> end
    assert lg.max_gap([], 0.0, 4.0) == 4.0
    assert lg.max_gap([0.5, 0.5], 0.0, 1.0) == 0.5


def test_post_pattern_is_deterministic_and_exact() -> None:
    assert [i for i in range(12) if lg.is_post(i, 0.25)] == [3, 7, 11]
    assert sum(lg.is_post(i, 0.1) for i in range(1000)) == 100
    assert sum(lg.is_post(i, 1 / 3) for i in range(999)) == 333
    assert not any(lg.is_post(i, 0.0) for i in range(100))
    assert all(lg.is_post(i, 1.0) for i in range(100))


def test_parse_identity() -> None:
    body = b'{"host": "web1", "replica": 2, "version": "1.4.0", "x": 1}'
    assert lg.parse_identity(body) == ("web1", "2", "1.4.0")
    assert lg.parse_identity(b'{"version": "2"}') == (None, None, "2")
    assert lg.parse_identity(b"<html>502</html>") == (None, None, None)
    assert lg.parse_identity(b"[1, 2]") == (None, None, None)
    assert lg.parse_identity(b"{broken") == (None, None, None)
    assert lg.parse_identity(b"") == (None, None, None)


def test_config_caps_and_validation() -> None:
    capped = lg.Config(url="http://h:1", clients=1000, duration=99999, timeout=600).checked()
    assert (capped.clients, capped.duration, capped.timeout) == (256, 1800.0, 60.0)
    for bad in (
        {"url": "ftp://h/"},
        {"url": "http://h", "clients": 0},
        {"url": "http://h", "duration": 0},
        {"url": "http://h", "post_ratio": 1.5},
        {"url": "http://h", "max_requests": 0},
        {"url": "http://h", "path": "nope"},
    ):
        with pytest.raises(ValueError):
            lg.Config(**bad).checked()


def test_target_keeps_url_base_path() -> None:
    target = lg.Target.from_url("http://example.test:8080/app/")
    assert (target.host, target.port, target.request_path("/echo")) == (
        "example.test",
        8080,
        "/app/echo",
    )
    assert lg.Target.from_url("https://example.test").port == 443


def test_summarize_synthetic_records() -> None:
    records = [
        record(0.0, 0.010, 200, host="a", replica="1", version="1"),
        record(0.5, 0.020, 200, host="b", replica="2", version="2", method="POST"),
        record(1.0, 0.030, 502, message="Bad Gateway"),
        record(1.5, 0.040, 0, error="ConnectionRefusedError", method="POST"),
        record(3.0, 0.050, 200, host="a", replica="1", version="1"),
    ]
    summary = lg.summarize(records, 4.0, "duration", failure_samples=1)
    assert (summary.total, summary.ok, summary.non_2xx) == (5, 3, 1)
    assert (summary.transport_errors, summary.failed) == (1, 2)
    assert summary.by_status == {"0": 1, "200": 3, "502": 1}
    assert summary.by_method == {
        "GET": {"total": 3, "ok": 2, "failed": 1},
        "POST": {"total": 2, "ok": 1, "failed": 1},
    }
    assert summary.latency_ms == {"p50": 30.0, "p90": 50.0, "p99": 50.0, "max": 50.0}
    assert summary.max_gap_s == pytest.approx(2.53)  # 0.52 -> 3.05
    assert summary.requests_per_second == 1.25
    assert summary.backends == [
        {"host": "a", "replica": "1", "count": 2},
        {"host": "b", "replica": "2", "count": 1},
    ]
    assert summary.versions == {"1": 2, "2": 1}
    assert len(summary.first_failures) == 1
    assert summary.first_failures[0]["status"] == 502
    assert not summary.passed
    assert json.loads(json.dumps(summary.to_dict()))["stop_reason"] == "duration"
    assert "RESULT: FAIL" in lg.format_summary(summary)


def test_empty_run_is_not_a_pass() -> None:
    summary = lg.summarize([], 1.0, "stop-file")
    assert summary.total == 0 and summary.max_gap_s == 1.0
    assert not summary.passed
    assert lg.exit_code(summary) == 1
    assert lg.exit_code(summary, allow_failures=True) == 0


# --------------------------------------------------------------------------
# Against a live local server
# --------------------------------------------------------------------------


def test_counts_with_502s(backend: Backend) -> None:
    backend.fail_every = 5
    summary = lg.run_load(config(backend.url, max_requests=40, post_ratio=0.25))
    assert summary.stop_reason == "max-requests"
    assert (summary.total, summary.ok, summary.non_2xx) == (40, 32, 8)
    assert summary.transport_errors == 0
    assert summary.by_status == {"200": 32, "502": 8}
    assert summary.by_method["POST"]["total"] == 10
    assert summary.by_method["GET"]["total"] == 30
    assert summary.versions == {"1.0": 32}
    assert {(b["host"], b["replica"]) for b in summary.backends} == {
        ("web", "1"),
        ("web", "2"),
    }
    assert sum(b["count"] for b in summary.backends) == 32
    assert len(summary.first_failures) == 8
    assert "Bad Gateway" in summary.first_failures[0]["message"]
    assert backend.count == 40


def test_every_request_uses_a_new_connection_and_posts_json(backend: Backend) -> None:
    summary = lg.run_load(config(backend.url, max_requests=20, post_ratio=0.5))
    assert summary.ok == 20
    assert len(set(backend.client_ports)) == 20
    assert len(backend.post_bodies) == 10
    assert {"index", "client"} <= json.loads(backend.post_bodies[0]).keys()


def test_dropped_connections_are_transport_errors(backend: Backend) -> None:
    backend.close_every = 2
    summary = lg.run_load(config(backend.url, max_requests=20, post_ratio=0.0))
    assert (summary.total, summary.ok, summary.transport_errors) == (20, 10, 10)
    assert summary.by_status == {"0": 10, "200": 10}
    errors = {f["error"] for f in summary.first_failures}
    assert errors <= {"RemoteDisconnected", "ConnectionResetError", "BadStatusLine"}
    assert all(f["status"] == 0 for f in summary.first_failures)


def test_refused_connections_make_one_big_gap() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    summary = lg.run_load(config(f"http://127.0.0.1:{port}", clients=2, duration=0.3))
    assert summary.total > 0 and summary.ok == 0
    assert summary.transport_errors == summary.total
    assert summary.first_failures[0]["error"] == "ConnectionRefusedError"
    assert summary.max_gap_s == summary.duration_s


def test_stops_by_duration(backend: Backend) -> None:
    started = time.monotonic()
    summary = lg.run_load(config(backend.url, duration=0.3))
    assert time.monotonic() - started < 1.5
    assert summary.stop_reason == "duration"
    assert 0.3 <= summary.duration_s < 1.5
    assert summary.ok > 0 and summary.passed
    assert summary.max_gap_s < 0.3


def test_hanging_server_still_stops_within_bound(backend: Backend) -> None:
    backend.delay = 3.0
    started = time.monotonic()
    summary = lg.run_load(config(backend.url, clients=2, duration=0.4, timeout=0.3))
    elapsed = time.monotonic() - started
    assert elapsed < 0.4 + 0.3 + lg.JOIN_GRACE
    assert summary.stop_reason == "duration"
    assert summary.total >= 2 and summary.ok == 0
    assert {f["error"] for f in summary.first_failures} == {"TimeoutError"}


def test_stop_file(backend: Backend, tmp_path: Path) -> None:
    stop_file = tmp_path / "stop"
    runner = lg.LoadRunner(config(backend.url, stop_file=str(stop_file)))
    runner.start()
    time.sleep(0.2)
    stop_file.touch()
    assert runner.wait(timeout=2.0)
    summary = runner.summary()
    assert summary.stop_reason == "stop-file"
    assert summary.duration_s < 1.0
    assert summary.ok > 0 and summary.passed


def test_stop_file_present_at_start(backend: Backend, tmp_path: Path) -> None:
    stop_file = tmp_path / "stop"
    stop_file.touch()
    summary = lg.run_load(config(backend.url, stop_file=str(stop_file)))
    assert summary.stop_reason == "stop-file"
    assert summary.total == 0 and not summary.passed


def test_runner_context_manager_and_live_summary(backend: Backend) -> None:
    with lg.LoadRunner(config(backend.url, clients=2)) as runner:
        time.sleep(0.2)
        assert runner.running
        assert runner.summary().total > 0
    assert not runner.running
    assert runner.stop_reason == "stopped"
    assert runner.summary().passed


def test_max_gap_measures_an_outage(backend: Backend) -> None:
    runner = lg.LoadRunner(config(backend.url, clients=4))
    runner.start()
    time.sleep(0.2)
    backend.fail_all = True
    time.sleep(0.4)
    backend.fail_all = False
    time.sleep(0.2)
    summary = runner.stop()
    assert summary.non_2xx > 0 and summary.ok > 0
    assert 0.35 <= summary.max_gap_s < 0.8


# --------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------


def cli_args(url: str, *extra: str) -> list[str]:
    return ["--url", url, "--clients", "2", "--duration", "5", *extra]


def test_cli_writes_results(backend: Backend, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sub" / "results.json"
    code = lg.main(cli_args(backend.url, "--max-requests", "10", "--out", str(out)))
    assert code == 0
    document = json.loads(out.read_text())
    assert set(document) == {"config", "summary", "failures"}
    assert document["config"]["max_requests"] == 10
    assert document["summary"]["total"] == 10
    assert document["failures"] == []
    assert "RESULT: PASS" in capsys.readouterr().out


def test_cli_exit_codes_with_failures(
    backend: Backend, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    backend.fail_every = 2
    out = tmp_path / "results.json"
    args = cli_args(backend.url, "--max-requests", "10", "--out", str(out))
    assert lg.main(args) == 1
    assert len(json.loads(out.read_text())["failures"]) == 5
    assert lg.main([*args, "--allow-failures"]) == 0
    assert "RESULT: FAIL" in capsys.readouterr().out


def test_cli_rejects_bad_arguments_and_warns_on_caps(
    backend: Backend, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as excinfo:
        lg.main(cli_args(backend.url, "--post-ratio", "2"))
    assert excinfo.value.code == 2
    with pytest.raises(SystemExit):
        lg.main(["--url", backend.url])  # --duration is required
    args = ["--url", backend.url, "--clients", "999", "--duration", "5"]
    assert lg.main([*args, "--max-requests", "1"]) == 0
    assert "clients capped at 256" in capsys.readouterr().err


def test_cli_sigterm_is_graceful(backend: Backend, tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    command = [
        sys.executable,
        str(LOADGEN_PATH),
        *cli_args(backend.url, "--out", str(out)),
    ]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 5.0
        while backend.count < 5 and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.send_signal(signal.SIGTERM)
        stdout, _stderr = proc.communicate(timeout=5.0)
    finally:
        proc.kill()
    assert proc.returncode == 0, stdout
    summary = json.loads(out.read_text())["summary"]
    assert summary["stop_reason"] == "signal"
    assert summary["total"] > 0 and summary["failed"] == 0
    assert "stop=signal" in stdout


def test_think_time_paces_each_client() -> None:
    from tests.lib.loadgen import Config

    assert Config(url="http://127.0.0.1:1", think=0.05).checked().think == 0.05
    with pytest.raises(ValueError, match="think"):
        Config(url="http://127.0.0.1:1", think=11).checked()


# --------------------------------------------------------------------------
# Keep-alive clients, by_mode and timeline
# --------------------------------------------------------------------------


class KeepAliveBackend(ThreadingHTTPServer):
    """HTTP/1.1 JSON backend that counts connections; can end them after n requests."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), KeepAliveHandler)
        self.lock = threading.Lock()
        self.connections = 0
        self.requests = 0
        self.client_ports: set[int] = set()
        self.connection_headers: list[str] = []  # the Connection header of each request
        self.close_after = 0  # answer the n-th request of a connection with Connection: close
        self.drop_after = 0  # silently close a connection after its n-th answer
        self.version = "1.0"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def count_connection(self, port: int) -> None:
        with self.lock:
            self.connections += 1
            self.client_ports.add(port)

    def count_request(self, connection_header: str) -> str:
        """Count the request; return the version to answer."""
        with self.lock:
            self.requests += 1
            self.connection_headers.append(connection_header)
            return self.version


class KeepAliveHandler(BaseHTTPRequestHandler):
    server: KeepAliveBackend
    protocol_version = "HTTP/1.1"
    timeout = 5.0  # an idle kept-alive connection does not hold its thread forever
    disable_nagle_algorithm = True  # headers and body go out in two writes: no delayed-ACK stalls

    def setup(self) -> None:
        super().setup()
        self.served = 0
        self.server.count_connection(self.client_address[1])

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self._answer()

    def _answer(self) -> None:
        self.served += 1
        version = self.server.count_request(self.headers.get("Connection", "").lower())
        payload = json.dumps({"host": "ka", "replica": 1, "version": version}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        if self.server.close_after and self.served >= self.server.close_after:
            self.send_header("Connection", "close")  # also sets self.close_connection
        self.end_headers()
        self.wfile.write(payload)
        if self.server.drop_after and self.served >= self.server.drop_after:
            self.close_connection = True  # close without telling the client

    def log_message(self, format: str, *args: object) -> None:
        """Keep test output quiet."""


@pytest.fixture
def ka_backend() -> Iterator[KeepAliveBackend]:
    server = KeepAliveBackend()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def run_with_records(cfg: object) -> tuple[object, list[object]]:
    runner = lg.LoadRunner(cfg)
    summary = lg.execute(runner)
    return summary, runner.records()


DROPPED_ERRORS = {"RemoteDisconnected", "ConnectionResetError", "BrokenPipeError", "BadStatusLine"}


def test_keepalive_config() -> None:
    assert lg.Config(url="http://h").keepalive_ratio == 0.5
    assert lg.Config(url="http://h", clients=16, keepalive_ratio=0.25).keepalive_clients == 4
    assert lg.Config(url="http://h", clients=3, keepalive_ratio=1.0).keepalive_clients == 3
    assert lg.Config(url="http://h", clients=3, keepalive_ratio=0.0).keepalive_clients == 0
    assert lg.Config(url="http://h", clients=999, keepalive_ratio=1.0).checked().keepalive_clients == 256
    for bad in (-0.1, 1.01):
        with pytest.raises(ValueError, match="keepalive_ratio"):
            lg.Config(url="http://h", keepalive_ratio=bad).checked()


def test_keepalive_clients_reuse_their_connection(ka_backend: KeepAliveBackend) -> None:
    summary, records = run_with_records(
        config(ka_backend.url, clients=2, keepalive_ratio=1.0, max_requests=40, post_ratio=0.25)
    )
    assert (summary.total, summary.ok, summary.failed) == (40, 40, 0)
    assert ka_backend.requests == 40
    assert 1 <= ka_backend.connections <= 2  # one per client that got to send
    assert len(ka_backend.client_ports) == ka_backend.connections
    assert set(ka_backend.connection_headers) == {""}  # no Connection: close
    assert summary.by_mode == {
        "new": {"total": ka_backend.connections, "ok": ka_backend.connections, "failed": 0},
        "keepalive": {"total": 40 - ka_backend.connections, "ok": 40 - ka_backend.connections, "failed": 0},
    }
    for client in {r.client for r in records}:
        flags = [r.keepalive for r in records if r.client == client]
        assert flags == [False] + [True] * (len(flags) - 1)  # only the first opens the connection
    assert summary.by_method["POST"]["total"] == 10


def test_new_connection_clients_open_one_connection_per_request(ka_backend: KeepAliveBackend) -> None:
    summary = lg.run_load(config(ka_backend.url, keepalive_ratio=0.0, max_requests=20))
    assert (summary.total, summary.ok) == (20, 20)
    assert ka_backend.connections == 20
    assert ka_backend.connection_headers == ["close"] * 20
    assert summary.by_mode == {
        "keepalive": {"total": 0, "ok": 0, "failed": 0},
        "new": {"total": 20, "ok": 20, "failed": 0},
    }


def test_keepalive_ratio_splits_the_clients(ka_backend: KeepAliveBackend) -> None:
    summary, records = run_with_records(
        config(ka_backend.url, clients=4, keepalive_ratio=0.5, max_requests=60)
    )
    assert summary.ok == 60
    keepalive_clients = [r for r in records if r.client < 2]
    new_clients = [r for r in records if r.client >= 2]
    assert not any(r.keepalive for r in new_clients)
    for client in (0, 1):
        assert sum(1 for r in keepalive_clients if r.client == client and not r.keepalive) <= 1
    # every request not sent over a reused connection opened exactly one connection
    assert ka_backend.connections == sum(1 for r in records if not r.keepalive)
    assert summary.by_mode["new"]["total"] == ka_backend.connections
    assert ka_backend.connection_headers.count("close") == len(new_clients)
    assert ka_backend.connection_headers.count("") == len(keepalive_clients)


def test_connection_close_answer_makes_the_client_reconnect(ka_backend: KeepAliveBackend) -> None:
    ka_backend.close_after = 3
    summary, records = run_with_records(
        config(ka_backend.url, clients=1, keepalive_ratio=1.0, max_requests=7)
    )
    assert (summary.total, summary.ok, summary.failed) == (7, 7, 0)
    assert [r.keepalive for r in records] == [False, True, True, False, True, True, False]
    assert ka_backend.connections == 3
    assert summary.by_mode == {
        "keepalive": {"total": 4, "ok": 4, "failed": 0},
        "new": {"total": 3, "ok": 3, "failed": 0},
    }


def test_dropped_keepalive_connection_fails_once_then_reconnects(ka_backend: KeepAliveBackend) -> None:
    ka_backend.drop_after = 3  # the server closes each connection after its 3rd answer, unannounced
    summary, records = run_with_records(
        config(ka_backend.url, clients=1, keepalive_ratio=1.0, max_requests=7)
    )
    assert (summary.total, summary.ok, summary.failed) == (7, 6, 1)
    assert [r.keepalive for r in records] == [False, True, True, True, False, True, True]
    failed = records[3]
    assert failed.status == 0 and failed.keepalive and failed.error in DROPPED_ERRORS
    assert records[4].ok and not records[4].keepalive  # the next request: new connection, success
    assert ka_backend.connections == 2 and ka_backend.requests == 6  # no silent retry
    # Each request names when its connection was opened: the first four one, the last three another.
    opened = [r.connection_opened for r in records]
    assert len(set(opened[:4])) == 1 and len(set(opened[4:])) == 1
    for first in (records[0], records[4]):  # opened by the request itself, before it was answered
        assert first.start <= first.connection_opened <= first.end
    assert opened[4] > opened[0]
    assert summary.by_mode == {
        "keepalive": {"total": 5, "ok": 4, "failed": 1},
        "new": {"total": 2, "ok": 2, "failed": 0},
    }
    assert summary.first_failures[0]["keepalive"] is True
    assert summary.transport_errors == 1 and not summary.passed


def test_partly_read_answer_closes_the_connection(
    ka_backend: KeepAliveBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lg, "MAX_BODY", 8)  # every body is longer: never read to its end
    summary = lg.run_load(config(ka_backend.url, clients=1, keepalive_ratio=1.0, max_requests=5))
    assert (summary.total, summary.ok) == (5, 5)
    assert ka_backend.connections == 5
    assert summary.by_mode["keepalive"]["total"] == 0


def test_http10_answers_end_keepalive_connections(backend: Backend) -> None:
    summary = lg.run_load(config(backend.url, clients=2, keepalive_ratio=1.0, max_requests=10))
    assert (summary.total, summary.ok) == (10, 10)
    assert len(set(backend.client_ports)) == 10
    assert summary.by_mode["new"] == {"total": 10, "ok": 10, "failed": 0}


def test_timeline_and_by_mode_from_synthetic_records() -> None:
    records = [
        record(0.0, 0.2, 200, version="1"),  # ends 0.2 -> second 0
        record(0.9, 0.3, 200, version="2", keepalive=True),  # ends 1.2 -> second 1
        record(1.0, 0.5, 502, version="2", keepalive=True),  # a failure: its version is not counted
        record(3.5, 0.1, 0, error="RemoteDisconnected", keepalive=True),  # ends 3.6 -> second 3
    ]
    summary = lg.summarize(records, 4.0, "duration")
    assert summary.timeline == [
        {"second": 0, "ok": 1, "failed": 0, "p99_ms": 200.0, "versions": {"1": 1}},
        {"second": 1, "ok": 1, "failed": 1, "p99_ms": 500.0, "versions": {"2": 1}},
        {"second": 2, "ok": 0, "failed": 0, "p99_ms": 0.0, "versions": {}},
        {"second": 3, "ok": 0, "failed": 1, "p99_ms": 100.0, "versions": {}},
    ]
    assert summary.by_mode == {
        "keepalive": {"total": 3, "ok": 1, "failed": 2},
        "new": {"total": 1, "ok": 1, "failed": 0},
    }
    assert summary.first_failures[0]["keepalive"] is True
    document = json.loads(json.dumps(summary.to_dict()))
    assert document["timeline"] == summary.timeline and document["by_mode"] == summary.by_mode
    assert "connections: keepalive 1/3 ok, new 1/1 ok" in lg.format_summary(summary)
    assert len(lg.summarize(records, 2.0).timeline) == 4  # a request ending late extends it
    assert len(lg.summarize(records[:1], 0.05).timeline) == 1
    assert lg.summarize([], 0.0).timeline == []
    assert lg.summarize([], 2.5).timeline == [
        {"second": n, "ok": 0, "failed": 0, "p99_ms": 0.0, "versions": {}} for n in range(3)
    ]


def test_timeline_buckets_sum_to_total_and_count_versions(ka_backend: KeepAliveBackend) -> None:
    runner = lg.LoadRunner(config(ka_backend.url, clients=4, duration=1.3, think=0.005))
    runner.start()
    time.sleep(0.5)
    with ka_backend.lock:
        ka_backend.version = "2.0"
    assert runner.wait(timeout=5.0)
    summary = runner.summary()
    assert summary.stop_reason == "duration" and summary.passed
    timeline = summary.timeline
    assert len(timeline) >= 2  # 1.3 s and a bit: seconds 0 and 1
    assert [entry["second"] for entry in timeline] == list(range(len(timeline)))
    assert sum(entry["ok"] + entry["failed"] for entry in timeline) == summary.total
    assert sum(entry["ok"] for entry in timeline) == summary.ok
    versions: dict[str, int] = {}
    for entry in timeline:
        for version, count in entry["versions"].items():
            versions[version] = versions.get(version, 0) + count
    assert versions == summary.versions and set(versions) == {"1.0", "2.0"}
    assert timeline[0]["versions"]["1.0"] > 0 and timeline[1]["versions"]["2.0"] > 0
    busy = [entry for entry in timeline if entry["ok"] or entry["failed"]]
    assert all(0.0 < entry["p99_ms"] <= summary.latency_ms["max"] for entry in busy)
    assert summary.by_mode["keepalive"]["total"] > 0 and summary.by_mode["new"]["total"] > 0


def test_cli_keepalive_ratio(
    ka_backend: KeepAliveBackend, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "results.json"
    args = cli_args(ka_backend.url, "--max-requests", "10", "--keepalive-ratio", "1", "--out", str(out))
    assert lg.main(args) == 0
    document = json.loads(out.read_text())
    assert document["config"]["keepalive_ratio"] == 1.0
    assert document["summary"]["by_mode"]["keepalive"]["total"] == 10 - ka_backend.connections
    assert sum(entry["ok"] for entry in document["summary"]["timeline"]) == 10
    assert "connections: keepalive" in capsys.readouterr().out
    with pytest.raises(SystemExit) as excinfo:
        lg.main(cli_args(ka_backend.url, "--keepalive-ratio", "1.5"))
    assert excinfo.value.code == 2


# --------------------------------------------------------------------------
# The GET retry policy (a client or proxy that retries idempotent requests)
# --------------------------------------------------------------------------


def test_a_dropped_get_is_sent_again_and_counts_once(ka_backend: KeepAliveBackend) -> None:
    ka_backend.drop_after = 3
    cfg = config(
        ka_backend.url, clients=1, keepalive_ratio=1.0, max_requests=7, post_ratio=0.0, get_retry_for=2.0
    )
    summary, records = run_with_records(cfg)
    assert (summary.total, summary.ok, summary.failed) == (7, 7, 0)
    retried = records[3]
    assert retried.attempts == 2 and retried.keepalive  # its first try went over the dropped connection
    assert retried.first_error.split(":")[0] in DROPPED_ERRORS
    assert retried.connection_opened == records[0].connection_opened  # the first try's connection
    assert [r.attempts for r in records if r is not retried] == [1] * 6
    assert summary.retried == {"GET": 1}
    assert ka_backend.requests == 7  # the retry reached the server once


def test_posts_are_never_retried(ka_backend: KeepAliveBackend) -> None:
    ka_backend.drop_after = 3
    cfg = config(
        ka_backend.url, clients=1, keepalive_ratio=1.0, max_requests=7, post_ratio=1.0, get_retry_for=2.0
    )
    summary, records = run_with_records(cfg)
    assert (summary.total, summary.failed) == (7, 1)
    assert all(r.attempts == 1 for r in records) and summary.retried == {}


def test_a_get_without_an_answer_is_retried_after_its_try_timeout(backend: Backend) -> None:
    backend.delay = 0.6  # every answer comes after 0.6 s; each try waits 0.2 s
    cfg = config(backend.url, clients=1, max_requests=1, get_retry_for=1.0, get_try_timeout=0.2)
    summary, records = run_with_records(cfg)
    (only,) = records
    assert only.status == 0 and only.error in {"TimeoutError", "timeout"}
    assert only.attempts >= 4 and "timed out" in only.first_error
    # Tries stop once get_retry_for has passed: at most one try (0.2 s) and one pause after it.
    assert 1.0 <= only.latency <= 1.0 + 0.2 + lg.RETRY_PAUSE + 0.3
    assert summary.failed == 1 and summary.retried == {"GET": 1}


def test_refused_gets_are_retried_until_the_server_comes(backend: Backend) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    started: list[Backend] = []

    def start_on(number: int) -> None:
        server = Backend(number)
        started.append(server)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    late = threading.Timer(0.5, lambda: start_on(port))
    late.start()
    try:
        cfg = config(f"http://127.0.0.1:{port}", clients=1, max_requests=1, get_retry_for=3.0)
        summary, records = run_with_records(cfg)
    finally:
        late.join()
        for server in started:
            server.shutdown()
            server.server_close()
    (only,) = records
    assert only.ok and only.attempts > 2 and only.first_error.startswith("ConnectionRefusedError")
    assert 0.5 <= only.latency < 1.5 and summary.max_gap_s >= 0.5


def test_retry_policy_config_and_cli() -> None:
    assert lg.Config(url="http://x").checked().get_try_timeout == 5.0
    assert lg.Config(url="http://x", get_try_timeout=0.5).checked().get_try_timeout == 0.5
    with pytest.raises(ValueError, match="get_retry_for"):
        lg.Config(url="http://x", get_retry_for=-1).checked()
    with pytest.raises(ValueError, match="get_try_timeout"):
        lg.Config(url="http://x", get_try_timeout=0).checked()
    args = lg.build_parser().parse_args(
        cli_args("http://x", "--get-retry-for", "4.5", "--get-try-timeout", "0.5")
    )
    cfg = lg.config_from_args(args)
    assert (cfg.get_retry_for, cfg.get_try_timeout) == (4.5, 0.5)
