#!/usr/bin/env python3
"""Rolling upgrade vs the naive all-at-once recreate, under the same load.

Needs the lab of ``make demo``, every app host on one recorded release OLD
(detected from /opt/pyweb/release.json; 1.0.0 after ``make demo``). The load
generator (tests/lib/loadgen.py, a subprocess of this script) sends GETs and
POSTs through the balancer at http://127.0.0.1:8080/ from the controller,
from --before seconds ahead of each step until --after seconds past it.

1. rolling, measured: ``playbooks/upgrade.yml -e app_version=NEW`` (OLD -> NEW,
   one replica at a time, health-gated);
2. naive, measured: on every app host at once (one thread per host)
   ``cd /opt/pyweb && sed -i 's#pyweb/app:NEW$#pyweb/app:OLD#' compose.yml &&
   docker compose up -d``: all replicas recreated together, the classic way.
   OLD's image is still on the hosts. The step lasts until every replica is
   healthy again on OLD. The replica watchdog timer is paused meanwhile, as
   the rolling upgrade pauses it;
3. restore, not measured: ``playbooks/site.yml``. The stack role keeps the
   recorded release (NEW), so compose.yml goes back to NEW; this recreates
   the replicas. With --rollback-after, ``playbooks/rollback.yml`` then
   returns the lab to OLD (one replica at a time).

    .venv/bin/python scripts/bench_rollout.py [--to-version 2.0.0] [--clients 16]
        [--rollback-after] [--out build/bench/rollout.json]

Markdown on stdout, progress on stderr, JSON to --out, playbook logs in --log-dir.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import shlex
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import TracebackType

import bench_common as bc

APP_HOSTS = ("pyweb-lab-app1", "pyweb-lab-app2")
REPLICAS_PER_HOST = 2
PROJECT_DIR = "/opt/pyweb"
IMAGE = "pyweb/app"
URL = "http://127.0.0.1:8080/"
WATCHDOG = "pyweb-heal.timer"
DEFAULT_TO_VERSION = "2.0.0"

MAX_CLIENTS = 64
MAX_WINDOW = 1800.0  # loadgen's own cap on --duration
MAX_PAUSE = 120.0
STOP_GRACE = 15.0
HEALTH_POLL = 1.0
PS_FORMAT = "{{.Service}}\t{{.State}}\t{{.Health}}\t{{.Image}}"


# --------------------------------------------------------------------------
# Pure helpers
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadSpec:
    url: str
    clients: int
    post_ratio: float
    timeout: float


def bounded_spec(url: str, clients: int, post_ratio: float, timeout: float) -> LoadSpec:
    return LoadSpec(
        url=url,
        clients=int(bc.clamp(clients, 1, MAX_CLIENTS)),
        post_ratio=bc.clamp(post_ratio, 0.0, 1.0),
        timeout=bc.clamp(timeout, 0.5, 30.0),
    )


def window_limit(before: float, step_timeout: float, after: float) -> float:
    """loadgen --duration: a hard upper bound of one measured window."""
    return bc.clamp(before + step_timeout + after + 60.0, 1.0, MAX_WINDOW)


def loadgen_argv(spec: LoadSpec, duration: float, stop_file: Path, out: Path) -> list[str]:
    return [
        sys.executable,
        str(bc.LOADGEN_PATH),
        "--url",
        spec.url,
        "--clients",
        str(spec.clients),
        "--duration",
        f"{duration:g}",
        "--post-ratio",
        f"{spec.post_ratio:g}",
        "--timeout",
        f"{spec.timeout:g}",
        "--stop-file",
        str(stop_file),
        "--out",
        str(out),
        "--allow-failures",
    ]


def sed_pattern(text: str) -> str:
    """``text`` as a literal in a sed basic regular expression delimited by ``#``."""
    return re.sub(r"([\\.*\[\]^$#])", r"\\\1", text)


def sed_replacement(text: str) -> str:
    """``text`` as a literal sed replacement delimited by ``#``."""
    return re.sub(r"([\\&#])", r"\\\1", text)


def naive_command(image: str, old: str, new: str, project_dir: str = PROJECT_DIR) -> str:
    """The classic all-at-once upgrade of one host: edit the tag, ``compose up -d``."""
    expression = f"s#{sed_pattern(f'{image}:{old}')}$#{sed_replacement(f'{image}:{new}')}#"
    edit = f"sed -i {shlex.quote(expression)} compose.yml"
    return f"cd {shlex.quote(project_dir)} && {edit} && docker compose up -d"


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


