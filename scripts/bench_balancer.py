#!/usr/bin/env python
"""Balancer vs one replica, from the same vantage point, in one run.

Needs the lab of ``make demo``. The load generator (tests/lib/loadgen.py) runs
in a throw-away container of the app image on app host pyweb-lab-app1:

* balancer: ``--network host`` of pyweb-lab-app1, GETs to the edge balancer
  http://172.31.251.10:80/ (balancer -> host Nginx of either app host -> 4 replicas);
* direct:   ``--network container:pyweb-app_1-1``, GETs to http://127.0.0.1:8000/
  (the WSGI server of that one replica, no Nginx).

Both see the same CPU contention (2 cores shared by everything), so the ratio
is the cost of the two Nginx hops (and the gain of four replicas over one).
Runs alternate between the targets. With ``--keepalive-compare`` the balancer
is measured again after ``playbooks/site.yml -e balancer_keepalive=0
stack_nginx_keepalive=0``; a second site.yml run then restores the defaults.

    .venv/bin/python scripts/bench_balancer.py [--clients 16] [--duration 20] [--runs 3]
        [--keepalive-compare] [--out build/bench/balancer.json]

Markdown on stdout, progress on stderr, JSON to --out. Every load run is
bounded by --duration (at most 120 s) and --clients (at most 64).
"""

from __future__ import annotations

import argparse
import contextlib
import re
import shlex
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import bench_common as bc

APP_HOST = "pyweb-lab-app1"
BALANCER_HOST = "pyweb-lab-lb"
REPLICA = "pyweb-app_1-1"
BALANCER_URL = "http://172.31.251.10:80/"
DIRECT_URL = "http://127.0.0.1:8000/"
LOADGEN_ON_HOST = "/tmp/loadgen.py"
LOADGEN_CONTAINER = "pyweb-bench-loadgen"
RESULT_IN_CONTAINER = "/tmp/loadgen.json"
BALANCER_CONF = "/opt/pyweb-balancer/nginx/nginx.conf"
HOST_NGINX_CONF = "/opt/pyweb/nginx/nginx.conf"

MAX_CLIENTS = 64
MAX_DURATION = 120.0
MAX_RUNS = 10
MAX_WARMUP = 10.0
KEEPALIVE_OFF: dict[str, object] = {"balancer_keepalive": 0, "stack_nginx_keepalive": 0}
SITE_TIMEOUT = 1800.0
RUN_OVERHEAD = 90.0  # docker run start/stop on top of duration + request timeout


@dataclass(frozen=True)
class Target:
    name: str
    network: str
    url: str
    route: str


def default_targets() -> list[Target]:
    return [
        Target(
            "balancer",
            "host",
            BALANCER_URL,
            f"{APP_HOST} host network -> balancer -> host Nginx -> 4 replicas",
        ),
        Target(
            "direct",
            f"container:{REPLICA}",
            DIRECT_URL,
            f"network namespace of {REPLICA} -> 127.0.0.1:8000 (1 replica)",
        ),
    ]


@dataclass(frozen=True)
class LoadSpec:
    clients: int
    duration: float
    post_ratio: float
    timeout: float


def bounded_spec(clients: int, duration: float, post_ratio: float, timeout: float) -> LoadSpec:
    """The load of one run with the caps of this script applied."""
    return LoadSpec(
        clients=int(bc.clamp(clients, 1, MAX_CLIENTS)),
        duration=bc.clamp(duration, 1.0, MAX_DURATION),
        post_ratio=bc.clamp(post_ratio, 0.0, 1.0),
        timeout=bc.clamp(timeout, 0.5, 30.0),
    )


def loadgen_command(spec: LoadSpec, url: str) -> list[str]:
    """The loadgen command line inside the throw-away container."""
    return [
        "python3",
        "/loadgen.py",
        "--url",
        url,
        "--clients",
        str(spec.clients),
        "--duration",
        f"{spec.duration:g}",
        "--post-ratio",
        f"{spec.post_ratio:g}",
        "--timeout",
        f"{spec.timeout:g}",
        "--allow-failures",
        "--out",
        RESULT_IN_CONTAINER,
    ]


def container_argv(host: str, image: str, target: Target, spec: LoadSpec) -> list[str]:
    """``docker exec HOST docker run --rm ...``: loadgen's summary goes to stderr,
    its JSON document is the only thing on stdout."""
    script = f"{shlex.join(loadgen_command(spec, target.url))} >&2 && cat {RESULT_IN_CONTAINER}"
    return [
        "docker",
        "exec",
        host,
        "docker",
        "run",
        "--rm",
        "--name",
        LOADGEN_CONTAINER,
        "--network",
        target.network,
        "--no-healthcheck",
        "--entrypoint",
        "sh",
        "-v",
        f"{LOADGEN_ON_HOST}:/loadgen.py:ro",
        image,
        "-c",
        script,
    ]


