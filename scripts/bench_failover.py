#!/usr/bin/env python
"""Failover of the balancer pair's floating address, per fault kind, on the
lab of `make demo` (two balancers, 172.31.251.100).

For each fault on the balancer that holds the address - killed (and started
again), frozen 20 s (every process, its containers too), cut off its network
20 s (every packet dropped, no reset) - under 8 clients at full speed to the
floating address (half kept-alive, a quarter POSTs): how long until the other
balancer holds it (and this machine sends it the address's packets), what the
clients that ran through the fault lost, what 8 clients that started once
the address had moved saw, and whether the address stayed put when the old
holder returned. Each fault twice, side by side: clients that never send a
request twice (each waits up to 60 s), and clients with the retry policy of
the Molecule test (tests/lib/pair.py `clients`: a GET without an answer within
0.5 s, refused or reset, is sent again on a new connection for up to 4.4 s;
a POST never, and it gives up after 4.5 s).

    .venv/bin/python scripts/bench_failover.py [--hold 20] [--kinds killed,frozen,cut]
        [--out build/bench/failover.json]

Markdown on stdout, progress on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import bench_common as bc  # noqa: E402  (beside this script)

from tests.lib import faults, pair  # noqa: E402

VIP = "172.31.251.100"
BALANCERS = {"pyweb-lab-lb": "172.31.251.10", "pyweb-lab-lb2": "172.31.251.13"}
KINDS = {
    "killed": faults.kill_host,
    "frozen": faults.freeze_host,
    "cut": faults.isolate_host,
}
URL = f"http://{VIP}:80"
CLIENTS = {"no retry": pair.clients(URL, retry=False), "GET retry": pair.clients(URL)}


def row(name: str, model: str, run: pair.PairRun) -> dict[str, Any]:
    through = run.summary["by_method"]
    fresh = run.fresh or {
        "total": 0,
        "by_method": {"GET": {}, "POST": {}},
        "max_gap_s": None,
        "latency_ms": {},
    }
    return {
        "fault": name,
        "clients": model,
        "moved_after_s": run.moved_after,
        "through_requests": run.summary["total"],
        "through_failed_get": through["GET"]["failed"],
        "through_failed_post": through["POST"]["failed"],
        "through_lost_elsewhere": sum(1 for r in run.records if not r.ok and not run.went_to_old_holder(r)),
        "through_retried_get": run.summary["retried"].get("GET", 0),
        "through_longest_ms": run.summary["latency_ms"]["max"],
        "through_max_gap_s": run.summary["max_gap_s"],
        "fresh_requests": fresh["total"],
        "fresh_failed": sum(m.get("failed", 0) for m in fresh["by_method"].values()),
        "fresh_longest_ms": fresh["latency_ms"].get("max"),
        "fresh_max_gap_s": fresh["max_gap_s"],
        "stayed": run.holders_after == [run.taker],
    }


HEADERS = (
    "holder", "clients", "address moved after, s", "through the fault: requests", "failed GET",
    "failed POST", "of them not sent to the old holder", "GETs retried", "longest request, ms",
    "longest without an answer, s", "new clients: requests", "failed", "longest request, ms",
    "longest without an answer, s", "stayed when the old holder returned",
)  # fmt: skip
COLUMNS = (
    "fault", "clients", "moved_after_s", "through_requests", "through_failed_get", "through_failed_post",
    "through_lost_elsewhere", "through_retried_get", "through_longest_ms", "through_max_gap_s",
    "fresh_requests", "fresh_failed", "fresh_longest_ms", "fresh_max_gap_s", "stayed",
)  # fmt: skip


def table(rows: list[dict[str, Any]]) -> str:
    """Figures as measured (bench_common's cells round floats to one digit)."""
    cells = [[f"{r[c]:g}" if isinstance(r[c], float) else r[c] for c in COLUMNS] for r in rows]
    return bc.markdown_table(HEADERS, cells, align="ll" + "r" * 12 + "l")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hold", type=float, default=20.0)
    parser.add_argument("--kinds", default=",".join(KINDS), help="comma-separated: " + ", ".join(KINDS))
    parser.add_argument("--out", type=Path, default=REPO / "build/bench/failover.json")
    args = parser.parse_args()
    hold = max(5.0, min(args.hold, 60.0))
    rows = []
    for name in args.kinds.split(","):
        for model, config in CLIENTS.items():
            print(f"{name}, {model}", file=sys.stderr, flush=True)
            run = pair.run_pair_fault(BALANCERS, VIP, KINDS[name], config, hold=hold, after=10.0)
            print(run.report(), file=sys.stderr, flush=True)
            rows.append(row(name, model, run))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=2))
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
