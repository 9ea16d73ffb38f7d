#!/usr/bin/env python
"""Shared helpers of the benchmark scripts (bench_balancer.py, bench_rollout.py).

Commands with timing, ansible-playbook runs against the lab inventory, results
of tests/lib/loadgen.py, the task timeline printed by ansible.posix.profile_tasks
(enabled in ansible.cfg), and Markdown tables.

Run alone, it prints a Markdown table of load generator result files, e.g. the
ones the Molecule scenarios write::

    .venv/bin/python scripts/bench_common.py molecule/*/tests/results/*.json

Standard library only; every function that touches no process or file is
covered by tests/unit/test_bench.py.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import itertools
import json
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = REPO_ROOT / ".venv" / "bin"
ANSIBLE_CFG = REPO_ROOT / "ansible.cfg"
INVENTORY = "inventories/lab/hosts.yml"
LOADGEN_PATH = REPO_ROOT / "tests" / "lib" / "loadgen.py"
BUILD_DIR = REPO_ROOT / "build" / "bench"

SWAP_START_TASK = "Drain the replica in the host Nginx"
SWAP_END_TASK = "Remember that the replica moved"
ROLLOUT_PLAY = "Replace the replicas, one host at a time"


def say(message: str) -> None:
    """Progress message on stderr (stdout is kept for the Markdown report)."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def clamp(value: float, low: float, high: float) -> float:
    """``value`` bounded to [low, high]."""
    return max(low, min(high, value))


def timestamp() -> str:
    """Now, UTC, ISO 8601 to the second."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------


class CommandError(RuntimeError):
    """A command failed or timed out."""


@dataclass(frozen=True)
class CommandResult:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def check(self) -> CommandResult:
        """Self, or CommandError with the tail of the output when it failed."""
        if not self.ok:
            raise CommandError(
                f"{describe(self.argv)} exited {self.returncode} after {self.seconds:.1f} s\n"
                f"{tail(self.stdout + self.stderr)}"
            )
        return self


def describe(argv: Sequence[str], limit: int = 160) -> str:
    """A command line for messages, shortened to ``limit`` characters."""
    text = " ".join(argv)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def tail(text: str, lines: int = 25) -> str:
    """The last ``lines`` lines of ``text``."""
    return "\n".join(text.rstrip().splitlines()[-lines:])


def run_command(
    argv: Sequence[str],
    *,
    timeout: float,
    env: Mapping[str, str] | None = None,
    log: Path | None = None,
    stdin: str | None = None,
) -> CommandResult:
    """Run ``argv`` from the repository root, capture its output, time it.

    Raises CommandError when it cannot start or runs longer than ``timeout``
    seconds (the process is killed). ``stdin`` is sent as its input; with
    ``log``, stdout and stderr are written there.
    """
    started = time.monotonic()
    try:
        proc = subprocess.run(
            list(argv),
            cwd=REPO_ROOT,
            env=dict(env) if env is not None else None,
            input=stdin,
            stdin=subprocess.DEVNULL if stdin is None else None,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise CommandError(f"{describe(argv)} timed out after {timeout:.0f} s") from exc
    except OSError as exc:
        raise CommandError(f"{describe(argv)} cannot run: {exc}") from exc
    result = CommandResult(list(argv), proc.returncode, proc.stdout, proc.stderr, time.monotonic() - started)
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(f"$ {' '.join(argv)}\n{proc.stdout}{proc.stderr}", encoding="utf-8")
    return result


def ansible_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment for ansible-playbook: the venv first on PATH, ansible.cfg, no colours."""
    env = dict(os.environ if base is None else base)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["ANSIBLE_CONFIG"] = str(ANSIBLE_CFG)
    env["ANSIBLE_NOCOLOR"] = "1"
    env["ANSIBLE_FORCE_COLOR"] = "0"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def playbook_argv(
    playbook: str, extra_vars: Mapping[str, object] | None = None, inventory: str = INVENTORY
) -> list[str]:
    """ansible-playbook command line; extra vars go as JSON so numbers stay numbers."""
    executable = VENV_BIN / "ansible-playbook"
    argv = [str(executable) if executable.exists() else "ansible-playbook", "-i", inventory, playbook]
    if extra_vars:
        argv += ["-e", json.dumps(dict(extra_vars), sort_keys=True)]
    return argv


