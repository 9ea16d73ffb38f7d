#!/usr/bin/env python
"""Rolling upgrade vs the naive all-at-once cutover, under the same load, in one run.

Needs the lab of ``make demo``, every app host on one recorded release OLD
(read from /opt/pyweb/release.json; 1.0.0 after ``make demo``). The load
generator (tests/lib/loadgen.py, run in this process as a library so that
every request's record is at hand) sends GETs and POSTs through the balancer
at http://127.0.0.1:8080/ from the controller: 16 clients at full speed (no
think time), half of them on kept-alive connections, one request in four a
POST, from --before seconds ahead of each measured step until --after seconds
past it.

1. rolling, measured: ``playbooks/upgrade.yml -e app_version=NEW`` end to end
   (build and ship of the image included; each replica replaced beside
   itself, the hosts stay in the balancer). Time per replica swap comes from
   the deploy summary the playbook prints;
2. naive, measured: on every app host at once (one thread per host) ``cd
   /opt/pyweb && sed -i 's#pyweb/app:NEW$#pyweb/app:OLD#' compose.yml && flock
   .lock docker compose up -d``, until every replica is healthy again (the
   host lock keeps the health agent from starting containers in the middle
   of it). OLD's image is still on the hosts;
3. restore, not measured: ``playbooks/site.yml -e stack_keep_deployed_version=false -e
   app_version=OLD`` makes the routes and release records match OLD (a
   warning is printed if that run changes anything but those records);
4. with --batch-lab (minutes; no load): a second lab of six app hosts
   (inventories/bench6) is created and deployed, upgraded with
   rollout_batch=1, then with rollout_batch=3 (to two other versions), each
   upgrade.yml run timed; the lab is destroyed at the end, also on failure.

Figures per measured step: requests, failed GETs and POSTs, p99 and maximum
latency, the longest gap between successful answers, how many distinct
(host, replica) pairs answered in each second (the minimum over the step),
and the step's duration. A PNG (matplotlib, Agg) shows both steps side by
side: answers per second by version and failed ones, and p99 per second.

    .venv/bin/python scripts/bench_rollout.py [--to-version 2.0.0] [--clients 16]
        [--batch-lab | --batch-only] [--chart docs/rollout-vs-naive.png] [--out build/bench/rollout.json]
    .venv/bin/python scripts/bench_rollout.py --chart-from build/bench/rollout.json [--chart PNG]

Markdown (a section for docs/benchmarks.md) on stdout, progress on stderr,
JSON to --out, playbook and loadgen logs in --log-dir. Every step is bounded
in time; traffic goes only to 127.0.0.1 and to the lab's containers.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shlex
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import bench_common as bc

lg = bc.loadgen_module()

APP_HOSTS = ("pyweb-lab-app1", "pyweb-lab-app2")
REPLICAS_PER_HOST = 2
PROJECT_DIR = "/opt/pyweb"
IMAGE = "pyweb/app"
URL = "http://127.0.0.1:8080/"
DEFAULT_TO_VERSION = "2.0.0"
DEFAULT_CHART = bc.REPO_ROOT / "docs" / "rollout-vs-naive.png"
DOCS_DIR = bc.REPO_ROOT / "docs"

BENCH6_INVENTORY = "inventories/bench6/hosts.yml"
BENCH6_START_VERSION = "1.0.0"  # app_version of inventories/bench6/hosts.yml
BENCH6_APP_HOSTS = 6
DEFAULT_BATCH_VERSIONS = ("2.0.0", "3.0.0")
BATCH_SIZES = (1, 3)

ROLLOUT_PLAY = "Replace the replicas, rollout_batch hosts at a time"
SHIP_PLAY = "Build and ship the new image to every app host before any replica is touched"
RECORD_TASKS = (
    "Record the routes of the replicas",
    "Read or record the release of this host",
    "Remove the app images outside the release history",
)

MAX_CLIENTS = 64
MAX_WINDOW = 1800.0  # loadgen's own cap on its duration
MAX_PAUSE = 120.0
MAX_STEP = MAX_WINDOW - 2 * MAX_PAUSE - 60.0
STOP_GRACE = 15.0
HEALTH_POLL = 1.0
SITE_TIMEOUT = 1800.0
LAB_CREATE_TIMEOUT = 900.0
LAB_SITE_TIMEOUT = 2700.0
LAB_DESTROY_TIMEOUT = 600.0
PS_FORMAT = "{{.Service}}\t{{.State}}\t{{.Health}}\t{{.Image}}"
LOOPBACK = ("127.0.0.1", "localhost", "::1")
CHART_SIZE = (14.0, 8.0)  # inches, at CHART_DPI: 1400 x 800 pixels
CHART_DPI = 100


# --------------------------------------------------------------------------
# Arguments
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadSpec:
    url: str
    clients: int
    post_ratio: float
    timeout: float
    keepalive_ratio: float = 0.5

    def config(self, duration: float) -> lg.Config:
        """The loadgen configuration of one window: full speed, no think time."""
        return lg.Config(
            url=self.url,
            clients=self.clients,
            duration=duration,
            post_ratio=self.post_ratio,
            timeout=self.timeout,
            think=0.0,
            keepalive_ratio=self.keepalive_ratio,
        )


def bounded_spec(
    url: str, clients: int, post_ratio: float, timeout: float, keepalive_ratio: float = 0.5
) -> LoadSpec:
    return LoadSpec(
        url=url,
        clients=int(bc.clamp(clients, 1, MAX_CLIENTS)),
        post_ratio=bc.clamp(post_ratio, 0.0, 1.0),
        timeout=bc.clamp(timeout, 0.5, 30.0),
        keepalive_ratio=bc.clamp(keepalive_ratio, 0.0, 1.0),
    )


def check_url(url: str) -> str:
    """``url`` when it is http(s) on the loopback interface; ValueError otherwise."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or parts.hostname not in LOOPBACK:
        raise ValueError(f"the load goes to the lab's balancer on this machine only, not to {url!r}")
    return url


def window_limit(before: float, step_timeout: float, after: float) -> float:
    """Duration given to loadgen: a hard upper bound of one measured window."""
    return bc.clamp(before + step_timeout + after + 60.0, 1.0, MAX_WINDOW)