def run_order(runs: int, names: Sequence[str]) -> list[tuple[int, str]]:
    """(run, target) pairs; odd runs reverse the order so drift hits both alike."""
    order: list[tuple[int, str]] = []
    for run in range(1, runs + 1):
        order += [(run, name) for name in (names if run % 2 else list(reversed(names)))]
    return order


def parse_default(text: str, key: str) -> str | None:
    """Value of a top-level ``key: value`` in a role's defaults/main.yml."""
    match = re.search(rf"^{re.escape(key)}:\s*(\S+)", text, re.MULTILINE)
    return match.group(1) if match else None


def role_default(role: str, key: str) -> str | None:
    path = bc.REPO_ROOT / "roles" / role / "defaults" / "main.yml"
    try:
        return parse_default(path.read_text(encoding="utf-8"), key)
    except OSError:
        return None


def count_upstream_keepalive(nginx_conf: str) -> int:
    """How many ``keepalive N;`` directives (upstream keepalive) a config has."""
    return len(re.findall(r"^\s*keepalive\s+\d+\s*;", nginx_conf, re.MULTILINE))


# --------------------------------------------------------------------------
# Lab access
# --------------------------------------------------------------------------


def preflight(host: str, replica: str, image: str | None) -> str:
    """Check the vantage host and replica, copy loadgen.py there; the image to use.

    /tmp of the host is a tmpfs: the copy goes through ``docker exec -i``
    (``docker cp`` would write under the mount, invisible to the host's dockerd).
    """
    running = bc.run_command(["docker", "inspect", "-f", "{{.State.Running}}", host], timeout=30)
    if running.stdout.strip() != "true":
        raise bc.CommandError(f"{host} is not running: start the lab with `make demo`")
    found = bc.docker_exec(host, ["docker", "inspect", "-f", "{{.Config.Image}}", replica]).check()
    bc.docker_exec(host, ["docker", "rm", "-f", LOADGEN_CONTAINER])  # left over by a killed run
    bc.copy_to_host(host, bc.LOADGEN_PATH, LOADGEN_ON_HOST)
    return image or found.stdout.strip()


def run_load(host: str, image: str, target: Target, spec: LoadSpec) -> bc.LoadResult:
    """One bounded load run against ``target``; removes the container if interrupted."""
    argv = container_argv(host, image, target, spec)
    try:
        result = bc.run_command(argv, timeout=spec.duration + spec.timeout + RUN_OVERHEAD).check()
    except (KeyboardInterrupt, bc.CommandError):
        with contextlib.suppress(bc.CommandError):
            bc.docker_exec(host, ["docker", "rm", "-f", LOADGEN_CONTAINER])
        raise
    return bc.parse_loadgen_json(result.stdout)


def measure(
    host: str, image: str, targets: Sequence[Target], spec: LoadSpec, runs: int, warmup: float
) -> dict[str, list[bc.LoadResult]]:
    """Warm every target up once (discarded), then ``runs`` runs of each, alternating."""
    by_name = {t.name: t for t in targets}
    if warmup > 0:
        for target in targets:
            bc.say(f"warm-up {target.name} ({warmup:g} s)")
            check_reachable(target, run_load(host, image, target, bounded_spec(spec.clients, warmup, 0, 5)))
    results: dict[str, list[bc.LoadResult]] = {t.name: [] for t in targets}
    for run, name in run_order(runs, list(by_name)):
        bc.say(f"run {run}/{runs} {name}: {spec.clients} clients, {spec.duration:g} s")
        result = run_load(host, image, by_name[name], spec)
        bc.say(f"  {result.total} requests, {result.failed} failed, {result.requests_per_second:.1f} req/s")
        results[name].append(result)
    return results


def check_reachable(target: Target, result: bc.LoadResult) -> None:
    if result.ok == 0:
        raise bc.CommandError(f"no request to {target.name} ({target.url}) succeeded during the warm-up")


def keepalive_lines(host: str, conf: str) -> int | None:
    result = bc.docker_exec(host, ["cat", conf])
    return count_upstream_keepalive(result.stdout) if result.ok else None


def keepalive_counts() -> dict[str, int | None]:
    """``keepalive N;`` lines in the balancer's and app1's host Nginx config."""
    return {
        BALANCER_HOST: keepalive_lines(BALANCER_HOST, BALANCER_CONF),
        APP_HOST: keepalive_lines(APP_HOST, HOST_NGINX_CONF),
    }


