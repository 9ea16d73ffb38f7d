#!/usr/bin/env python
"""Bad-day faults on the lab of `make demo`, with the health agents off
(before: passive checks and per-try timeouts only) and on (after), in one run.

For each fault - a replica of app1 frozen 20 s, app1 frozen 20 s, app1 cut
off its network 20 s, app1 killed and started again - under 8 clients at
full speed through http://127.0.0.1:8080/ (half kept-alive, a quarter POSTs):
failed GETs and POSTs, the longest GET, the longest time without an answer,
the agent's detection time (from the start of the fault command to the
agent's "is DOWN" line in its journal; the fault takes effect while the
command runs, whose duration is reported too) and how long after its recovery the victim served again.

    .venv/bin/python scripts/bench_faults.py [--hold 20] [--out build/bench/faults.json]

Markdown on stdout, progress on stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.lib import faults  # noqa: E402

URL = "http://127.0.0.1:8080/"
APP1, APP2, LB = "pyweb-lab-app1", "pyweb-lab-app2", "pyweb-lab-lb"
AGENTS = {APP1: "pyweb-agent@pyweb", APP2: "pyweb-agent@pyweb", LB: "pyweb-agent@pyweb-balancer"}
DETECTORS = {"replica": (APP1, AGENTS[APP1], "app_1"), "host": (LB, AGENTS[LB], APP1)}


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def docker(*args: str) -> str:
    return subprocess.run(["docker", *args], check=True, capture_output=True, text=True).stdout


def agents(action: str) -> None:
    for host, unit in AGENTS.items():
        docker("exec", host, "systemctl", action, unit)


def fault_kinds() -> dict[str, tuple[str, object]]:
    return {
        "replica frozen 20 s": ("replica", lambda: faults.freeze_replica(APP1, "app_1")),
        "host frozen 20 s": ("host", lambda: faults.freeze_host(APP1)),
        "host cut off 20 s": ("host", lambda: faults.cut_host(APP1, "pyweb-lab", "172.31.251.11")),
        "host killed": ("host", lambda: faults.kill_host(APP1)),
    }


def detection(kind: str, struck_epoch: float) -> float | None:
    """Seconds from the fault to the agent's first "is DOWN" line for the
    victim (its journal, with epoch timestamps)."""
    host, unit, target = DETECTORS[kind]
    try:
        out = docker(
            "exec", host, "journalctl", "--unit", unit, "--since", f"@{int(struck_epoch) - 1}",
            "--output", "short-unix", "--no-pager",
        )  # fmt: skip
    except subprocess.CalledProcessError:
        return None
    for line in out.splitlines():
        stamp, _sep, text = line.partition(" ")
        if f"{target} (" in text and "is DOWN" in text:
            with contextlib.suppress(ValueError):
                seconds = float(stamp) - struck_epoch
                if seconds >= 0:
                    return round(seconds, 2)
    return None


def wait_healthy() -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            hosts = set()
            for _attempt in range(12):
                out = subprocess.run(
                    ["curl", "-fsS", "-m", "2", URL], capture_output=True, text=True, check=False
                ).stdout
                hosts.add(json.loads(out)["host"])
            if hosts == {APP1, APP2}:
                return
        except (ValueError, KeyError):
            pass
        time.sleep(2)
    raise RuntimeError("the lab did not serve from both app hosts within 180 s")


def measure(name: str, kind: str, make, hold: float) -> dict[str, object]:
    wait_healthy()
    run = faults.run_fault(URL, make(), hold=hold)
    methods = run.summary["by_method"]
    return {
        "fault": name,
        "requests": run.summary["total"],
        "failed_get": methods["GET"]["failed"],
        "failed_post": methods["POST"]["failed"],
        "longest_get_s": round(run.longest("GET"), 2),
        "longest_post_s": round(run.longest("POST"), 2),
        "max_gap_s": run.summary["max_gap_s"],
        "fault_command_s": round(run.applied - run.struck, 2),
        "detected_s": detection(kind, run.struck_epoch),
        "back_after_s": None if run.back_after is None else round(run.back_after, 1),
    }


def table(rows: list[dict[str, object]]) -> str:
    head = (
        "| fault | agents | requests | failed GET | failed POST | longest GET | longest POST "
        "| longest without an answer | fault command took | detected after | victim back after recovery |"
    )
    lines = [head, "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        lines.append(
            f"| {r['fault']} | {r['agents']} | {r['requests']:,} | {r['failed_get']} | {r['failed_post']} | "
            f"{r['longest_get_s']} s | {r['longest_post_s']} s | {r['max_gap_s']} s | "
            f"{r['fault_command_s']} s | "
            f"{'-' if r['detected_s'] is None else str(r['detected_s']) + ' s'} | "
            f"{'-' if r['back_after_s'] is None else str(r['back_after_s']) + ' s'} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hold", type=float, default=20.0)
    parser.add_argument("--out", type=Path, default=REPO / "build/bench/faults.json")
    args = parser.parse_args()
    hold = max(5.0, min(args.hold, 60.0))
    rows: list[dict[str, object]] = []
    try:
        for agents_on in (False, True):
            agents("start" if agents_on else "stop")
            for name, (kind, make) in fault_kinds().items():
                say(f"{name}, agents {'on' if agents_on else 'off'}")
                row = measure(name, kind, make, hold)
                row["agents"] = "on" if agents_on else "off"
                if not agents_on:
                    row["detected_s"] = None
                rows.append(row)
                say(json.dumps(row))
    finally:
        agents("start")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=2))
    rows.sort(key=lambda r: (list(fault_kinds()).index(str(r["fault"])), r["agents"]))
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
