"""Run a playbook while clients load the service, the way the rollout tests
and benchmarks do: the load starts before the playbook and ends after it."""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.lib import lab
from tests.lib.loadgen import Config, LoadRunner, RequestRecord

SETTLE_S = 3.0


@dataclass
class Run:
    """A playbook run under load: its result, and per load its summary and records."""

    result: Any
    started: float  # seconds after the loads started
    seconds: float
    summaries: dict[str, dict[str, Any]]
    records: dict[str, list[RequestRecord]]
    origin: float = 0.0  # the wall clock (epoch seconds) when the loads started

    def wall(self, second: float) -> float:
        """A time of the records (seconds after the loads started) on the wall clock."""
        return self.origin + second

    def log(self) -> str:
        return self.result.stdout + self.result.stderr


def load(url: str, clients: int = 16) -> Config:
    """Full speed (no think time), half keep-alive clients, a quarter POSTs."""
    return Config(
        url=url, clients=clients, duration=1200.0, post_ratio=0.25, timeout=10.0, keepalive_ratio=0.5
    )


def run_under_load(loads: dict[str, Config], playbook: str, *args: str, results: Path | None = None) -> Run:
    run = run_steps_under_load(loads, lambda: lab.run_playbook(playbook, *args))
    if results:
        results.mkdir(exist_ok=True)
        stem = playbook.removesuffix(".yml") + "-" + "-".join(a.split("=")[-1] for a in args if "=" in a)
        (results / f"{stem}.json").write_text(json.dumps(run.summaries, indent=2, default=str))
        (results / f"{stem}.log").write_text(run.log())
    for name, summary in run.summaries.items():
        print(
            f"{playbook} {' '.join(args)} [{name}]: {summary['total']} requests, {summary['by_method']}, "
            f"p99 {summary['latency_ms']['p99']} ms, max {summary['latency_ms']['max']} ms, "
            f"max gap {summary['max_gap_s']} s; playbook {run.seconds:.1f} s"
        )
    return run


def run_steps_under_load(loads: dict[str, Config], steps: Callable[[], Any]) -> Run:
    """Start the loads, let them settle, run steps (one playbook or a sequence
    of them; what it returns is the Run's result), settle, stop the loads."""
    runners = {name: LoadRunner(config) for name, config in loads.items()}
    for runner in runners.values():
        runner.start()
    origin, origin_wall = time.monotonic(), time.time()
    try:
        time.sleep(SETTLE_S)
        started = time.monotonic() - origin
        result = steps()
        seconds = time.monotonic() - origin - started
        time.sleep(SETTLE_S)
    finally:
        summaries = {name: runner.stop().to_dict() for name, runner in runners.items()}
    records = {n: r.records() for n, r in runners.items()}
    return Run(result, started, seconds, summaries, records, origin_wall)


def assert_no_failed_request(run: Run) -> None:
    """0 failed GETs and 0 failed POSTs in every load, which ran across the
    whole playbook (started before it, stopped by us after it)."""
    for name, summary in run.summaries.items():
        methods = summary["by_method"]
        assert methods["GET"]["failed"] == 0, (name, "GET", summary["first_failures"])
        assert methods["POST"]["failed"] == 0, (name, "POST", summary["first_failures"])
        assert methods["GET"]["ok"] > 0 and methods["POST"]["ok"] > 0, (name, methods)
        assert summary["by_mode"]["keepalive"]["ok"] > 0 and summary["by_mode"]["new"]["ok"] > 0, name
        assert summary["stop_reason"] == "stopped", (name, summary["stop_reason"])  # not ended early
        assert summary["duration_s"] >= run.started + run.seconds, (name, summary["duration_s"])
        assert summary["max_gap_s"] <= 2.0, (name, summary["max_gap_s"])


def answered_per_second(
    records: list[RequestRecord], key: str, start: float, end: float
) -> dict[int, set[str]]:
    """For each whole second in [start, end), which hosts (or replicas) gave a 2xx answer."""
    seen: dict[int, set[str]] = defaultdict(set)
    for record in records:
        value = getattr(record, key)
        # A POST /echo answer names its replica but not its host: it counts for replicas only.
        if record.ok and value is not None and start <= record.end < end:
            seen[int(record.end)].add(str(value))
    return {second: seen.get(second, set()) for second in range(int(start) + 1, int(end))}


def versions_answered(run: Run) -> set[str]:
    """Every version any answer (2xx or not) of any load reported."""
    return {r.version for records in run.records.values() for r in records if r.version}