@dataclass
class Outcome:
    """What a run measured so far (kept when a later step fails)."""

    image: str = ""
    results: dict[str, list[bc.LoadResult]] = field(default_factory=dict)
    keepalive_off: list[bc.LoadResult] = field(default_factory=list)
    site_runs: list[dict[str, object]] = field(default_factory=list)

    def stats(self) -> dict[str, dict[str, float]]:
        return {name: bc.aggregate(runs) for name, runs in self.results.items() if runs}


def site_run(label: str, extra_vars: dict[str, object] | None, log_dir: Path) -> dict[str, object]:
    """playbooks/site.yml against the lab; its record for the JSON (not checked)."""
    log = log_dir / f"site-{label}.log"
    result = bc.run_playbook("playbooks/site.yml", extra_vars=extra_vars, timeout=SITE_TIMEOUT, log=log)
    return {
        "label": label,
        "extra_vars": extra_vars or {},
        "returncode": result.returncode,
        "seconds": round(result.seconds, 1),
        "log": str(log),
        "upstream_keepalive_lines": keepalive_counts(),
    }


def checked_site_run(
    outcome: Outcome, label: str, extra_vars: dict[str, object] | None, log_dir: Path
) -> None:
    record = site_run(label, extra_vars, log_dir)
    outcome.site_runs.append(record)
    if record["returncode"] != 0:
        raise bc.CommandError(f"playbooks/site.yml ({label}) failed, see {record['log']}")


def keepalive_compare(
    outcome: Outcome, target: Target, spec: LoadSpec, runs: int, warmup: float, log_dir: Path
) -> None:
    """Balancer runs with upstream keepalive off; the defaults are restored after."""
    try:
        checked_site_run(outcome, "keepalive-off", KEEPALIVE_OFF, log_dir)
        left = keepalive_counts()
        if any(count != 0 for count in left.values()):
            raise bc.CommandError(f"upstream keepalive still configured after site.yml: {left}")
        outcome.keepalive_off = measure(APP_HOST, outcome.image, [target], spec, runs, warmup)[target.name]
    finally:
        bc.say("restoring the keepalive defaults with playbooks/site.yml (Ctrl-C again skips it)")
        checked_site_run(outcome, "restore-defaults", None, log_dir)


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------

SUMMARY_HEADERS = ("Target", "Route", "Runs", "Requests", "Failed", "req/s (median)", "p50 ms", "p99 ms")
RUN_HEADERS = ("Run", "Target", "Requests", "Failed", "req/s", "p50 ms", "p99 ms", "max ms")


def summary_row(label: str, route: str, stats: dict[str, float]) -> list[object]:
    return [
        label,
        route,
        int(stats["runs"]),
        int(stats["total"]),
        int(stats["failed"]),
        stats["requests_per_second"],
        stats["p50_ms"],
        stats["p99_ms"],
    ]


def ratio_row(label: str, ratios: dict[str, float | None]) -> list[object]:
    return [
        label,
        "",
        "",
        "",
        "",
        bc.fmt_ratio(ratios["requests_per_second"]),
        bc.fmt_ratio(ratios["p50_ms"]),
        bc.fmt_ratio(ratios["p99_ms"]),
    ]


def comparison_table(targets: Sequence[Target], stats: dict[str, dict[str, float]]) -> str:
    rows: list[list[object]] = [summary_row(t.name, t.route, stats[t.name]) for t in targets]
    rows.append(ratio_row("balancer / direct", bc.compare(stats["balancer"], stats["direct"])))
    return bc.markdown_table(SUMMARY_HEADERS, rows, align="llrrrrrr")


def runs_table(results: dict[str, list[bc.LoadResult]]) -> str:
    rows: list[list[object]] = []
    for name, runs in results.items():
        rows += [
            [i, name, r.total, r.failed, r.requests_per_second, r.p50_ms, r.p99_ms, r.max_ms]
            for i, r in enumerate(runs, 1)
        ]
    return bc.markdown_table(RUN_HEADERS, rows, align="rlrrrrrr")


def keepalive_table(on: dict[str, float], off: dict[str, float]) -> str:
    on_label = (
        f"on (balancer_keepalive={role_default('balancer', 'balancer_keepalive')}, "
        f"stack_nginx_keepalive={role_default('stack', 'stack_nginx_keepalive')})"
    )
    rows = [
        summary_row(on_label, "balancer", on),
        summary_row("off (both 0)", "balancer", off),
        ratio_row("off / on", bc.compare(off, on)),
    ]
    headers = ("Upstream keepalive", *SUMMARY_HEADERS[1:])
    return bc.markdown_table(headers, rows, align="llrrrrrr")