def replicas_ready(states: Sequence[ServiceState], image_ref: str, replicas: int) -> bool:
    """Every app replica runs ``image_ref`` and is healthy (and there are ``replicas``)."""
    apps = [s for s in states if s.service.startswith("app_")]
    return len(apps) == replicas and all(
        s.state == "running" and s.health == "healthy" and s.image == image_ref for s in apps
    )


# --------------------------------------------------------------------------
# Load window
# --------------------------------------------------------------------------


class LoadWindow:
    """tests/lib/loadgen.py as a subprocess; stop() touches its --stop-file."""

    def __init__(self, spec: LoadSpec, name: str, work_dir: Path, max_duration: float) -> None:
        self.spec = spec
        self.max_duration = max_duration
        self.stop_file = work_dir / f"{name}.stop"
        self.out = work_dir / f"{name}-loadgen.json"
        self.log = work_dir / f"{name}-loadgen.log"
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> LoadWindow:
        self.stop_file.parent.mkdir(parents=True, exist_ok=True)
        for stale in (self.stop_file, self.out):
            stale.unlink(missing_ok=True)
        argv = loadgen_argv(self.spec, self.max_duration, self.stop_file, self.out)
        with self.log.open("wb") as log:
            self._proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=bc.REPO_ROOT)
        bc.say(f"load started: {self.spec.clients} clients -> {self.spec.url} (log: {self.log})")
        return self

    def stop(self) -> bc.LoadResult:
        """Stop gracefully (in-flight requests finish), return the summary."""
        self.stop_file.touch()
        self._wait(self.spec.timeout + STOP_GRACE)
        bc.say("load stopped")
        if not self.out.exists():
            raise bc.CommandError(f"the load generator wrote no results, see {self.log}")
        return bc.parse_loadgen_json(self.out.read_text(encoding="utf-8"))

    def _wait(self, timeout: float) -> None:
        if self._proc is None:
            return
        try:
            self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self.stop_file.touch()
            self._wait(self.spec.timeout + STOP_GRACE)


# --------------------------------------------------------------------------
# Phases
# --------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    title: str
    from_version: str
    to_version: str
    step_s: float | None = None
    load: bc.LoadResult | None = None
    details: dict[str, object] = field(default_factory=dict)
    error: str = ""

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["load"] = self.load.to_dict() if self.load else None
        return data


@dataclass(frozen=True)
class Settings:
    spec: LoadSpec
    before: float
    after: float
    settle: float
    step_timeout: float
    work_dir: Path
    log_dir: Path


def measured(phase: Phase, settings: Settings, step: Callable[[], dict[str, object]]) -> Phase:
    """Run ``step`` inside a load window; a failing step (CommandError, or an
    "error" in the details it returns) is recorded, not raised."""
    limit = window_limit(settings.before, settings.step_timeout, settings.after)
    with LoadWindow(settings.spec, phase.name, settings.work_dir, limit) as window:
        time.sleep(settings.before)
        started = time.monotonic()
        try:
            phase.details = step()
            phase.error = str(phase.details.get("error") or "")
        except bc.CommandError as exc:
            phase.error = str(exc)
        if phase.error:
            bc.say(f"{phase.name} failed: {phase.error}")
        phase.step_s = round(time.monotonic() - started, 3)
        time.sleep(settings.after)
        phase.load = window.stop()
    return phase


def rolling_step(to_version: str, settings: Settings) -> dict[str, object]:
    log = settings.log_dir / "upgrade.log"
    result = bc.run_playbook(
        "playbooks/upgrade.yml",
        extra_vars={"app_version": to_version},
        timeout=settings.step_timeout,
        log=log,
    )
    details: dict[str, object] = {
        "returncode": result.returncode,
        "playbook_s": round(result.seconds, 3),
        "log": str(log),
        "swap": bc.swap_report(result.stdout, len(APP_HOSTS) * REPLICAS_PER_HOST),
    }
    if not result.ok:
        details["error"] = f"upgrade.yml failed (rc {result.returncode}), see {log}"
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
    """Poll ``docker compose ps`` until every replica is healthy on image_ref; the time then."""
    argv = [
        "sh",
        "-c",
        f"cd {shlex.quote(PROJECT_DIR)} && docker compose ps --all --format {shlex.quote(PS_FORMAT)}",
    ]
    while time.monotonic() < deadline:
        result = bc.docker_exec(host, argv, timeout=30)
        if result.ok and replicas_ready(parse_compose_ps(result.stdout), image_ref, REPLICAS_PER_HOST):
            return time.monotonic()
        time.sleep(HEALTH_POLL)
    raise bc.CommandError(f"{host}: replicas not healthy on {image_ref} in time")