def run_playbook(
    playbook: str,
    *,
    extra_vars: Mapping[str, object] | None = None,
    timeout: float = 1800.0,
    log: Path | None = None,
) -> CommandResult:
    """Run a playbook against the lab inventory (not checked: see CommandResult.check)."""
    argv = playbook_argv(playbook, extra_vars)
    say(f"running {describe(argv[1:])}" + (f" (log: {log})" if log else ""))
    result = run_command(argv, timeout=timeout, env=ansible_env(), log=log)
    say(f"{playbook} exited {result.returncode} after {result.seconds:.1f} s")
    return result


def run_inventory_playbook(
    playbook: str,
    inventory: str,
    *,
    extra_vars: Mapping[str, object] | None = None,
    timeout: float = 1800.0,
    log: Path | None = None,
) -> CommandResult:
    """Like run_playbook, against ``inventory`` (a path relative to the repository)."""
    argv = playbook_argv(playbook, extra_vars, inventory=inventory)
    say(f"running {describe(argv[1:])}" + (f" (log: {log})" if log else ""))
    result = run_command(argv, timeout=timeout, env=ansible_env(), log=log)
    say(f"{playbook} exited {result.returncode} after {result.seconds:.1f} s")
    return result


def loadgen_module() -> ModuleType:
    """tests/lib/loadgen.py as the module ``tests.lib.loadgen`` (the repository root goes on sys.path)."""
    root = str(REPO_ROOT)
    if root not in sys.path:
        sys.path.insert(0, root)
    return importlib.import_module("tests.lib.loadgen")


def docker_exec(
    host: str, argv: Sequence[str], *, timeout: float = 60.0, stdin: str | None = None
) -> CommandResult:
    """``docker exec [-i] HOST argv...`` on the controller's Docker."""
    interactive = ["-i"] if stdin is not None else []
    return run_command(["docker", "exec", *interactive, host, *argv], timeout=timeout, stdin=stdin)


def copy_to_host(host: str, source: Path, dest: str) -> None:
    """Copy a text file into a host container through ``docker exec -i``, checked by SHA-256.

    Not ``docker cp``: /tmp of the lab hosts is a tmpfs, and ``docker cp`` writes
    under the mount, where nothing in the container sees the file (exit 0).
    """
    text = source.read_text(encoding="utf-8")
    docker_exec(
        host, ["sh", "-c", f"cat > {shlex.quote(dest)} && chmod 0644 {shlex.quote(dest)}"], stdin=text
    ).check()
    found = docker_exec(host, ["sha256sum", dest]).check().stdout.split()
    expected = hashlib.sha256(text.encode("utf-8")).hexdigest()
    if not found or found[0] != expected:
        raise CommandError(
            f"copy of {source} to {host}:{dest} does not match (sha256 {found[:1]} != {expected})"
        )


# --------------------------------------------------------------------------
# Load generator results
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadResult:
    """The figures of one loadgen summary that the benchmarks compare."""

    total: int
    ok: int
    failed: int
    non_2xx: int
    transport_errors: int
    requests_per_second: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    max_gap_s: float
    duration_s: float
    versions: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def load_result(summary: Mapping[str, Any]) -> LoadResult:
    """LoadResult from a loadgen summary dict; ValueError when a key is missing."""
    try:
        latency = summary["latency_ms"]
        return LoadResult(
            total=int(summary["total"]),
            ok=int(summary["ok"]),
            failed=int(summary["failed"]),
            non_2xx=int(summary.get("non_2xx", 0)),
            transport_errors=int(summary.get("transport_errors", 0)),
            requests_per_second=float(summary["requests_per_second"]),
            p50_ms=float(latency["p50"]),
            p90_ms=float(latency.get("p90", 0.0)),
            p99_ms=float(latency["p99"]),
            max_ms=float(latency["max"]),
            max_gap_s=float(summary["max_gap_s"]),
            duration_s=float(summary["duration_s"]),
            versions={str(k): int(v) for k, v in dict(summary.get("versions") or {}).items()},
        )
    except (KeyError, TypeError) as exc:
        raise ValueError(f"not a loadgen summary: missing or bad {exc}") from exc


def parse_loadgen_json(text: str) -> LoadResult:
    """Parse loadgen output: ``--out`` JSON ({config, summary, failures}) or a bare summary
    (as the Molecule scenarios write it)."""
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"loadgen output is not JSON: {text[:120]!r}") from exc
    if not isinstance(document, dict):
        raise ValueError("loadgen output is not a JSON object")
    summary = document.get("summary", document)
    if not isinstance(summary, dict):
        raise ValueError("loadgen 'summary' is not a JSON object")
    return load_result(summary)