@dataclass(frozen=True)
class Settings:
    spec: LoadSpec
    before: float
    after: float
    settle: float
    step_timeout: float
    log_dir: Path
    chart: Path | None = None
    batch_versions: tuple[str, ...] = ()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Rolling upgrade vs naive all-at-once cutover, under load.")
    parser.add_argument("--to-version", default=DEFAULT_TO_VERSION, help="version of the rolling upgrade")
    parser.add_argument("--from-version", help="expected current version (default: the recorded release)")
    parser.add_argument("--clients", type=int, default=16, help=f"concurrent clients (max {MAX_CLIENTS})")
    parser.add_argument("--post-ratio", type=float, default=0.25, help="share of POST /echo requests, 0..1")
    parser.add_argument(
        "--keepalive-ratio", type=float, default=0.5, help="share of clients on kept-alive connections, 0..1"
    )
    parser.add_argument("--timeout", type=float, default=5.0, help="per-request timeout, seconds (0.5..30)")
    parser.add_argument("--url", default=URL, help="balancer URL on this machine (127.0.0.1 only)")
    parser.add_argument("--before", type=float, default=5.0, help="seconds of load before each step")
    parser.add_argument("--after", type=float, default=10.0, help="seconds of load after each step")
    parser.add_argument("--settle", type=float, default=10.0, help="pause between the two steps, seconds")
    parser.add_argument(
        "--step-timeout", type=float, default=900.0, help=f"bound of each step, seconds (30..{MAX_STEP:.0f})"
    )
    parser.add_argument(
        "--batch-lab",
        action="store_true",
        help="also time rollout_batch=1 vs 3 on a 6-app-host lab (inventories/bench6; takes minutes)",
    )
    parser.add_argument(
        "--batch-only",
        action="store_true",
        help="run only the 6-app-host lab of --batch-lab (no demo lab, no load)",
    )
    parser.add_argument(
        "--batch-versions",
        nargs=2,
        default=list(DEFAULT_BATCH_VERSIONS),
        metavar=("V1", "V3"),
        help="versions of the batch 1 and batch 3 upgrades of the 6-host lab",
    )
    parser.add_argument("--chart", type=Path, default=DEFAULT_CHART, help="PNG of the two steps")
    parser.add_argument("--no-chart", action="store_true", help="do not draw the chart")
    parser.add_argument(
        "--chart-from",
        type=Path,
        metavar="JSON",
        help="only draw --chart again from the --out JSON of an earlier run (no lab is touched)",
    )
    parser.add_argument("--out", type=Path, default=bc.BUILD_DIR / "rollout.json", help="JSON results")
    parser.add_argument(
        "--log-dir", type=Path, default=bc.BUILD_DIR / "logs", help="playbook and loadgen logs"
    )
    return parser


def settings_from(args: argparse.Namespace) -> Settings:
    """Settings with every number bounded; ValueError for a URL off this machine
    or batch versions that are not three different ones."""
    check_url(args.url)
    versions = tuple(args.batch_versions) if args.batch_lab or args.batch_only else ()
    if versions and len({BENCH6_START_VERSION, *versions}) != 3:
        raise ValueError(f"--batch-versions must be two versions other than {BENCH6_START_VERSION}")
    return Settings(
        spec=bounded_spec(args.url, args.clients, args.post_ratio, args.timeout, args.keepalive_ratio),
        before=bc.clamp(args.before, 0.0, MAX_PAUSE),
        after=bc.clamp(args.after, 0.0, MAX_PAUSE),
        settle=bc.clamp(args.settle, 0.0, MAX_PAUSE),
        step_timeout=bc.clamp(args.step_timeout, 30.0, MAX_STEP),
        log_dir=args.log_dir,
        chart=None if args.no_chart else args.chart,
        batch_versions=versions,
    )


# --------------------------------------------------------------------------
# The naive cutover and the compose project (pure)
# --------------------------------------------------------------------------


def sed_pattern(text: str) -> str:
    """``text`` as a literal in a sed basic regular expression delimited by ``#``."""
    return re.sub(r"([\\.*\[\]^$#])", r"\\\1", text)


def sed_replacement(text: str) -> str:
    """``text`` as a literal sed replacement delimited by ``#``."""
    return re.sub(r"([\\&#])", r"\\\1", text)


def naive_command(image: str, old: str, new: str, project_dir: str = PROJECT_DIR) -> str:
    """The classic all-at-once change of one host: edit the tag, ``compose up -d``
    (holding the host lock, as every tool that changes the project does)."""
    expression = f"s#{sed_pattern(f'{image}:{old}')}$#{sed_replacement(f'{image}:{new}')}#"
    edit = f"sed -i {shlex.quote(expression)} compose.yml"
    return f"cd {shlex.quote(project_dir)} && {edit} && flock .lock docker compose up -d"


def parse_release(text: str) -> str | None:
    """The deployed version of a release.json record, or None."""
    try:
        record = json.loads(text)
    except ValueError:
        return None
    version = record.get("version") if isinstance(record, dict) else None
    return str(version) if version else None


@dataclass(frozen=True)
class ServiceState:
    service: str
    state: str
    health: str
    image: str


def parse_compose_ps(text: str) -> list[ServiceState]:
    """Lines of ``docker compose ps --format PS_FORMAT``."""
    states = []
    for line in text.splitlines():
        fields = line.split("\t")
        if len(fields) == 4:
            states.append(ServiceState(*(f.strip() for f in fields)))
    return states


_APP_SERVICE_RE = re.compile(r"^  (?P<service>app_[A-Za-z0-9_]+):\s*$", re.MULTILINE)


def compose_app_services(compose_yml: str) -> list[str]:
    """The app services (serving slots, ``app_N_a`` / ``app_N_b``) a compose.yml lists."""
    return _APP_SERVICE_RE.findall(compose_yml)


def replicas_ready(
    states: Sequence[ServiceState], image_ref: str, replicas: int, services: Sequence[str] | None = None
) -> bool:
    """Every app replica runs ``image_ref`` and is healthy, and there are ``replicas``.
    With ``services``, only those count (containers of other services are ignored)."""
    apps = [s for s in states if s.service.startswith("app_")]
    if services is not None:
        apps = [s for s in apps if s.service in services]
    return len(apps) == replicas and all(
        s.state == "running" and s.health == "healthy" and s.image == image_ref for s in apps
    )