def naive_step(image: str, old: str, new: str, settings: Settings) -> dict[str, object]:
    deadline = time.monotonic() + settings.step_timeout
    with ThreadPoolExecutor(max_workers=len(APP_HOSTS)) as pool:
        futures = [pool.submit(naive_on_host, host, image, old, new, deadline) for host in APP_HOSTS]
        hosts = [future.result() for future in futures]
    details: dict[str, object] = {"command": naive_command(image, old, new), "hosts": hosts}
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


@contextlib.contextmanager
def watchdog_paused(hosts: Sequence[str]) -> Iterator[list[str]]:
    """Stop the replica watchdog timer where it runs; start it again after."""
    active = [h for h in hosts if bc.docker_exec(h, ["systemctl", "is-active", "--quiet", WATCHDOG]).ok]
    for host in active:
        bc.docker_exec(host, ["systemctl", "stop", WATCHDOG]).check()
    try:
        yield active
    finally:
        for host in active:
            bc.docker_exec(host, ["systemctl", "start", WATCHDOG])


# --------------------------------------------------------------------------
# Lab checks
# --------------------------------------------------------------------------


def deployed_version() -> str:
    """The release every app host records; CommandError if they differ."""
    versions = {}
    for host in APP_HOSTS:
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


def unmeasured_playbook(playbook: str, settings: Settings, label: str) -> dict[str, object]:
    log = settings.log_dir / f"{label}.log"
    result = bc.run_playbook(playbook, timeout=1800.0, log=log)
    return {
        "playbook": playbook,
        "returncode": result.returncode,
        "seconds": round(result.seconds, 1),
        "log": str(log),
    }


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------


def phase_column(phase: Phase) -> list[object]:
    load = phase.load
    if load is None:
        return [f"{phase.from_version} -> {phase.to_version}", *["-"] * 8]
    return [
        f"{phase.from_version} -> {phase.to_version}",
        load.total,
        f"{load.failed:,} ({load.non_2xx:,} + {load.transport_errors:,})",
        load.requests_per_second,
        load.p99_ms,
        load.max_ms,
        f"{load.max_gap_s:.3f}",
        phase.step_s,
        load.duration_s,
    ]


ROW_LABELS = (
    "Versions",
    "Requests",
    "Failures (non-2xx + transport)",
    "req/s",
    "p99 latency, ms",
    "Max latency, ms",
    "Max gap between successes, s",
    "Step duration, s",
    "Load window, s",
)


def comparison_table(phases: Sequence[Phase]) -> str:
    columns = [phase_column(p) for p in phases]
    rows = [[label, *(column[i] for column in columns)] for i, label in enumerate(ROW_LABELS)]
    return bc.markdown_table(["", *(p.title for p in phases)], rows)


def swap_lines(swap: dict[str, object]) -> list[str]:
    lines = []
    if swap.get("swaps"):
        lines.append(
            f"- Time per replica swap (rolling): mean {bc.fmt(swap['swap_mean_s'], 2)} s, "
            f"min {bc.fmt(swap['swap_min_s'], 2)} s, max {bc.fmt(swap['swap_max_s'], 2)} s "
            f"over {swap['swaps']} swaps (profile_tasks: from 'Drain the replica in the host Nginx' "
            "to 'Remember that the replica moved')."
        )
    if swap.get("rollout_play_per_replica_s") is not None:
        lines.append(
            f"- Rollout play '{bc.ROLLOUT_PLAY}': {bc.fmt(swap['rollout_play_s'], 1)} s / "
            f"{swap['replicas']} replicas = {bc.fmt(swap['rollout_play_per_replica_s'], 2)} s per replica "
            "(includes draining each host from the balancer and putting it back)."
        )
    plays = swap.get("plays_s")
    if isinstance(plays, dict) and plays:
        lines.append(
            "- upgrade.yml per play: "
            + "; ".join(f"{name}: {bc.fmt(sec, 1)} s" for name, sec in plays.items())
        )
    return lines or [f"- Time per replica swap: {swap.get('method', 'unavailable')}."]