def median(values: Iterable[float]) -> float:
    """Median of ``values``; 0.0 when empty."""
    items = list(values)
    return float(statistics.median(items)) if items else 0.0


def ratio(numerator: float, denominator: float) -> float | None:
    """numerator / denominator, or None when the denominator is 0."""
    return None if denominator == 0 else numerator / denominator


def aggregate(results: Sequence[LoadResult]) -> dict[str, float]:
    """Totals and medians over repeated runs of the same measurement."""
    return {
        "runs": len(results),
        "total": sum(r.total for r in results),
        "failed": sum(r.failed for r in results),
        "requests_per_second": median(r.requests_per_second for r in results),
        "p50_ms": median(r.p50_ms for r in results),
        "p99_ms": median(r.p99_ms for r in results),
        "max_ms": max((r.max_ms for r in results), default=0.0),
    }


def compare(subject: Mapping[str, float], reference: Mapping[str, float]) -> dict[str, float | None]:
    """subject / reference for throughput and latency medians (see aggregate)."""
    return {key: ratio(subject[key], reference[key]) for key in ("requests_per_second", "p50_ms", "p99_ms")}


# --------------------------------------------------------------------------
# ansible.posix.profile_tasks timeline
# --------------------------------------------------------------------------

_PLAY_RE = re.compile(r"^PLAY \[(?P<name>.*)\] \*+\s*$")
_TASK_RE = re.compile(r"^(?P<kind>TASK|RUNNING HANDLER) \[(?P<name>.*)\] \*+\s*$")
_RECAP_RE = re.compile(r"^TASKS RECAP \*+\s*$")
_CLOCK = r"\d+:\d{2}:\d{2}(?:\.\d+)?"
_STAMP_RE = re.compile(rf"\((?P<previous>{_CLOCK})\)\s+(?P<total>{_CLOCK})\s*\**\s*$")


@dataclass(frozen=True)
class TaskEvent:
    """A task (or handler, or the final recap) and when it started, in seconds
    since the playbook started, as profile_tasks printed it."""

    kind: str  # "task", "handler" or "recap"
    name: str
    play: str
    start_s: float

    @property
    def short_name(self) -> str:
        """The name without a ``role : `` prefix."""
        return self.name.split(" : ", 1)[-1]


def parse_clock(text: str) -> float:
    """Seconds of a profile_tasks clock ``H:MM:SS.mmm``."""
    hours, minutes, seconds = text.split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def parse_profile_timeline(output: str) -> list[TaskEvent]:
    """Task start times from ansible-playbook output with profile_tasks.

    Each ``TASK [...]`` / ``RUNNING HANDLER [...]`` banner is followed by a line
    ending in ``(previous task) total-elapsed ****``; ``TASKS RECAP`` carries the
    end of the run. Banners without such a line are ignored.
    """
    events: list[TaskEvent] = []
    play = ""
    pending: tuple[str, str] | None = None
    for line in output.splitlines():
        if match := _PLAY_RE.match(line):
            play, pending = match["name"], None
        elif match := _TASK_RE.match(line):
            pending = ("task" if match["kind"] == "TASK" else "handler", match["name"])
        elif _RECAP_RE.match(line):
            pending = ("recap", "")
        elif pending is not None and (match := _STAMP_RE.search(line)):
            events.append(TaskEvent(pending[0], pending[1], play, parse_clock(match["total"])))
            pending = None
    return events


def play_seconds(events: Sequence[TaskEvent], play: str) -> float | None:
    """Time spent in the play named ``play`` (all its serial batches), or None
    when it is not in the timeline or its end is unknown."""
    total = 0.0
    found = False
    for current, following in itertools.pairwise(events):
        if current.play == play and current.kind != "recap":
            total += following.start_s - current.start_s
            found = True
    if events and events[-1].play == play and events[-1].kind != "recap":
        return None  # the last task of the play has no end
    return round(total, 3) if found else None


def play_durations(events: Sequence[TaskEvent]) -> dict[str, float | None]:
    """Seconds per play, in playbook order (see play_seconds)."""
    names = dict.fromkeys(e.play for e in events if e.kind != "recap")
    return {name: play_seconds(events, name) for name in names}


