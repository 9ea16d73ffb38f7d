#!/usr/bin/env python
"""Load generator for zero-downtime tests of an HTTP service.

Standard library only (Python 3.11+), so the file can be copied alone into a
container that has nothing but ``python3``.

Each of ``--clients`` threads loops, sending a GET of ``--path`` or, for an
evenly spread share ``--post-ratio`` of the requests, a JSON POST to
``--post-path``.  The first ``round(clients * --keepalive-ratio)`` clients are
keep-alive clients: each keeps ONE persistent HTTP/1.1 connection and reuses it
for all its requests, opening a new one only after a transport error, a
``Connection: close`` answer or a body that could not be read to its end.  A
request that fails on a reused connection counts as failed: it is never
retried.  The other clients send one request per NEW connection
(``Connection: close``).  With ``--get-retry-for S`` (off by default) GETs
follow the retry policy of an HTTP client or proxy in front of the service
(RFC 9110 9.2.2 lets a client retry an idempotent request; Envoy's
``retry_on: connect-failure,reset`` with a ``per_try_timeout``): a GET without
an answer (refused, reset, or no answer within ``--get-try-timeout``) is sent
again on a new connection, until S seconds after its first try; it counts as
one request whose latency runs from its first try, ``attempts`` records the
tries.  A POST is never retried.  Each record tells whether its connection was reused
(``keepalive``); the summary splits the counts by that (``by_mode``) and per
second of the run by completion time (``timeline``).  The run
stops at the first of: ``--duration`` elapsed, ``--stop-file`` exists,
``--max-requests`` sent, SIGTERM/SIGINT, or ``LoadRunner.stop()``.  In-flight
requests are then allowed to finish (each is bounded by ``--timeout``) and the
results are summarised.

The total run time is bounded by ``duration + timeout + JOIN_GRACE`` (plus
one poll interval); ``duration`` is capped at 1800 s, ``clients`` at 256 and
``timeout`` at 60 s.

CLI::

    python3 loadgen.py --url http://127.0.0.1:8080 --clients 16 --duration 60 \
        [--post-ratio 0.25] [--timeout 5] [--stop-file PATH] [--out results.json] \
        [--max-requests N] [--path /] [--post-path /echo] [--think 0] \
        [--keepalive-ratio 0.5] [--get-retry-for 0] [--get-try-timeout 1] \
        [--allow-failures]

Exit status: 0 when every request got a 2xx answer (and at least one was
sent), 1 otherwise, 0 anyway with ``--allow-failures``; 2 on bad arguments.

Library::

    runner = LoadRunner(Config(url="http://127.0.0.1:8080", clients=8, duration=300))
    runner.start()
    ...  # run the Ansible play
    summary = runner.stop()
    assert summary.failed == 0, summary.first_failures

or ``summary = run_load(config)`` to run in the foreground.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.client
import itertools
import json
import math
import os
import signal
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from types import FrameType
from typing import Self

MAX_DURATION = 1800.0
MAX_CLIENTS = 256
MAX_TIMEOUT = 60.0
JOIN_GRACE = 1.0
POLL_INTERVAL = 0.05
FAILURE_SAMPLES = 10
MAX_FAILURES_OUT = 1000
MAX_BODY = 1 << 20
MESSAGE_LIMIT = 200
RETRY_PAUSE = 0.05  # between tries of a GET under the retry policy (a client's backoff)
IDENTITY_KEYS = ("host", "replica", "version")
USER_AGENT = "zero-downtime-loadgen/1"

Identity = tuple[str | None, str | None, str | None]
NO_IDENTITY: Identity = (None, None, None)


# --------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """Where requests go: scheme, host, port and a base path prefix."""

    scheme: str
    host: str
    port: int
    base_path: str

    @classmethod
    def from_url(cls, url: str) -> Target:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise ValueError(f"url must be http:// or https://, got {url!r}")
        if not parts.hostname:
            raise ValueError(f"url has no host: {url!r}")
        default_port = 443 if parts.scheme == "https" else 80
        return cls(
            parts.scheme,
            parts.hostname,
            parts.port or default_port,
            parts.path.rstrip("/"),
        )

    def connection(self, timeout: float) -> http.client.HTTPConnection:
        if self.scheme == "https":
            return http.client.HTTPSConnection(self.host, self.port, timeout=timeout)
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def request_path(self, path: str) -> str:
        return self.base_path + path


@dataclass(frozen=True)
class Config:
    """Parameters of one load run; ``checked()`` validates and applies the caps."""

    url: str
    clients: int = 16
    duration: float = 60.0
    post_ratio: float = 0.25
    timeout: float = 5.0
    stop_file: str | None = None
    max_requests: int | None = None
    path: str = "/"
    post_path: str = "/echo"
    think: float = 0.0  # seconds each client pauses between its requests (a user's think time)
    keepalive_ratio: float = 0.5  # share of clients that reuse one persistent connection
    # GETs without an answer are sent again on a new connection until this
    # many seconds after their first try (0: never; POSTs never are).
    get_retry_for: float = 0.0
    get_try_timeout: float | None = None  # timeout of each try of a GET (default: timeout)

    def checked(self) -> Config:
        """Return a copy with hard caps applied; raise ValueError if invalid."""
        Target.from_url(self.url)
        _require(self.clients >= 1, "clients must be >= 1")
        _require(self.duration > 0, "duration must be > 0")
        _require(0.0 <= self.post_ratio <= 1.0, "post_ratio must be within [0, 1]")
        _require(self.timeout > 0, "timeout must be > 0")
        _require(
            self.max_requests is None or self.max_requests >= 1,
            "max_requests must be >= 1",
        )
        _require(self.path.startswith("/"), "path must start with '/'")
        _require(self.post_path.startswith("/"), "post_path must start with '/'")
        _require(0.0 <= self.think <= 10.0, "think must be within [0, 10] seconds")
        _require(0.0 <= self.keepalive_ratio <= 1.0, "keepalive_ratio must be within [0, 1]")
        _require(0.0 <= self.get_retry_for <= MAX_TIMEOUT, "get_retry_for must be within [0, 60] seconds")
        _require(self.get_try_timeout is None or self.get_try_timeout > 0, "get_try_timeout must be > 0")
        return replace(
            self,
            clients=min(self.clients, MAX_CLIENTS),
            duration=min(self.duration, MAX_DURATION),
            timeout=min(self.timeout, MAX_TIMEOUT),
            get_try_timeout=min(self.get_try_timeout or self.timeout, MAX_TIMEOUT),
        )

    @property
    def keepalive_clients(self) -> int:
        """How many clients (indexes 0 .. n-1) keep a persistent connection."""
        return round(self.clients * self.keepalive_ratio)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


# --------------------------------------------------------------------------
# Records and pure helpers
# --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One request. Times are seconds; ``start`` is relative to the run start."""

    index: int
    client: int
    method: str
    path: str
    start: float
    latency: float
    status: int  # 0 = transport error
    error: str = ""  # exception class name for transport errors
    message: str = ""  # exception text, or reason + body excerpt for non-2xx
    host: str | None = None
    replica: str | None = None
    version: str | None = None
    keepalive: bool = False  # sent over a connection that had already carried a request
    # When the connection that carried it was opened (seconds since the run
    # start; ``start`` for a new connection): tells which server a kept-alive
    # request went to when the address moved in between.
    connection_opened: float | None = None
    attempts: int = 1  # tries of a GET under the retry policy (latency runs from the first)
    first_error: str = ""  # why the first try of a retried GET failed

    @property
    def end(self) -> float:
        return self.start + self.latency

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["start"] = round(self.start, 6)
        data["latency_ms"] = round(self.latency * 1000.0, 3)
        del data["latency"]
        return data


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in [0, 100]) of ``values``; 0.0 when empty."""
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"percentile must be within [0, 100], got {q}")
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[rank - 1]


def max_gap(times: Sequence[float], start: float, end: float) -> float:
    """Longest interval without an event in [start, end], edges included.

    ``times`` are event times (e.g. completions of successful responses), in
    any order; with no events the whole window is one gap.
    """
    points = [start, *sorted(min(max(t, start), end) for t in times), end]
    return max(later - earlier for earlier, later in itertools.pairwise(points))


@functools.lru_cache(maxsize=64)
def _ratio_fraction(ratio: float) -> Fraction:
    return Fraction(ratio).limit_denominator(1000)


def is_post(index: int, ratio: float) -> bool:
    """Whether request number ``index`` (0-based, across all clients) is a POST.

    POSTs are spread evenly: of the first n requests, floor(n * ratio) are
    POSTs (ratio 0.25 -> indexes 3, 7, 11, ...).
    """
    frac = _ratio_fraction(ratio)
    posts_after = (index + 1) * frac.numerator // frac.denominator
    posts_before = index * frac.numerator // frac.denominator
    return posts_after > posts_before


def parse_identity(body: bytes) -> Identity:
    """(host, replica, version) from a JSON object body; None where absent."""
    if not body.lstrip().startswith(b"{"):
        return NO_IDENTITY
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        return NO_IDENTITY
    if not isinstance(doc, dict):
        return NO_IDENTITY
    host, replica, version = (_as_text(doc.get(key)) for key in IDENTITY_KEYS)
    return host, replica, version


def _as_text(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value)


# --------------------------------------------------------------------------
# One request
# --------------------------------------------------------------------------


def request_headers(body: bytes | None, *, keep_alive: bool = False) -> dict[str, str]:
    """Headers of one request; ``Connection: close`` unless ``keep_alive``."""
    headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
    if not keep_alive:
        headers["Connection"] = "close"
    if body is not None:
        headers["Content-Type"] = "application/json"
    return headers


def send_request(
    target: Target, method: str, path: str, body: bytes | None, timeout: float
) -> tuple[int, str, bytes]:
    """Send one request on a fresh connection; return (status, reason, body)."""
    conn = target.connection(timeout)
    try:
        conn.request(method, target.request_path(path), body=body, headers=request_headers(body))
        response = conn.getresponse()
        return response.status, response.reason, response.read(MAX_BODY)
    finally:
        conn.close()


class PersistentConnection:
    """One client's keep-alive HTTP/1.1 connection, reused request after request.

    It is closed, and the next request opens a new one, after any exception
    (the exception propagates: the request is not retried), an answer that
    ends the connection (``Connection: close``, HTTP/1.0) or a body that was
    not read to its end (larger than ``MAX_BODY``, or cut short).
    Not thread-safe: one per client thread.
    """

    def __init__(self, target: Target, timeout: float) -> None:
        self._target = target
        self._timeout = timeout
        self._conn: http.client.HTTPConnection | None = None
        self.opened = 0.0  # time.monotonic() when the connection in use was opened

    @property
    def reused(self) -> bool:
        """Whether the next request goes over a connection that already carried one."""
        return self._conn is not None

    def send(
        self, method: str, path: str, body: bytes | None, timeout: float | None = None
    ) -> tuple[int, str, bytes]:
        """Send one request (``timeout``: this request's, default the connection's);
        return (status, reason, body)."""
        if self._conn is None:
            self.opened = time.monotonic()
        conn = self._conn or self._target.connection(self._timeout)
        self._conn = None  # kept again only after a complete answer that leaves it open
        conn.timeout = self._timeout if timeout is None else timeout
        if conn.sock is not None:
            conn.sock.settimeout(conn.timeout)
        keep = False
        try:
            headers = request_headers(body, keep_alive=True)
            conn.request(method, self._target.request_path(path), body=body, headers=headers)
            response = conn.getresponse()
            data = response.read(MAX_BODY)
            keep = not response.will_close and _fully_read(response)
            return response.status, response.reason, data
        finally:
            if keep:
                self._conn = conn
            else:
                conn.close()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _fully_read(response: http.client.HTTPResponse) -> bool:
    """Whether the whole body was read, leaving the connection ready for the next request."""
    return response.isclosed() and not response.length


def perform_request(
    target: Target,
    method: str,
    path: str,
    body: bytes | None,
    timeout: float,
    *,
    index: int,
    client: int,
    origin: float,
    connection: PersistentConnection | None = None,
) -> RequestRecord:
    """Send one request and record its outcome; never raises.

    With ``connection`` the request goes over that persistent connection,
    otherwise over a new one closed right after.
    """
    reused = connection is not None and connection.reused
    started = time.monotonic()
    try:
        if connection is None:
            status, reason, data = send_request(target, method, path, body, timeout)
        else:
            status, reason, data = connection.send(method, path, body, timeout)
    except Exception as exc:
        latency = time.monotonic() - started
        return RequestRecord(
            index,
            client,
            method,
            path,
            started - origin,
            latency,
            status=0,
            error=type(exc).__name__,
            message=(str(exc) or repr(exc))[:MESSAGE_LIMIT],
            keepalive=reused,
            connection_opened=_opened(connection, started) - origin,
        )
    latency = time.monotonic() - started
    host, replica, version = parse_identity(data)
    message = "" if 200 <= status < 300 else _status_message(reason, data)
    return RequestRecord(
        index,
        client,
        method,
        path,
        started - origin,
        latency,
        status=status,
        message=message,
        host=host,
        replica=replica,
        version=version,
        keepalive=reused,
        connection_opened=_opened(connection, started) - origin,
    )


def perform_get(
    target: Target,
    path: str,
    config: Config,
    *,
    index: int,
    client: int,
    origin: float,
    connection: PersistentConnection | None = None,
) -> RequestRecord:
    """A GET under the configured retry policy: a try without an answer
    (transport error or no answer within ``get_try_timeout``) is sent again on
    a new connection until ``get_retry_for`` seconds after the first try; an
    answer, even an error status, ends it. One record for all the tries."""
    timeout = config.get_try_timeout or config.timeout
    first = perform_request(
        target, "GET", path, None, timeout, index=index, client=client, origin=origin, connection=connection
    )
    last, attempts = first, 1
    while last.status == 0 and time.monotonic() - origin - first.start < config.get_retry_for:
        attempts += 1
        time.sleep(RETRY_PAUSE)
        last = perform_request(target, "GET", path, None, timeout, index=index, client=client, origin=origin)
    if attempts == 1:
        return first
    return replace(
        last,
        start=first.start,
        latency=last.end - first.start,
        keepalive=first.keepalive,
        connection_opened=first.connection_opened,
        attempts=attempts,
        first_error=f"{first.error}: {first.message}"[:MESSAGE_LIMIT],
    )


def _opened(connection: PersistentConnection | None, started: float) -> float:
    return connection.opened if connection is not None and connection.opened else started


def _status_message(reason: str, data: bytes) -> str:
    excerpt = " ".join(data[:MESSAGE_LIMIT].decode("utf-8", "replace").split())
    return f"{reason}: {excerpt}"[:MESSAGE_LIMIT] if excerpt else reason


def post_body(index: int, client: int) -> bytes:
    return json.dumps({"index": index, "client": client, "sent_at": time.time()}).encode()


# --------------------------------------------------------------------------
# Summary
# --------------------------------------------------------------------------

MODES = ("keepalive", "new")  # by_mode keys: reused connection / fresh connection


@dataclass
class Summary:
    total: int
    ok: int
    non_2xx: int
    transport_errors: int
    failed: int
    by_status: dict[str, int]
    by_method: dict[str, dict[str, int]]
    latency_ms: dict[str, float]
    duration_s: float
    requests_per_second: float
    max_gap_s: float
    backends: list[dict[str, object]]
    versions: dict[str, int]
    first_failures: list[dict[str, object]]
    stop_reason: str = ""
    clients_unfinished: int = 0
    notes: list[str] = field(default_factory=list)
    # {"keepalive"|"new": {"total", "ok", "failed"}}: requests over a reused / a fresh connection
    by_mode: dict[str, dict[str, int]] = field(default_factory=dict)
    # per second of the run (by end time): {"second", "ok", "failed", "p99_ms", "versions"}
    timeline: list[dict[str, object]] = field(default_factory=list)
    # per method: requests answered only after the client retried them (a GET
    # under the retry policy); each counts once, in by_method, by its last try
    retried: dict[str, int] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.failed == 0 and self.ok > 0

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def summarize(
    records: Sequence[RequestRecord],
    duration: float,
    stop_reason: str = "",
    *,
    failure_samples: int = FAILURE_SAMPLES,
    clients_unfinished: int = 0,
) -> Summary:
    """Aggregate ``records`` of a run that lasted ``duration`` seconds."""
    ok = sum(1 for r in records if r.ok)
    transport = sum(1 for r in records if r.status == 0)
    failures = [r for r in records if not r.ok]
    failures.sort(key=lambda r: r.start)
    success_ends = [r.end for r in records if r.ok]
    return Summary(
        total=len(records),
        ok=ok,
        non_2xx=len(records) - ok - transport,
        transport_errors=transport,
        failed=len(failures),
        by_status={str(k): v for k, v in sorted(Counter(r.status for r in records).items())},
        by_method=_method_counts(records),
        latency_ms=_latency_stats([r.latency for r in records]),
        duration_s=round(duration, 3),
        requests_per_second=round(len(records) / duration, 2) if duration > 0 else 0.0,
        max_gap_s=round(max_gap(success_ends, 0.0, max(duration, 0.0)), 3),
        backends=_backend_counts(records),
        versions=dict(Counter(r.version for r in records if r.version is not None).most_common()),
        first_failures=[r.to_dict() for r in failures[:failure_samples]],
        stop_reason=stop_reason,
        clients_unfinished=clients_unfinished,
        notes=_notes(len(records), ok, clients_unfinished),
        by_mode=_mode_counts(records),
        timeline=timeline(records, duration),
        retried=dict(sorted(Counter(r.method for r in records if r.attempts > 1).items())),
    )


def _method_counts(records: Sequence[RequestRecord]) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {}
    for record in records:
        _count(counts.setdefault(record.method, _zero_counts()), record)
    return dict(sorted(counts.items()))


def _mode_counts(records: Sequence[RequestRecord]) -> dict[str, dict[str, int]]:
    counts = {mode: _zero_counts() for mode in MODES}
    for record in records:
        _count(counts["keepalive" if record.keepalive else "new"], record)
    return counts


def _zero_counts() -> dict[str, int]:
    return {"total": 0, "ok": 0, "failed": 0}


def _count(entry: dict[str, int], record: RequestRecord) -> None:
    entry["total"] += 1
    entry["ok" if record.ok else "failed"] += 1


def timeline(records: Sequence[RequestRecord], duration: float) -> list[dict[str, object]]:
    """One entry per whole second of the run, second n holding requests that ended in [n, n+1).

    Covers ``ceil(duration)`` seconds, more if a request ended later; empty
    seconds are included with zero counts.
    """
    seconds = max([math.ceil(max(duration, 0.0)), *(_second_of(r) + 1 for r in records)])
    buckets: list[list[RequestRecord]] = [[] for _second in range(seconds)]
    for record in records:
        buckets[_second_of(record)].append(record)
    return [_second_entry(second, bucket) for second, bucket in enumerate(buckets)]


def _second_of(record: RequestRecord) -> int:
    return max(0, math.floor(record.end))


def _second_entry(second: int, records: Sequence[RequestRecord]) -> dict[str, object]:
    ok = [r for r in records if r.ok]
    p99 = percentile([r.latency for r in records], 99)
    return {
        "second": second,
        "ok": len(ok),
        "failed": len(records) - len(ok),
        "p99_ms": round(p99 * 1000.0, 3),
        "versions": dict(Counter(r.version for r in ok if r.version is not None).most_common()),
    }


def _latency_stats(latencies: Sequence[float]) -> dict[str, float]:
    ordered = sorted(latencies)
    stats = {f"p{q}": percentile(ordered, q) for q in (50, 90, 99)}
    stats["max"] = ordered[-1] if ordered else 0.0
    return {name: round(value * 1000.0, 3) for name, value in stats.items()}


def _backend_counts(records: Sequence[RequestRecord]) -> list[dict[str, object]]:
    pairs = Counter((r.host, r.replica) for r in records if r.host is not None or r.replica is not None)
    return [{"host": host, "replica": replica, "count": n} for (host, replica), n in pairs.most_common()]


def _notes(total: int, ok: int, unfinished: int) -> list[str]:
    notes = []
    if total == 0:
        notes.append("no requests were sent")
    elif ok == 0:
        notes.append("no request succeeded")
    if unfinished:
        notes.append(
            f"{unfinished} client thread(s) still blocked at the end; their in-flight request is not counted"
        )
    return notes


# --------------------------------------------------------------------------
# Runner
# --------------------------------------------------------------------------


class LoadRunner:
    """Runs load in background threads: ``start()``, then ``stop()`` or ``wait()``.

    ``summary()`` may be called at any time; while running it describes the
    requests completed so far.  Usable as a context manager.
    """

    def __init__(self, config: Config) -> None:
        self.config = config.checked()
        self._target = Target.from_url(self.config.url)
        self._lock = threading.Lock()
        self._reason_lock = threading.RLock()  # RLock: taken from signal handlers
        self._stop = threading.Event()
        self._done = threading.Event()
        self._records: list[RequestRecord] = []
        self._next_index = 0
        self._stop_reason = ""
        self._origin = 0.0
        self._deadline = 0.0
        self._end: float | None = None
        self._unfinished = 0
        self._workers: list[threading.Thread] = []
        self._supervisor: threading.Thread | None = None

    # -- public API ----------------------------------------------------------

    def start(self) -> Self:
        if self._supervisor is not None:
            raise RuntimeError("LoadRunner can only be started once")
        self._origin = time.monotonic()
        self._deadline = self._origin + self.config.duration
        self._check_stop_file()
        self._workers = [
            threading.Thread(target=self._work, args=(n,), name=f"loadgen-client-{n}", daemon=True)
            for n in range(self.config.clients)
        ]
        for worker in self._workers:
            worker.start()
        self._supervisor = threading.Thread(target=self._supervise, name="loadgen-supervisor", daemon=True)
        self._supervisor.start()
        return self

    def request_stop(self, reason: str = "stopped") -> None:
        """Ask the clients to stop after their in-flight request; non-blocking."""
        with self._reason_lock:
            if not self._stop_reason:
                self._stop_reason = reason
        self._stop.set()

    def stop(self, reason: str = "stopped", timeout: float | None = None) -> Summary:
        """Stop gracefully, wait for in-flight requests, return the summary."""
        self.request_stop(reason)
        if self._supervisor is not None:
            self.wait(timeout)
        return self.summary()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the run has ended; False on timeout."""
        if self._supervisor is None:
            raise RuntimeError("LoadRunner was not started")
        return self._done.wait(timeout)

    @property
    def running(self) -> bool:
        return self._supervisor is not None and not self._done.is_set()

    @property
    def stop_reason(self) -> str:
        return self._stop_reason

    def records(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._records)

    def failures(self, limit: int | None = None) -> list[dict[str, object]]:
        failed = sorted((r for r in self.records() if not r.ok), key=lambda r: r.start)
        return [r.to_dict() for r in failed[:limit]]

    def elapsed(self) -> float:
        if self._supervisor is None:
            return 0.0
        end = self._end if self._end is not None else time.monotonic()
        return end - self._origin

    def summary(self) -> Summary:
        return summarize(
            self.records(),
            self.elapsed(),
            self._stop_reason,
            clients_unfinished=self._unfinished,
        )

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- threads ---------------------------------------------------------------

    def _work(self, client: int) -> None:
        connection = None
        if client < self.config.keepalive_clients:
            connection = PersistentConnection(self._target, self.config.timeout)
        try:
            while (index := self._claim()) is not None:
                record = self._request(index, client, connection)
                with self._lock:
                    self._records.append(record)
                if self.config.think > 0:
                    self._stop.wait(self.config.think)
        finally:
            if connection is not None:
                connection.close()

    def _claim(self) -> int | None:
        """Next request index, or None when the run must stop."""
        if self._stop.is_set():
            return None
        if time.monotonic() >= self._deadline:
            self.request_stop("duration")
            return None
        limit = self.config.max_requests
        with self._lock:
            index = self._next_index
            if limit is None or index < limit:
                self._next_index += 1
                return index
        self.request_stop("max-requests")
        return None

    def _request(self, index: int, client: int, connection: PersistentConnection | None) -> RequestRecord:
        if is_post(index, self.config.post_ratio):
            body = post_body(index, client)
            return perform_request(
                self._target,
                "POST",
                self.config.post_path,
                body,
                self.config.timeout,
                index=index,
                client=client,
                origin=self._origin,
                connection=connection,
            )
        return perform_get(
            self._target,
            self.config.path,
            self.config,
            index=index,
            client=client,
            origin=self._origin,
            connection=connection,
        )

    def _supervise(self) -> None:
        while not self._stop.wait(min(POLL_INTERVAL, max(0.0, self._deadline - time.monotonic()))):
            self._check_stop_file()
            if time.monotonic() >= self._deadline:
                self.request_stop("duration")
        join_until = time.monotonic() + self.config.timeout + JOIN_GRACE
        for worker in self._workers:
            worker.join(max(0.0, join_until - time.monotonic()))
        self._unfinished = sum(1 for worker in self._workers if worker.is_alive())
        self._end = time.monotonic()
        self._done.set()

    def _check_stop_file(self) -> None:
        if self.config.stop_file and os.path.exists(self.config.stop_file):
            self.request_stop("stop-file")