def report(phases: Sequence[Phase], spec: LoadSpec, settings: Settings) -> str:
    parts = [
        f"## Rolling upgrade vs naive recreate ({spec.clients} clients, POST ratio {spec.post_ratio:g}, "
        f"through {spec.url}, load {settings.before:g} s before and {settings.after:g} s after each step)",
        "",
        comparison_table(phases),
        "",
        "Step duration: rolling = upgrade.yml wall time (build and ship of the image included); "
        "naive = from `compose up -d` on all hosts until every replica is healthy again.",
    ]
    rolling = next((p for p in phases if p.name == "rolling"), None)
    swap = rolling.details.get("swap") if rolling is not None else None
    if isinstance(swap, dict):
        parts += ["", *swap_lines(swap)]
    parts += [f"- {p.name} failed: {p.error}" for p in phases if p.error]
    return "\n".join(parts)


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Rolling upgrade vs naive all-at-once recreate, under load.")
    parser.add_argument("--to-version", default=DEFAULT_TO_VERSION, help="version of the rolling upgrade")
    parser.add_argument("--from-version", help="expected current version (default: the recorded release)")
    parser.add_argument("--clients", type=int, default=16, help=f"concurrent clients (max {MAX_CLIENTS})")
    parser.add_argument("--post-ratio", type=float, default=0.25, help="share of POST /echo requests")
    parser.add_argument("--timeout", type=float, default=5.0, help="per-request timeout, seconds")
    parser.add_argument("--url", default=URL, help="balancer URL as seen from the controller")
    parser.add_argument("--before", type=float, default=5.0, help="seconds of load before each step")
    parser.add_argument("--after", type=float, default=10.0, help="seconds of load after each step")
    parser.add_argument("--settle", type=float, default=10.0, help="pause between the phases, seconds")
    parser.add_argument(
        "--step-timeout", type=float, default=900.0, help="bound of each measured step, seconds"
    )
    parser.add_argument(
        "--rollback-after", action="store_true", help="end with playbooks/rollback.yml (back to OLD)"
    )
    parser.add_argument("--out", type=Path, default=bc.BUILD_DIR / "rollout.json", help="JSON results")
    parser.add_argument(
        "--log-dir", type=Path, default=bc.BUILD_DIR / "logs", help="playbook and loadgen logs"
    )
    return parser


def settings_from(args: argparse.Namespace) -> Settings:
    return Settings(
        spec=bounded_spec(args.url, args.clients, args.post_ratio, args.timeout),
        before=bc.clamp(args.before, 0.0, MAX_PAUSE),
        after=bc.clamp(args.after, 0.0, MAX_PAUSE),
        settle=bc.clamp(args.settle, 0.0, MAX_PAUSE),
        step_timeout=bc.clamp(args.step_timeout, 30.0, MAX_WINDOW - 2 * MAX_PAUSE - 60.0),
        work_dir=args.log_dir,
        log_dir=args.log_dir,
    )


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


def run_phases(
    old: str, new: str, settings: Settings, phases: list[Phase], restore: list[dict[str, object]]
) -> None:
    """Rolling (measured), naive (measured), site.yml (restore); appends as it goes."""
    wait_serving(settings.spec.url)
    rolling = measured(
        Phase("rolling", "Rolling: upgrade.yml", old, new), settings, lambda: rolling_step(new, settings)
    )
    phases.append(rolling)
    if rolling.error:
        return
    time.sleep(settings.settle)
    wait_serving(settings.spec.url)
    check_naive_ready(IMAGE, new, old)
    try:
        with watchdog_paused(APP_HOSTS):
            phases.append(
                measured(
                    Phase("naive", "Naive: sed + compose up -d, all hosts at once", new, old),
                    settings,
                    lambda: naive_step(IMAGE, new, old, settings),
                )
            )
    finally:
        bc.say("restoring compose.yml to the recorded release with playbooks/site.yml (not measured)")
        restore.append(unmeasured_playbook("playbooks/site.yml", settings, "site-restore"))


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = settings_from(args)
    phases: list[Phase] = []
    restore: list[dict[str, object]] = []
    error = ""
    old = new = ""
    try:
        old, new = versions(args)
        run_phases(old, new, settings, phases, restore)
        if args.rollback_after and not any(r["returncode"] for r in restore):
            restore.append(unmeasured_playbook("playbooks/rollback.yml", settings, "rollback"))
    except bc.CommandError as exc:
        error = str(exc)
        bc.say(f"FAILED: {error}")
    error = error or next((p.error for p in phases if p.error), "")
    error = error or next((f"{r['playbook']} failed, see {r['log']}" for r in restore if r["returncode"]), "")
    if phases:
        print(report(phases, settings.spec, settings))
    document = {
        "benchmark": "rolling-vs-naive",
        "finished": bc.timestamp(),
        "machine": bc.machine_info(),
        "load": {**asdict(settings.spec), "before_s": settings.before, "after_s": settings.after},
        "from_version": old,
        "to_version": new,
        "phases": [p.to_dict() for p in phases],
        "unmeasured": restore,
        "error": error,
    }
    bc.write_json(args.out, document)
    return 1 if error else 0


if __name__ == "__main__":
    sys.exit(main())