def span_seconds(
    events: Sequence[TaskEvent], start_task: str = SWAP_START_TASK, end_task: str = SWAP_END_TASK
) -> list[float]:
    """Durations from each task named ``start_task`` to the next ``end_task``
    (names compared without role prefix). A start followed by another start
    before any end (e.g. a swap back in a rescue) is dropped."""
    spans: list[float] = []
    opened: float | None = None
    for event in events:
        if event.short_name == start_task:
            opened = event.start_s
        elif event.short_name == end_task and opened is not None:
            spans.append(round(event.start_s - opened, 3))
            opened = None
    return spans


_HOST_RECAP_RE = re.compile(r"^\S+\s+:\s+ok=\d+.*\bfailed=(?P<failed>\d+)", re.MULTILINE)


def recap_failed(output: str) -> bool | None:
    """Whether the PLAY RECAP shows a failed host; None without a recap."""
    counts = [int(m["failed"]) for m in _HOST_RECAP_RE.finditer(output)]
    return any(counts) if counts else None


def swap_report(output: str, fallback_replicas: int) -> dict[str, object]:
    """Time per replica swap from upgrade.yml output, and how it was obtained.

    Primary: profile_tasks timestamps from "Drain the replica in the host Nginx"
    to "Remember that the replica moved" (drain in the host Nginx, recreate,
    health gate, direct check, put back). Also: the duration of the play
    "Replace the replicas, one host at a time" divided by the replicas swapped
    (adds the per-host drain from, and return to, the balancer).
    """
    events = parse_profile_timeline(output)
    swaps = span_seconds(events)
    play = play_seconds(events, ROLLOUT_PLAY)
    replicas = len(swaps) or fallback_replicas
    report: dict[str, object] = {
        "playbook_failed": recap_failed(output),
        "swaps_s": swaps,
        "swaps": len(swaps),
        "swap_mean_s": round(statistics.fmean(swaps), 3) if swaps else None,
        "swap_min_s": min(swaps, default=None),
        "swap_max_s": max(swaps, default=None),
        "rollout_play_s": play,
        "plays_s": play_durations(events),
        "replicas": replicas,
        "rollout_play_per_replica_s": round(play / replicas, 3) if play is not None and replicas else None,
    }
    if swaps:
        report["method"] = (
            f"profile_tasks timestamps, '{SWAP_START_TASK}' to '{SWAP_END_TASK}', per replica; "
            f"'{ROLLOUT_PLAY}' play duration / replicas as a second figure"
        )
    elif play is not None:
        report["method"] = f"'{ROLLOUT_PLAY}' play duration (profile_tasks) / {replicas} replicas"
    else:
        report["method"] = "unavailable: no profile_tasks timeline in the output"
    return report


_CHANGED_RE = re.compile(r"^changed: \[(?P<host>[^\]]+)\]")


def changed_tasks(output: str) -> dict[str, list[str]]:
    """Tasks (and handlers) that reported a change, with the hosts that did, in
    playbook order, from the default callback's ``changed: [host]`` lines."""
    changed: dict[str, list[str]] = {}
    current = ""
    for line in output.splitlines():
        if match := _TASK_RE.match(line):
            current = match["name"]
        elif _PLAY_RE.match(line) or _RECAP_RE.match(line):
            current = ""
        elif current and (match := _CHANGED_RE.match(line)):
            hosts = changed.setdefault(current, [])
            if match["host"] not in hosts:
                hosts.append(match["host"])
    return changed


# --------------------------------------------------------------------------
# Markdown
# --------------------------------------------------------------------------