# --------------------------------------------------------------------------
# Deploy summary of upgrade.yml / rollback.yml (pure)
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Swap:
    replica: str
    from_service: str
    to_service: str
    seconds: float


@dataclass(frozen=True)
class HostRollout:
    host: str
    from_version: str
    to_version: str
    outcome: str  # "ok" or "FAILED at REPLICA, undone"
    seconds: float | None
    swaps: tuple[Swap, ...]


@dataclass(frozen=True)
class DeploySummary:
    hosts: tuple[HostRollout, ...] = ()
    not_rolled: tuple[str, ...] = ()
    swaps: int | None = None  # from the "swaps:" line
    median_s: float | None = None
    max_s: float | None = None
    total_s: float | None = None

    def swap_seconds(self) -> list[float]:
        return [swap.seconds for host in self.hosts for swap in host.swaps]

    def swap_median(self) -> float | None:
        """The summary's median, else the median of the swaps listed per host."""
        times = self.swap_seconds()
        return self.median_s if self.median_s is not None else (bc.median(times) if times else None)

    def swap_max(self) -> float | None:
        times = self.swap_seconds()
        return self.max_s if self.max_s is not None else max(times, default=None)

    def swap_count(self) -> int:
        return self.swaps if self.swaps is not None else len(self.swap_seconds())

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


_SUMMARY_TASK_RE = re.compile(r"^TASK \[(?:[^\]]* : )?Deploy summary\]")
_MSG_RE = re.compile(r"^(?P<indent> *)msg:\s*$")
_ITEM_RE = re.compile(r"^(?P<indent> *)- (?P<text>.*)$")
_HOST_LINE_RE = re.compile(
    r"^(?P<host>[^\s:]+): (?P<from>.+?) -> (?P<to>\S+), (?P<outcome>ok|FAILED at [^,]+, undone), "
    r"(?P<count>\d+) swap\(s\) in (?P<seconds>\S+) s: (?P<swaps>.*)$"
)
_SWAP_RE = re.compile(r"(?P<replica>\S+) (?P<src>\S+)->(?P<dst>\S+) (?P<seconds>\d+(?:\.\d+)?)s\b")
_NOT_ROLLED_RE = re.compile(r"^(?P<host>[^\s:]+): not rolled\b")
_SWAPS_LINE_RE = re.compile(r"^swaps: (?P<n>\d+), median (?P<median>[\d.]+) s, max (?P<max>[\d.]+) s$")
_TOTAL_LINE_RE = re.compile(r"^total: (?P<total>[\d.]+) s$")
_ESCAPES = {"n": "\n", "t": "\t", " ": " ", '"': '"', "\\": "\\", "/": "/"}


def summary_output(output: str) -> str:
    """The output from the last "Deploy summary" task banner on ("" without one)."""
    lines = output.splitlines()
    banners = [i for i, line in enumerate(lines) if _SUMMARY_TASK_RE.match(line)]
    return "\n".join(lines[banners[-1] :]) if banners else ""


def msg_items(output: str) -> list[list[str]]:
    """The list items of the first ``msg:`` block of ``output`` (YAML result format),
    each as its raw lines: the first without ``- ``, then its continuation lines."""
    lines = output.splitlines()
    msg = next(((i, m) for i, line in enumerate(lines) if (m := _MSG_RE.match(line))), None)
    if msg is None:
        return []
    items: list[list[str]] = []
    base, item_indent = len(msg[1]["indent"]), -1
    for line in lines[msg[0] + 1 :]:
        indent = len(line) - len(line.lstrip(" "))
        item = _ITEM_RE.match(line)
        if not line.strip() or indent < base or (indent == base and item is None):
            break
        if item is not None and (not items or indent == item_indent):
            item_indent = indent
            items.append([item["text"]])
        elif items:
            items[-1].append(line.strip())
    return items


def yaml_scalar(pieces: Sequence[str]) -> str:
    """One YAML flow scalar that the emitter may have wrapped over several lines:
    plain, 'single-quoted' or "double-quoted" (where a line ending in ``\\`` goes
    on without a space)."""
    first = pieces[0].strip()
    if first.startswith('"'):
        text = ""
        for piece in (p.strip() for p in pieces):
            text += piece[:-1] if piece.endswith("\\") and not piece.endswith("\\\\") else piece + " "
        inner = text.rstrip()[1:-1] if text.rstrip().endswith('"') else text.rstrip()[1:]
        return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m[1], m[0]), inner)
    text = " ".join(p.strip() for p in pieces)
    if first.startswith("'"):
        return text[1:-1].replace("''", "'") if text.endswith("'") else text[1:]
    return text


def summary_lines(output: str) -> list[str]:
    """The lines of the deploy summary, unwrapped. Without a YAML ``msg:`` block
    after the task's banner (another callback or result format), every line of
    the output stripped of JSON/YAML quoting instead."""
    items = msg_items(summary_output(output))
    if items:
        return [yaml_scalar(item) for item in items]
    return [line.strip().rstrip(",").strip("'\"") for line in output.splitlines()]


def _float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def host_rollout(line: str) -> HostRollout | None:
    match = _HOST_LINE_RE.match(line)
    if match is None:
        return None
    swaps = tuple(
        Swap(m["replica"], m["src"], m["dst"], float(m["seconds"])) for m in _SWAP_RE.finditer(match["swaps"])
    )
    return HostRollout(
        match["host"], match["from"], match["to"], match["outcome"], _float(match["seconds"]), swaps
    )


def parse_deploy_summary(output: str) -> DeploySummary | None:
    """The deploy summary upgrade.yml / rollback.yml print at the end (see
    plugins/filter/status.py rollout_summary), or None when there is none."""
    hosts: list[HostRollout] = []
    not_rolled: list[str] = []
    swaps: re.Match[str] | None = None
    total: re.Match[str] | None = None
    for line in summary_lines(output):
        if (host := host_rollout(line)) is not None:
            hosts.append(host)
        elif match := _NOT_ROLLED_RE.match(line):
            not_rolled.append(match["host"])
        else:
            swaps = _SWAPS_LINE_RE.match(line) or swaps
            total = _TOTAL_LINE_RE.match(line) or total
    if not (hosts or not_rolled or swaps or total):
        return None
    return DeploySummary(
        hosts=tuple(hosts),
        not_rolled=tuple(not_rolled),
        swaps=int(swaps["n"]) if swaps else None,
        median_s=float(swaps["median"]) if swaps else None,
        max_s=float(swaps["max"]) if swaps else None,
        total_s=float(total["total"]) if total else None,
    )