@contextlib.contextmanager
def stop_on_signals(runner: LoadRunner) -> Iterator[None]:
    """While active, SIGTERM/SIGINT stop ``runner`` gracefully (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        runner.request_stop("signal")

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def execute(runner: LoadRunner, *, handle_signals: bool = False) -> Summary:
    """Start ``runner`` and wait for it to end by itself; return the summary."""
    guard = stop_on_signals(runner) if handle_signals else contextlib.nullcontext()
    with guard:
        runner.start()
        while not runner.wait(0.2):
            pass
    return runner.summary()


def run_load(config: Config, *, handle_signals: bool = False) -> Summary:
    """Run load in the foreground until a stop condition; return the summary."""
    return execute(LoadRunner(config), handle_signals=handle_signals)


# --------------------------------------------------------------------------
# Output and CLI
# --------------------------------------------------------------------------


def write_results(path: str, config: Config, summary: Summary, failures: list[dict[str, object]]) -> None:
    """Write {config, summary, failures} as JSON, atomically."""
    document = {
        "config": config.to_dict(),
        "summary": summary.to_dict(),
        "failures": failures,
    }
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".loadgen-", suffix=".json", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(document, handle, indent=2, sort_keys=False)
            handle.write("\n")
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def format_summary(summary: Summary) -> str:
    """Compact human-readable summary."""
    lat = summary.latency_ms
    lines = [
        (
            f"loadgen: stop={summary.stop_reason or '-'} "
            f"duration={summary.duration_s:.2f}s total={summary.total} "
            f"ok={summary.ok} non_2xx={summary.non_2xx} "
            f"transport_errors={summary.transport_errors} "
            f"rps={summary.requests_per_second:.1f}"
        ),
        (
            f"latency ms: p50={lat['p50']:.1f} p90={lat['p90']:.1f} "
            f"p99={lat['p99']:.1f} max={lat['max']:.1f} "
            f"max_gap={summary.max_gap_s:.3f}s"
        ),
        "status: " + (" ".join(f"{code}={n}" for code, n in summary.by_status.items()) or "-"),
        "methods: "
        + (", ".join(f"{m} {c['ok']}/{c['total']} ok" for m, c in summary.by_method.items()) or "-"),
        "retried: " + (", ".join(f"{m} {n}" for m, n in summary.retried.items()) or "-"),
        "connections: "
        + (", ".join(f"{m} {c['ok']}/{c['total']} ok" for m, c in summary.by_mode.items()) or "-"),
        "backends: "
        + (" ".join(f"{b['host']}/{b['replica']}={b['count']}" for b in summary.backends) or "-"),
        "versions: " + (" ".join(f"{v}={n}" for v, n in summary.versions.items()) or "-"),
    ]
    if summary.first_failures:
        lines.append(f"failures (first {len(summary.first_failures)} of {summary.failed}):")
        lines.extend(_failure_line(f) for f in summary.first_failures)
    lines.extend(f"note: {note}" for note in summary.notes)
    lines.append(f"RESULT: {'PASS' if summary.passed else 'FAIL'}")
    return "\n".join(lines)


def _failure_line(failure: dict[str, object]) -> str:
    what = failure["error"] or f"status={failure['status']}"
    return (
        f"  +{failure['start']:.3f}s {failure['method']} {failure['path']} {what} "
        f"{failure['latency_ms']}ms {failure['message']}"
    )


def exit_code(summary: Summary, allow_failures: bool = False) -> int:
    return 0 if allow_failures or summary.passed else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Load generator for zero-downtime tests.")
    parser.add_argument("--url", required=True, help="base URL, e.g. http://127.0.0.1:8080")
    parser.add_argument(
        "--clients",
        type=int,
        default=16,
        help=f"concurrent clients (max {MAX_CLIENTS})",
    )
    parser.add_argument(
        "--duration",
        type=float,
        required=True,
        help=f"seconds to run (max {MAX_DURATION:.0f})",
    )
    parser.add_argument("--post-ratio", type=float, default=0.25, help="share of POST requests, 0..1")
    parser.add_argument("--timeout", type=float, default=5.0, help="per-request timeout in seconds")
    parser.add_argument("--stop-file", help="stop as soon as this file exists")
    parser.add_argument("--out", help="write JSON results {config, summary, failures} here")
    parser.add_argument("--max-requests", type=int, help="stop after this many requests in total")
    parser.add_argument("--path", default="/", help="path for GET requests")
    parser.add_argument("--post-path", default="/echo", help="path for POST requests")
    parser.add_argument(
        "--think", type=float, default=0.0, help="seconds each client pauses between requests (0..10)"
    )
    parser.add_argument(
        "--keepalive-ratio",
        type=float,
        default=0.5,
        help=(
            "share of clients (0..1, rounded) that reuse one persistent HTTP/1.1 connection; "
            "the others open a new connection per request"
        ),
    )
    parser.add_argument(
        "--get-retry-for",
        type=float,
        default=0.0,
        help="send a GET without an answer again, on a new connection, until this many seconds "
        "after its first try (0: never; POSTs never are)",
    )
    parser.add_argument(
        "--get-try-timeout", type=float, help="timeout of each try of a GET (default: --timeout)"
    )
    parser.add_argument("--allow-failures", action="store_true", help="exit 0 even if requests failed")
    return parser


def config_from_args(args: argparse.Namespace) -> Config:
    return Config(
        url=args.url,
        clients=args.clients,
        duration=args.duration,
        post_ratio=args.post_ratio,
        timeout=args.timeout,
        stop_file=args.stop_file,
        max_requests=args.max_requests,
        path=args.path,
        post_path=args.post_path,
        think=args.think,
        keepalive_ratio=args.keepalive_ratio,
        get_retry_for=args.get_retry_for,
        get_try_timeout=args.get_try_timeout,
    )


def _warn_caps(requested: Config, effective: Config) -> None:
    for name in ("clients", "duration", "timeout"):
        if getattr(requested, name) != getattr(effective, name):
            print(f"loadgen: {name} capped at {getattr(effective, name)}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    requested = config_from_args(args)
    try:
        runner = LoadRunner(requested)
    except ValueError as exc:
        parser.error(str(exc))
    _warn_caps(requested, runner.config)
    summary = execute(runner, handle_signals=True)
    if args.out:
        write_results(args.out, runner.config, summary, runner.failures(MAX_FAILURES_OUT))
    print(format_summary(summary), flush=True)
    return exit_code(summary, args.allow_failures)


if __name__ == "__main__":
    sys.exit(main())