def fmt(value: object, digits: int = 1) -> str:
    """A table cell: floats rounded, None as a dash, ``|`` escaped."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def fmt_ratio(value: float | None) -> str:
    """A ratio cell such as ``0.62x``."""
    return "-" if value is None else f"{value:.2f}x"


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]], align: str | None = None) -> str:
    """A GitHub Markdown table, columns padded. ``align`` has one letter per
    column, ``l`` or ``r``; default: first column left, the others right."""
    width = len(headers)
    if any(len(row) != width for row in rows):
        raise ValueError(f"every row needs {width} cells")
    align = align or "l" + "r" * (width - 1)
    if len(align) != width or set(align) - {"l", "r"}:
        raise ValueError(f"align must be {width} letters l or r, got {align!r}")
    cells = [[fmt(cell) for cell in row] for row in [headers, *rows]]
    widths = [max(3, *(len(row[i]) for row in cells)) for i in range(width)]

    def line(row: Sequence[str]) -> str:
        padded = (c.ljust(w) if a == "l" else c.rjust(w) for c, w, a in zip(row, widths, align, strict=True))
        return "| " + " | ".join(padded) + " |"

    rule = (
        "| "
        + " | ".join("-" * w if a == "l" else "-" * (w - 1) + ":" for w, a in zip(widths, align, strict=True))
        + " |"
    )
    return "\n".join([line(cells[0]), rule, *(line(row) for row in cells[1:])])


# --------------------------------------------------------------------------
# Machine and output
# --------------------------------------------------------------------------


def parse_meminfo(text: str) -> float | None:
    """MemTotal of /proc/meminfo in GiB, or None."""
    match = re.search(r"^MemTotal:\s+(\d+)\s+kB", text, re.MULTILINE)
    return round(int(match.group(1)) / 1024**2, 1) if match else None


def machine_info() -> dict[str, object]:
    """CPUs, memory and Python of the controller, for the report."""
    try:
        memory = parse_meminfo(Path("/proc/meminfo").read_text(encoding="utf-8"))
    except OSError:
        memory = None
    return {
        "cpus": os.cpu_count(),
        "memory_gib": memory,
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def write_json(path: Path, document: Mapping[str, object]) -> None:
    """Write ``document`` as indented JSON, creating the directory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, default=str) + "\n", encoding="utf-8")
    say(f"JSON written to {path}")


# --------------------------------------------------------------------------
# CLI: table of result files
# --------------------------------------------------------------------------

RESULT_HEADERS = ("Result", "Requests", "Failed", "req/s", "p50 ms", "p99 ms", "max ms", "max gap s", "s")


def result_row(name: str, result: LoadResult) -> list[object]:
    return [
        name,
        result.total,
        result.failed,
        result.requests_per_second,
        result.p50_ms,
        result.p99_ms,
        result.max_ms,
        f"{result.max_gap_s:.3f}",
        result.duration_s,
    ]


def results_table(files: Sequence[Path]) -> str:
    """Markdown table of loadgen result files (bare summaries or --out documents)."""
    rows = []
    for path in files:
        try:
            rows.append(result_row(_result_name(path), parse_loadgen_json(path.read_text(encoding="utf-8"))))
        except (OSError, ValueError) as exc:
            say(f"skipping {path}: {exc}")
    return markdown_table(RESULT_HEADERS, rows)


def _result_name(path: Path) -> str:
    parts = path.resolve().parts
    scenario = parts[parts.index("molecule") + 1] + "/" if "molecule" in parts[:-1] else ""
    return scenario + path.stem


def swaps_table(logs: Sequence[Path], replicas: int) -> str:
    """Markdown table of the replica swap times in upgrade.yml / rollback.yml logs."""
    rows = []
    for path in logs:
        swap = swap_report(path.read_text(encoding="utf-8", errors="replace"), replicas)
        rows.append(
            [
                _result_name(path),
                swap["playbook_failed"],
                swap["swaps"],
                swap["swap_mean_s"],
                swap["swap_min_s"],
                swap["swap_max_s"],
                swap["rollout_play_s"],
                swap["rollout_play_per_replica_s"],
            ]
        )
    headers = ("Log", "Failed", "Swaps", "mean s", "min s", "max s", "rollout play s", "play s / replica")
    return markdown_table(headers, rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Markdown tables of load generator result files and of upgrade.yml logs."
    )
    parser.add_argument("files", nargs="*", type=Path, help="loadgen JSON files")
    parser.add_argument(
        "--swaps", nargs="+", type=Path, default=[], help="ansible-playbook logs (profile_tasks) of upgrades"
    )
    parser.add_argument("--replicas", type=int, default=4, help="replicas swapped, when no swap is found")
    args = parser.parse_args(argv)
    if not args.files and not args.swaps:
        parser.error("give loadgen JSON files and/or --swaps LOG...")
    tables = []
    if args.files:
        tables.append(results_table(args.files))
    if args.swaps:
        tables.append(swaps_table(args.swaps, args.replicas))
    print("\n\n".join(tables))
    return 0


if __name__ == "__main__":
    sys.exit(main())