# --------------------------------------------------------------------------
# Load figures (pure)
# --------------------------------------------------------------------------


def serving_per_second(records: Sequence[lg.RequestRecord]) -> list[int]:
    """Per second of the run (by completion, as loadgen's timeline), how many
    distinct (host, replica) pairs gave a successful answer. Only GET / names
    its host; POST /echo answers are not counted."""
    seconds = max((math.floor(r.end) + 1 for r in records), default=0)
    pairs: list[set[tuple[str, str]]] = [set() for _second in range(seconds)]
    for record in records:
        if record.ok and record.host is not None and record.replica is not None:
            pairs[max(0, math.floor(record.end))].add((record.host, record.replica))
    return [len(found) for found in pairs]


def step_seconds(start: float, end: float) -> range:
    """Whole seconds of the run inside [start, end]; the seconds it touches when none is."""
    inside = range(math.ceil(start), math.floor(end))
    return inside if len(inside) else range(math.floor(start), max(math.ceil(end), math.floor(start) + 1))


def min_during(series: Sequence[int], start: float, end: float) -> int | None:
    """The smallest value of a per-second series over the step [start, end]; None
    when the series does not reach that far."""
    values = [series[s] for s in step_seconds(start, end) if 0 <= s < len(series)]
    return min(values) if values else None


@dataclass(frozen=True)
class LoadFigures:
    result: bc.LoadResult
    failed_by_method: dict[str, int]  # GET / POST
    failed_by_mode: dict[str, int]  # keepalive (reused connection) / new
    replicas_min: int | None  # distinct (host, replica) answering per second, min over the step
    replicas_max: int  # ... max over the whole window
    serving: list[int]
    timeline: list[dict[str, object]]

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def load_figures(
    summary: Mapping[str, Any], records: Sequence[lg.RequestRecord], step: tuple[float, float]
) -> LoadFigures:
    """The figures of one measured window: ``summary`` is loadgen's (as a dict),
    ``step`` the step's start and end in seconds since the load started."""
    serving = serving_per_second(records)
    methods = summary.get("by_method") or {}
    modes = summary.get("by_mode") or {}
    return LoadFigures(
        result=bc.load_result(summary),
        failed_by_method={m: int(methods.get(m, {}).get("failed", 0)) for m in ("GET", "POST")},
        failed_by_mode={m: int(modes.get(m, {}).get("failed", 0)) for m in lg.MODES},
        replicas_min=min_during(serving, *step),
        replicas_max=max(serving, default=0),
        serving=serving,
        timeline=list(summary.get("timeline") or []),
    )


@dataclass
class Phase:
    name: str
    title: str
    from_version: str
    to_version: str
    step_s: float | None = None
    step_window: tuple[float, float] | None = None  # seconds since the load started
    load: LoadFigures | None = None
    summary: DeploySummary | None = None
    details: dict[str, object] = field(default_factory=dict)
    error: str = ""

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["load"] = self.load.to_dict() if self.load else None
        data["summary"] = self.summary.to_dict() if self.summary else None
        return data


# --------------------------------------------------------------------------
# Load window (loadgen as a library)
# --------------------------------------------------------------------------


class LoadWindow:
    """Load in background threads while a step runs; ``stop()`` returns the
    summary and the records, and writes loadgen's JSON to the log directory."""

    def __init__(self, spec: LoadSpec, name: str, log_dir: Path, max_duration: float) -> None:
        self.runner = lg.LoadRunner(spec.config(max_duration))
        self.grace = self.runner.config.timeout + STOP_GRACE
        self.out = log_dir / f"{name}-loadgen.json"

    def __enter__(self) -> LoadWindow:
        config = self.runner.config
        self.runner.start()
        bc.say(f"load started: {config.clients} clients -> {config.url}")
        return self

    def elapsed(self) -> float:
        return self.runner.elapsed()

    def stop(self) -> tuple[dict[str, Any], list[lg.RequestRecord]]:
        summary = self.runner.stop("step done", timeout=self.grace)
        failures = self.runner.failures(lg.MAX_FAILURES_OUT)
        lg.write_results(str(self.out), self.runner.config, summary, failures)
        bc.say(f"load stopped: {summary.total} requests, {summary.failed} failed (results: {self.out})")
        return summary.to_dict(), self.runner.records()

    def __exit__(self, *exc_info: object) -> None:
        if self.runner.running:
            self.runner.stop("aborted", timeout=self.grace)


def measured(phase: Phase, settings: Settings, step: Callable[[], dict[str, object]]) -> Phase:
    """Run ``step`` inside a load window; a failing step (CommandError, or an
    "error" in the details it returns) is recorded, not raised."""
    limit = window_limit(settings.before, settings.step_timeout, settings.after)
    with LoadWindow(settings.spec, phase.name, settings.log_dir, limit) as window:
        time.sleep(settings.before)
        started, start_s = time.monotonic(), window.elapsed()
        try:
            phase.details = step()
            phase.error = str(phase.details.get("error") or "")
        except bc.CommandError as exc:
            phase.error = str(exc)
        if phase.error:
            bc.say(f"{phase.name} failed: {phase.error}")
        phase.step_s = round(time.monotonic() - started, 3)
        phase.step_window = (round(start_s, 3), round(window.elapsed(), 3))
        time.sleep(settings.after)
        summary, records = window.stop()
    phase.load = load_figures(summary, records, phase.step_window)
    return phase


# --------------------------------------------------------------------------
# Steps
# --------------------------------------------------------------------------


def rolling_step(phase: Phase, settings: Settings) -> dict[str, object]:
    log = settings.log_dir / "upgrade.log"
    result = bc.run_playbook(
        "playbooks/upgrade.yml",
        extra_vars={"app_version": phase.to_version},
        timeout=settings.step_timeout,
        log=log,
    )
    phase.summary = parse_deploy_summary(result.stdout)
    details: dict[str, object] = {
        "returncode": result.returncode,
        "playbook_s": round(result.seconds, 3),
        "plays_s": bc.play_durations(bc.parse_profile_timeline(result.stdout)),
        "log": str(log),
    }
    if not result.ok:
        details["error"] = f"upgrade.yml failed (rc {result.returncode}), see {log}"
    elif phase.summary is None:
        bc.say(f"WARNING: no deploy summary found in {log}")
    return details