def report(spec: LoadSpec, runs: int, outcome: Outcome, targets: Sequence[Target]) -> str:
    """The Markdown report of what was measured."""
    stats = outcome.stats()
    parts = [
        f"## Balancer vs one replica ({spec.clients} clients, {spec.duration:g} s x {runs} runs, "
        f"POST ratio {spec.post_ratio:g}, load generator on {APP_HOST})",
        "",
        comparison_table(targets, stats),
        "",
        "### Every run",
        "",
        runs_table(outcome.results),
    ]
    if outcome.keepalive_off:
        parts += ["", "## Upstream keepalive on / off (through the balancer)", ""]
        parts.append(keepalive_table(stats["balancer"], bc.aggregate(outcome.keepalive_off)))
    return "\n".join(parts)


def to_document(
    spec: LoadSpec, runs: int, warmup: float, targets: Sequence[Target], outcome: Outcome
) -> dict[str, object]:
    """The JSON document: settings, machine, every run, medians and ratios."""
    stats = outcome.stats()
    document: dict[str, object] = {
        "benchmark": "balancer-vs-direct",
        "finished": bc.timestamp(),
        "machine": bc.machine_info(),
        "load": {**asdict(spec), "runs": runs, "warmup_s": warmup, "vantage": APP_HOST},
        "image": outcome.image,
        "targets": [asdict(t) for t in targets],
        "results": {name: [r.to_dict() for r in rs] for name, rs in outcome.results.items()},
        "aggregate": stats,
    }
    if {"balancer", "direct"} <= stats.keys():
        document["ratio_balancer_to_direct"] = bc.compare(stats["balancer"], stats["direct"])
    if outcome.site_runs or outcome.keepalive_off:
        off = bc.aggregate(outcome.keepalive_off)
        document["keepalive"] = {
            "on": "the balancer results above (role defaults)",
            "off_extra_vars": KEEPALIVE_OFF,
            "results_off": [r.to_dict() for r in outcome.keepalive_off],
            "aggregate_off": off,
            "ratio_off_to_on": (
                bc.compare(off, stats["balancer"]) if "balancer" in stats and outcome.keepalive_off else None
            ),
            "site_runs": outcome.site_runs,
        }
    return document


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Balancer vs one replica (and keepalive on/off), lab of make demo."
    )
    parser.add_argument("--clients", type=int, default=16, help=f"concurrent clients (max {MAX_CLIENTS})")
    parser.add_argument(
        "--duration", type=float, default=20.0, help=f"seconds per run (max {MAX_DURATION:g})"
    )
    parser.add_argument("--runs", type=int, default=3, help=f"runs per target (max {MAX_RUNS})")
    parser.add_argument(
        "--warmup", type=float, default=3.0, help="seconds of discarded warm-up per target (0: none)"
    )
    parser.add_argument(
        "--post-ratio", type=float, default=0.0, help="share of POST /echo requests (default GET only)"
    )
    parser.add_argument("--timeout", type=float, default=5.0, help="per-request timeout, seconds")
    parser.add_argument(
        "--image", help="image of the load generator container (default: the replica's image)"
    )
    parser.add_argument(
        "--keepalive-compare",
        action="store_true",
        help="also measure the balancer with upstream keepalive off (two site.yml runs)",
    )
    parser.add_argument("--out", type=Path, default=bc.BUILD_DIR / "balancer.json", help="JSON results")
    parser.add_argument("--log-dir", type=Path, default=bc.BUILD_DIR / "logs", help="ansible-playbook logs")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    spec = bounded_spec(args.clients, args.duration, args.post_ratio, args.timeout)
    runs = int(bc.clamp(args.runs, 1, MAX_RUNS))
    warmup = bc.clamp(args.warmup, 0.0, MAX_WARMUP)
    targets = default_targets()
    outcome = Outcome()
    error = ""
    try:
        outcome.image = preflight(APP_HOST, REPLICA, args.image)
        outcome.results = measure(APP_HOST, outcome.image, targets, spec, runs, warmup)
        if args.keepalive_compare:
            keepalive_compare(outcome, targets[0], spec, runs, warmup, args.log_dir)
    except bc.CommandError as exc:
        error = str(exc)
        bc.say(f"FAILED: {error}")
    document = to_document(spec, runs, warmup, targets, outcome)
    if error:
        document["error"] = error
    if {"balancer", "direct"} <= outcome.stats().keys():
        print(report(spec, runs, outcome, targets))
    bc.write_json(args.out, document)
    return 1 if error else 0


if __name__ == "__main__":
    sys.exit(main())
