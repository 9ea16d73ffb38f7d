#!/usr/bin/env python
"""Ansible over SSH (as the sudo user deploy, what users run) against the
Docker connection (as root, what the lab used before), side by side in one
run on the demo lab (inventories/lab: 2 app hosts x 2 replicas, 2 balancers):
a cold site.yml on new hosts, the same site.yml again NOOP_RUNS times (each
must change nothing; the median is the no-op figure, the range is printed
with it: one run on this machine varies by a fifth), an ad hoc image lookup
on every host with community.docker.docker_image_info and with
pyweb.ha.images, interleaved, LOOKUP_RUNS times each (the median of each),
and an upgrade of both app hosts to a new version.

    .venv/bin/python scripts/bench_connection.py [--connections ssh,docker] [--noop-runs 3]

The lab is made again before each connection's cold run (tests/lab/destroy.yml,
create.yml); the app images are built on the controller by the first run and
taken from Docker's build cache by the later ones. Writes build/bench/connection.json
and prints a Markdown table (docs/benchmarks.md). Takes 6 to 25 minutes.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_common import (
    BUILD_DIR,
    INVENTORY,
    REPO_ROOT,
    VENV_BIN,
    ansible_env,
    markdown_table,
    run_command,
    say,
)

from tests.lib.playbook_output import recap_changed

OVERLAY = BUILD_DIR / "docker-connection.yml"
UPGRADE_VERSION = "2.0.0"
# What the image role looks up on every host of the lab: the app and Nginx images.
LOOKUP_IMAGES = "name=pyweb/app:1.0.0,pyweb/nginx:trixie"
LOOKUP_MODULES = {"docker_image_info": "community.docker.docker_image_info", "images": "pyweb.ha.images"}
LOOKUP_RUNS = 3


def docker_overlay(inventory: Path, path: Path) -> Path:
    """A second inventory source that turns every lab host to the Docker
    connection as root (host variables of a later source win)."""
    hosts: dict[str, Any] = {}
    groups = yaml.safe_load(inventory.read_text())["all"]["children"]
    for group in ("app", "balancer"):
        for name in groups[group].get("hosts") or {}:
            hosts[name] = {
                "ansible_connection": "community.docker.docker",
                "ansible_host": name,
                "ansible_user": "root",
                "ansible_become": False,
                # Layer shipping rides on SSH: the Docker connection ships archives.
                "image_transfer": "archive",
            }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"all": {"hosts": hosts}}, sort_keys=True))
    return path


def playbook(name: str, sources: list[str], log: Path, *extra: str) -> tuple[float, dict[str, int]]:
    argv = [str(VENV_BIN / "ansible-playbook"), "-i", INVENTORY, *sources, name, *extra]
    say(" ".join(argv[1:]))
    result = run_command(argv, timeout=3600, env=ansible_env(), log=log).check()
    say(f"{name}: {result.seconds:.1f} s")
    return result.seconds, recap_changed(result.stdout)


def lookups(sources: list[str], logs: Path) -> dict[str, float]:
    """Median seconds of `ansible all -m MODULE` looking up the lab's images on
    every host (Ansible's own start included), per module, runs interleaved."""
    seconds: dict[str, list[float]] = {key: [] for key in LOOKUP_MODULES}
    for run in range(1, LOOKUP_RUNS + 1):
        for key, module in LOOKUP_MODULES.items():
            argv = [str(VENV_BIN / "ansible"), "-i", INVENTORY, *sources, "all", "-b", "-m", module]
            argv += ["-a", LOOKUP_IMAGES]
            result = run_command(argv, timeout=600, env=ansible_env(), log=logs / f"lookup-{key}-{run}.log")
            seconds[key].append(result.check().seconds)
    say(f"image lookups: {seconds}")
    return {key: round(statistics.median(values), 2) for key, values in seconds.items()}


def measure(connection: str, sources: list[str], noop_runs: int) -> dict[str, Any]:
    logs = BUILD_DIR / f"connection-{connection}"
    playbook("tests/lab/destroy.yml", [], logs / "destroy.log")
    playbook("tests/lab/create.yml", [], logs / "create.log")
    cold = playbook("playbooks/site.yml", sources, logs / "site-cold.log")[0]
    noops = []
    for run in range(1, noop_runs + 1):
        seconds, changed = playbook("playbooks/site.yml", sources, logs / f"site-noop-{run}.log")
        if set(changed.values()) != {0}:
            raise SystemExit(f"{connection}: site.yml run {run + 1} changed something: {changed}")
        noops.append(seconds)
    lookup = lookups(sources, logs)
    upgrade = playbook(
        "playbooks/upgrade.yml", sources, logs / "upgrade.log", "-e", f"app_version={UPGRADE_VERSION}"
    )[0]
    noop = statistics.median(noops)
    return {
        "connection": connection,
        "cold_site_s": round(cold, 1),
        "noop_site_s": round(noop, 1),
        "noop_runs_s": [round(seconds, 1) for seconds in noops],
        "noop_over_cold": round(noop / cold, 2),
        "upgrade_s": round(upgrade, 1),
        "lookup_s": lookup,
    }


def table(rows: list[dict[str, Any]]) -> str:
    headers = [
        "connection",
        "cold site.yml (s)",
        "no-op site.yml, median (s)",
        "no-op runs (s)",
        "no-op / cold",
        "upgrade 2 x 2 (s)",
        "lookup, docker_image_info (s)",
        "lookup, pyweb.ha.images (s)",
    ]
    cells = [
        [
            row["connection"],
            row["cold_site_s"],
            row["noop_site_s"],
            ", ".join(f"{seconds:.1f}" for seconds in row["noop_runs_s"]),
            f"{row['noop_over_cold']:.2f}",
            row["upgrade_s"],
            row["lookup_s"]["docker_image_info"],
            row["lookup_s"]["images"],
        ]
        for row in rows
    ]
    return markdown_table(headers, cells)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", default="ssh,docker", help="comma-separated: ssh, docker")
    parser.add_argument("--noop-runs", type=int, default=3, help="no-op site.yml runs (median)")
    parser.add_argument("--out", type=Path, default=BUILD_DIR / "connection.json")
    args = parser.parse_args()
    overlay = docker_overlay(REPO_ROOT / INVENTORY, OVERLAY)
    sources = {"ssh": [], "docker": ["-i", str(overlay)]}
    if args.noop_runs < 1:
        parser.error("--noop-runs must be at least 1")
    rows = [measure(name, sources[name], args.noop_runs) for name in args.connections.split(",")]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=2))
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