def naive_on_host(host: str, image: str, old: str, new: str, deadline: float) -> dict[str, object]:
    """The naive command on one host, then wait until its replicas are healthy on ``new``."""
    started = time.monotonic()
    result = bc.docker_exec(host, ["sh", "-c", naive_command(image, old, new)], timeout=deadline - started)
    record: dict[str, object] = {
        "host": host,
        "returncode": result.returncode,
        "compose_up_s": round(result.seconds, 3),
        "output": bc.tail(result.stdout + result.stderr, 10),
    }
    if not result.ok:
        record["error"] = f"{host}: the naive command exited {result.returncode}"
        return record
    try:
        record["healthy_after_s"] = round(wait_ready(host, f"{image}:{new}", deadline) - started, 3)
    except bc.CommandError as exc:
        record["error"] = str(exc)
    return record


def wait_ready(host: str, image_ref: str, deadline: float) -> float:
    """Poll ``docker compose ps`` until every replica listed in compose.yml is
    healthy on image_ref; the time then."""
    compose = bc.docker_exec(host, ["cat", f"{PROJECT_DIR}/compose.yml"]).check().stdout
    services = compose_app_services(compose) or None
    expected = len(services) if services else REPLICAS_PER_HOST
    argv = [
        "sh",
        "-c",
        f"cd {shlex.quote(PROJECT_DIR)} && docker compose ps --all --format {shlex.quote(PS_FORMAT)}",
    ]
    while time.monotonic() < deadline:
        result = bc.docker_exec(host, argv, timeout=30)
        if result.ok and replicas_ready(parse_compose_ps(result.stdout), image_ref, expected, services):
            return time.monotonic()
        time.sleep(HEALTH_POLL)
    raise bc.CommandError(f"{host}: replicas not healthy on {image_ref} in time")


def naive_step(phase: Phase, settings: Settings) -> dict[str, object]:
    old, new = phase.from_version, phase.to_version
    deadline = time.monotonic() + settings.step_timeout
    with ThreadPoolExecutor(max_workers=len(APP_HOSTS)) as pool:
        futures = [pool.submit(naive_on_host, host, IMAGE, old, new, deadline) for host in APP_HOSTS]
        hosts = [future.result() for future in futures]
    details: dict[str, object] = {"command": naive_command(IMAGE, old, new), "hosts": hosts}
    errors = [str(h["error"]) for h in hosts if h.get("error")]
    if errors:
        details["error"] = "; ".join(errors)
    return details


def check_naive_ready(image: str, current: str, target: str) -> None:
    """Before the naive step: target's image is on every host and compose.yml runs current."""
    for host in APP_HOSTS:
        if not bc.docker_exec(host, ["docker", "image", "inspect", f"{image}:{target}"]).ok:
            raise bc.CommandError(f"{host} has no image {image}:{target}")
        pattern = f"{sed_pattern(f'{image}:{current}')}$"
        grep = bc.docker_exec(host, ["grep", "-c", pattern, f"{PROJECT_DIR}/compose.yml"])
        if grep.stdout.strip() != str(REPLICAS_PER_HOST):
            raise bc.CommandError(f"{host}: compose.yml does not run {image}:{current} on every replica")


def unexpected_changes(output: str) -> dict[str, list[str]]:
    """Tasks of a restoring site.yml run that changed something other than the
    routes and release records."""
    changed = bc.changed_tasks(output)
    return {task: hosts for task, hosts in changed.items() if task.split(" : ", 1)[-1] not in RECORD_TASKS}


def restore_lab(old: str, settings: Settings) -> dict[str, object]:
    """site.yml with the lab's version set to OLD: compose.yml already runs it;
    the routes and release records follow. Not measured."""
    bc.say(f"restoring the records to {old} with playbooks/site.yml (not measured)")
    log = settings.log_dir / "site-restore.log"
    extra = {"stack_keep_deployed_version": False, "app_version": old}
    result = bc.run_playbook("playbooks/site.yml", extra_vars=extra, timeout=SITE_TIMEOUT, log=log)
    others = unexpected_changes(result.stdout)
    for task, hosts in others.items():
        bc.say(f"WARNING: the restoring site.yml changed more than the records: {task} on {', '.join(hosts)}")
    return {
        "playbook": "playbooks/site.yml",
        "extra_vars": extra,
        "returncode": result.returncode,
        "seconds": round(result.seconds, 1),
        "log": str(log),
        "unexpected_changes": others,
    }


# --------------------------------------------------------------------------
# Lab checks
# --------------------------------------------------------------------------


def deployed_version(hosts: Sequence[str] = APP_HOSTS) -> str:
    """The release every app host records; CommandError if they differ."""
    versions = {}
    for host in hosts:
        result = bc.docker_exec(host, ["cat", f"{PROJECT_DIR}/release.json"])
        versions[host] = parse_release(result.stdout) if result.ok else None
    found = set(versions.values())
    if None in found or len(found) != 1:
        raise bc.CommandError(f"app hosts are not on one recorded release: {versions}; run `make demo`")
    return str(found.pop())


def wait_serving(url: str, timeout: float = 60.0) -> None:
    """Until the balancer answers 200 (three times in a row)."""
    deadline = time.monotonic() + timeout
    streak = 0
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # no proxy, as loadgen
    while time.monotonic() < deadline and streak < 3:
        try:
            with opener.open(url, timeout=5) as answer:
                streak = streak + 1 if answer.status == 200 else 0
        except (urllib.error.URLError, OSError):
            streak = 0
        time.sleep(0.2)
    if streak < 3:
        raise bc.CommandError(f"{url} does not answer 200; is the lab up (`make demo`)?")


def versions(args: argparse.Namespace) -> tuple[str, str]:
    old = deployed_version()
    if args.from_version and args.from_version != old:
        raise bc.CommandError(f"the app hosts record {old}, not {args.from_version}")
    if args.to_version == old:
        raise bc.CommandError(
            f"the lab runs {old} already: pick another --to-version (e.g. 3.0.0) "
            "or run playbooks/rollback.yml first"
        )
    return old, args.to_version


# --------------------------------------------------------------------------
# Rolling vs naive
# --------------------------------------------------------------------------


def run_phases(
    old: str, new: str, settings: Settings, phases: list[Phase], restore: list[dict[str, object]]
) -> None:
    """Rolling (measured), naive (measured), site.yml (restore); appends as it goes."""
    wait_serving(settings.spec.url)
    rolling = Phase("rolling", "Rolling: upgrade.yml", old, new)
    phases.append(measured(rolling, settings, lambda: rolling_step(rolling, settings)))
    if rolling.error:
        return
    time.sleep(settings.settle)
    wait_serving(settings.spec.url)
    check_naive_ready(IMAGE, new, old)
    naive = Phase("naive", "Naive: sed + compose up -d, all hosts at once", new, old)
    try:
        phases.append(measured(naive, settings, lambda: naive_step(naive, settings)))
    finally:
        restore.append(restore_lab(old, settings))


# --------------------------------------------------------------------------
# Batch size on a 6-app-host lab (no load)
# --------------------------------------------------------------------------


@dataclass
class BatchRun:
    batch: int
    from_version: str
    to_version: str
    returncode: int | None = None
    playbook_s: float | None = None
    rollout_play_s: float | None = None
    ship_play_s: float | None = None
    summary: DeploySummary | None = None
    log: str = ""

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["summary"] = self.summary.to_dict() if self.summary else None
        return data


def batch_upgrade(run: BatchRun, settings: Settings) -> BatchRun:
    log = settings.log_dir / f"bench6-upgrade-batch{run.batch}.log"
    result = bc.run_inventory_playbook(
        "playbooks/upgrade.yml",
        BENCH6_INVENTORY,
        extra_vars={"app_version": run.to_version, "rollout_batch": run.batch},
        timeout=settings.step_timeout,
        log=log,
    )
    plays = bc.play_durations(bc.parse_profile_timeline(result.stdout))
    run.returncode, run.playbook_s, run.log = result.returncode, round(result.seconds, 3), str(log)
    run.rollout_play_s, run.ship_play_s = plays.get(ROLLOUT_PLAY), plays.get(SHIP_PLAY)
    run.summary = parse_deploy_summary(result.stdout)
    result.check()
    return run


def lab_playbook(playbook: str, settings: Settings, label: str, timeout: float) -> bc.CommandResult:
    log = settings.log_dir / f"bench6-{label}.log"
    return bc.run_inventory_playbook(playbook, BENCH6_INVENTORY, timeout=timeout, log=log)


def batch_lab(settings: Settings, runs: list[BatchRun]) -> dict[str, object]:
    """Create and deploy the 6-app-host lab, upgrade it with each batch size,
    destroy it (also on failure). Appends to ``runs`` as it goes."""
    lab: dict[str, object] = {"inventory": BENCH6_INVENTORY}
    current = BENCH6_START_VERSION
    try:
        lab["create_s"] = round(
            lab_playbook("tests/lab/create.yml", settings, "create", LAB_CREATE_TIMEOUT).check().seconds, 1
        )
        lab["site_s"] = round(
            lab_playbook("playbooks/site.yml", settings, "site", LAB_SITE_TIMEOUT).check().seconds, 1
        )
        for batch, version in zip(BATCH_SIZES, settings.batch_versions, strict=True):
            runs.append(BatchRun(batch, current, version))
            batch_upgrade(runs[-1], settings)
            current = version
    except bc.CommandError as exc:
        lab["error"] = str(exc)
        bc.say(f"batch lab failed: {exc}")
    finally:
        destroyed = lab_playbook("tests/lab/destroy.yml", settings, "destroy", LAB_DESTROY_TIMEOUT)
        lab["destroyed"] = destroyed.ok
        if not destroyed.ok:
            bc.say(f"WARNING: the 6-host lab may be left over; see {settings.log_dir}/bench6-destroy.log")
    return lab


# --------------------------------------------------------------------------
# Chart
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class ChartPanel:
    title: str
    timeline: Sequence[Mapping[str, Any]]  # loadgen's: {second, ok, failed, p99_ms, versions}
    step: tuple[float, float] | None = None  # seconds since the load started


def chart_title(phase: Phase) -> str:
    head = f"{phase.title}, {phase.from_version} -> {phase.to_version}"
    if phase.load is None:
        return head
    result = phase.load.result
    return f"{head}\n{result.total:,} requests, {result.failed:,} failed"


def chart_versions(panels: Sequence[ChartPanel]) -> list[str]:
    found = {str(v) for panel in panels for entry in panel.timeline for v in entry.get("versions") or {}}
    return sorted(found)


def answer_stacks(panel: ChartPanel, versions: Sequence[str]) -> dict[str, list[int]]:
    """Bar heights per second of the panel: one series per version, "other"
    (ok answers that named no version), "failed"."""
    stacks = {v: [int((e.get("versions") or {}).get(v, 0)) for e in panel.timeline] for v in versions}
    named = [sum(heights) for heights in zip(*stacks.values(), strict=True)] or [0] * len(panel.timeline)
    stacks["other"] = [max(0, int(e.get("ok", 0)) - n) for e, n in zip(panel.timeline, named, strict=True)]
    stacks["failed"] = [int(e.get("failed", 0)) for e in panel.timeline]
    return stacks


def _draw_answers(ax: Any, panel: ChartPanel, colors: Mapping[str, str]) -> int:
    """Stacked bars; returns the highest stack."""
    seconds = [int(e["second"]) for e in panel.timeline]
    base = [0] * len(seconds)
    for name, heights in answer_stacks(panel, list(colors)).items():
        if name in colors or any(heights):
            label = f"ok, {name}" if name in colors else ("ok, no version" if name == "other" else name)
            color = colors.get(name, "red" if name == "failed" else "0.6")
            ax.bar(seconds, heights, bottom=base, width=1.0, align="edge", color=color, label=label)
        base = [b + h for b, h in zip(base, heights, strict=True)]
    ax.set_ylabel("answers per second")
    return max(base, default=0)


def _draw_p99(ax: Any, panel: ChartPanel) -> None:
    points = [(int(e["second"]) + 0.5, float(e.get("p99_ms", 0.0))) for e in panel.timeline]
    points = [(x, y) for x, y in points if y > 0]
    if points:
        xs, ys = zip(*points, strict=True)
        ax.plot(xs, ys, color="black", linewidth=1.2, marker=".", markersize=3)
        ax.set_yscale("log")
    ax.set_ylabel("p99 latency per second, ms (log scale)")
    ax.set_xlabel("seconds since the load started (shaded: the step)")


def write_chart(path: Path, panels: Sequence[ChartPanel]) -> Path | None:
    """One PNG, 1400 x 800: a column per panel; top row answers per second
    (stacked by version, failed in red), bottom row p99 per second. The step
    is shaded. None (and a message) when matplotlib is missing."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        bc.say("matplotlib is not installed (pip install -r requirements-dev.txt): no chart")
        return None
    fig = Figure(figsize=CHART_SIZE, dpi=CHART_DPI)
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, len(panels), sharex="col", sharey="row", squeeze=False)
    palette = ("tab:blue", "tab:green", "tab:orange", "tab:purple", "tab:brown", "tab:cyan")
    colors = {v: palette[i % len(palette)] for i, v in enumerate(chart_versions(panels))}
    highest = 0
    for column, panel in enumerate(panels):
        top, bottom = axes[0][column], axes[1][column]
        highest = max(highest, _draw_answers(top, panel, colors))
        _draw_p99(bottom, panel)
        top.set_title(panel.title, fontsize="medium")
        top.legend(loc="upper left", fontsize="small", ncols=4, framealpha=0.9)
        for ax in (top, bottom):
            if panel.step is not None:
                ax.axvspan(*panel.step, color="0.88", zorder=0)
            ax.grid(axis="y", alpha=0.3)
    axes[0][0].set_ylim(0, max(highest, 1) * 1.3)  # room for the legends
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=CHART_DPI)
    bc.say(f"chart written to {path}")
    return path


def phase_panels(phases: Sequence[Phase]) -> list[ChartPanel]:
    return [ChartPanel(chart_title(p), p.load.timeline, p.step_window) for p in phases if p.load is not None]


def document_panels(document: Mapping[str, Any]) -> list[ChartPanel]:
    """The chart panels of a JSON document this script wrote (see to_document)."""
    panels = []
    for phase in document.get("phases") or []:
        load = phase.get("load") or {}
        if not load.get("timeline"):
            continue
        result = load.get("result") or {}
        title = (
            f"{phase.get('title')}, {phase.get('from_version')} -> {phase.get('to_version')}\n"
            f"{int(result.get('total', 0)):,} requests, {int(result.get('failed', 0)):,} failed"
        )
        window = phase.get("step_window")
        panels.append(ChartPanel(title, load["timeline"], tuple(window) if window else None))
    return panels


def redraw(source: Path, chart: Path | None) -> int:
    """--chart-from: the chart of an earlier run, from its JSON."""
    if chart is None:
        bc.say("--chart-from with --no-chart: nothing to do")
        return 2
    try:
        panels = document_panels(json.loads(source.read_text(encoding="utf-8")))
    except (OSError, ValueError, AttributeError) as exc:
        bc.say(f"cannot read {source}: {exc}")
        return 1
    if not panels:
        bc.say(f"{source} holds no measured step")
        return 1
    return 0 if write_chart(chart, panels) else 1


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------

ROW_LABELS = (
    "Versions",
    "Requests",
    "Failed GETs",
    "Failed POSTs",
    "Failed on kept-alive / new connections",
    "Failures: non-2xx / transport errors",
    "req/s",
    "p99 latency, ms",
    "Max latency, ms",
    "Max gap between successes, s",
    "Replicas serving per second, min during the step",
    "Step duration, s",
    "Replica swap, median / max, s",
)


def _pair(first: object, second: object, digits: int = 1) -> str:
    return f"{bc.fmt(first, digits)} / {bc.fmt(second, digits)}"


def phase_column(phase: Phase) -> list[object]:
    versions = f"{phase.from_version} -> {phase.to_version}"
    summary = phase.summary
    swap = _pair(summary.swap_median(), summary.swap_max()) if summary and summary.swap_count() else "-"
    load = phase.load
    if load is None:
        return [versions, *["-"] * (len(ROW_LABELS) - 3), phase.step_s, swap]
    result = load.result
    return [
        versions,
        result.total,
        load.failed_by_method["GET"],
        load.failed_by_method["POST"],
        _pair(load.failed_by_mode["keepalive"], load.failed_by_mode["new"]),
        _pair(result.non_2xx, result.transport_errors),
        result.requests_per_second,
        result.p99_ms,
        result.max_ms,
        f"{result.max_gap_s:.3f}",
        f"{bc.fmt(load.replicas_min)} of {load.replicas_max}",
        phase.step_s,
        swap,
    ]


def comparison_table(phases: Sequence[Phase]) -> str:
    columns = [phase_column(p) for p in phases]
    rows = [[label, *(column[i] for column in columns)] for i, label in enumerate(ROW_LABELS)]
    return bc.markdown_table(["", *(p.title for p in phases)], rows)


def host_lines(name: str, summary: DeploySummary) -> list[str]:
    """The deploy summary of step ``name``, a line per host."""
    lines = []
    for host in summary.hosts:
        swaps = ", ".join(f"{s.replica} {s.seconds:.1f} s" for s in host.swaps) or "none"
        lines.append(
            f"- {name}, {host.host}: {host.from_version} -> {host.to_version}, {host.outcome}, "
            f"{len(host.swaps)} swap(s) in {bc.fmt(host.seconds)} s ({swaps})"
        )
    lines += [f"- {name}, {host}: not rolled" for host in summary.not_rolled]
    if summary.total_s is not None:
        lines.append(f"- {name}: upgrade.yml's own total (after its validation play) {summary.total_s:.1f} s")
    return lines


def play_lines(name: str, details: Mapping[str, object]) -> list[str]:
    """Build + ship and replace plays of an upgrade.yml run, from profile_tasks."""
    plays = details.get("plays_s")
    if not isinstance(plays, dict) or not any(plays.get(p) for p in (SHIP_PLAY, ROLLOUT_PLAY)):
        return []
    return [
        f"- {name}: build + ship play {bc.fmt(plays.get(SHIP_PLAY))} s, "
        f"replace play {bc.fmt(plays.get(ROLLOUT_PLAY))} s (profile_tasks)"
    ]


def naive_lines(name: str, details: Mapping[str, object]) -> list[str]:
    """Per host of the naive step: how long ``compose up -d`` took, and until all was healthy."""
    hosts = details.get("hosts")
    if not isinstance(hosts, list):
        return []
    return [
        f"- {name}, {h['host']}: `compose up -d` {bc.fmt(h.get('compose_up_s'))} s, "
        f"every replica healthy after {bc.fmt(h.get('healthy_after_s'))} s"
        for h in hosts
        if isinstance(h, dict)
    ]


def batch_table(runs: Sequence[BatchRun]) -> str:
    rows = [
        [
            f"rollout_batch={run.batch}",
            f"{run.from_version} -> {run.to_version}",
            run.playbook_s,
            run.ship_play_s,
            run.rollout_play_s,
            run.summary.swap_count() if run.summary else None,
            _pair(run.summary.swap_median(), run.summary.swap_max()) if run.summary else "-",
            "ok" if run.returncode == 0 else f"failed (rc {run.returncode})",
        ]
        for run in runs
    ]
    headers = (
        f"{BENCH6_APP_HOSTS} app hosts, no load",
        "Versions",
        "upgrade.yml, s",
        "build + ship play, s",
        "replace play, s",
        "Swaps",
        "Swap median / max, s",
        "Result",
    )
    return bc.markdown_table(headers, rows)


def chart_link(chart: Path | None) -> str:
    """Markdown image of the chart, relative to docs/ where it lives under it."""
    if chart is None:
        return ""
    target = chart.resolve()
    link = os.path.relpath(target, DOCS_DIR) if target.is_relative_to(bc.REPO_ROOT) else str(target)
    return f"![Rolling upgrade vs naive cutover: answers and p99 per second]({link})"


def heading(settings: Settings) -> str:
    spec = settings.spec
    return (
        f"## Rolling upgrade vs naive cutover ({spec.clients} clients at full speed, "
        f"{spec.keepalive_ratio:.0%} of them on kept-alive connections, {spec.post_ratio:.0%} POSTs, "
        f"through {spec.url}; load from {settings.before:g} s before to {settings.after:g} s after each step)"
    )


def report(phases: Sequence[Phase], settings: Settings, chart: Path | None, runs: Sequence[BatchRun]) -> str:
    parts = [heading(settings), "", comparison_table(phases), ""] if phases else []
    if chart is not None:
        parts += [chart_link(chart), ""]
    parts += [
        "- Step duration: rolling = upgrade.yml end to end (build and ship of the image included); "
        "naive = from `compose up -d` on all app hosts at once until every replica is healthy again.",
        "- Replicas serving: distinct (host, replica) pairs that answered a GET successfully in a second "
        "(the lowest second of the step, of the most seen in any second). "
        "Latency figures cover the whole load window.",
    ]
    for phase in phases:
        if phase.summary is not None:
            parts += host_lines(phase.name, phase.summary)
        parts += play_lines(phase.name, phase.details) + naive_lines(phase.name, phase.details)
    parts += [f"- {p.name} failed: {p.error}" for p in phases if p.error]
    if runs:
        parts += [
            "",
            f"### Batch size: rollout_batch=1 vs 3 on {BENCH6_APP_HOSTS} app hosts",
            "",
            batch_table(runs),
            "",
            "upgrade.yml end to end, without load. Play durations from profile_tasks: "
            "the replace play holds the swaps of every batch; the build + ship play is shorter "
            "when the controller had the image already.",
        ]
    return "\n".join(parts)


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------


@dataclass
class Outcome:
    phases: list[Phase] = field(default_factory=list)
    restore: list[dict[str, object]] = field(default_factory=list)
    runs: list[BatchRun] = field(default_factory=list)
    batch: dict[str, object] = field(default_factory=dict)
    old: str = ""
    new: str = ""
    error: str = ""


def first_error(outcome: Outcome) -> str:
    errors = [
        outcome.error,
        *(p.error for p in outcome.phases),
        *(f"{r['playbook']} failed, see {r['log']}" for r in outcome.restore if r["returncode"]),
        str(outcome.batch.get("error") or ""),
    ]
    return next((e for e in errors if e), "")


def run_all(args: argparse.Namespace, settings: Settings) -> Outcome:
    outcome = Outcome()
    try:
        if not args.batch_only:
            outcome.old, outcome.new = versions(args)
            run_phases(outcome.old, outcome.new, settings, outcome.phases, outcome.restore)
    except bc.CommandError as exc:
        outcome.error = str(exc)
        bc.say(f"FAILED: {exc}")
    if settings.batch_versions:
        outcome.batch = batch_lab(settings, outcome.runs)
    return outcome


def to_document(outcome: Outcome, settings: Settings, chart: Path | None) -> dict[str, object]:
    return {
        "benchmark": "rolling-vs-naive",
        "finished": bc.timestamp(),
        "machine": bc.machine_info(),
        "load": {**asdict(settings.spec), "before_s": settings.before, "after_s": settings.after},
        "from_version": outcome.old,
        "to_version": outcome.new,
        "phases": [p.to_dict() for p in outcome.phases],
        "unmeasured": outcome.restore,
        "batch_lab": {**outcome.batch, "runs": [r.to_dict() for r in outcome.runs]},
        "chart": str(chart) if chart else None,
        "error": first_error(outcome),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = settings_from(args)
    except ValueError as exc:
        parser.error(str(exc))
    if args.chart_from:
        return redraw(args.chart_from, settings.chart)
    settings.log_dir.mkdir(parents=True, exist_ok=True)
    outcome = run_all(args, settings)
    panels = phase_panels(outcome.phases)
    chart = write_chart(settings.chart, panels) if settings.chart and panels else None
    if outcome.phases or outcome.runs:
        print(report(outcome.phases, settings, chart, outcome.runs))
    document = to_document(outcome, settings, chart)
    bc.write_json(args.out, document)
    return 1 if document["error"] else 0


if __name__ == "__main__":
    sys.exit(main())
