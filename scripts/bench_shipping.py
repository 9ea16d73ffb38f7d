#!/usr/bin/env python
"""What a release that changes one source file sends to each app host, and
how long shipping it takes, by image_transfer mode, side by side in one run
on the demo lab (inventories/lab, over SSH): the whole archive (archive),
the layers the host lacks through a tunnel to the controller's registry
(layers), and a private registry with TLS and basic auth on the lab network
(registry: the distribution registry of tests/lib/registry.py).

    .venv/bin/python scripts/bench_shipping.py [--modes archive,layers,registry]

The lab is made again and converged (site.yml, app 1.0.0); then, per mode,
a new version (1.0.N) of the sample app whose src/pyweb_app.py gained one
line is built and shipped to both app hosts by the image role alone. Bytes
are what each host's network interface received during the ship (SSH, the
archive or the layers; its rx_bytes counter); seconds are the ship's tasks
(from the first lookup to the end, the controller's build excluded).
Writes build/bench/shipping.json and prints a Markdown table
(docs/benchmarks.md). Takes about 10 minutes.
"""

from __future__ import annotations

import argparse
import json
import shutil
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
    docker_exec,
    markdown_table,
    parse_profile_timeline,
    run_playbook,
    say,
)

from tests.lib import registry as private_registry

SHIP_PLAYBOOK = BUILD_DIR / "ship.yml"
FIRST_SHIP_TASK = "Look up the images on the controller"
REGISTRY_IP = "172.31.251.30"


def lab_hosts(group: str) -> list[str]:
    groups = yaml.safe_load((REPO_ROOT / INVENTORY).read_text())["all"]["children"]
    return sorted(groups[group]["hosts"])


def received(host: str) -> int:
    return int(docker_exec(host, ["cat", "/sys/class/net/eth0/statistics/rx_bytes"]).check().stdout)


def release_source(version: str) -> Path:
    """A copy of app/ whose src/pyweb_app.py has one more line."""
    source = BUILD_DIR / f"app-{version}"
    shutil.rmtree(source, ignore_errors=True)
    shutil.copytree(REPO_ROOT / "app", source)
    module = source / "src" / "pyweb_app.py"
    module.write_text(module.read_text() + f"\n# release {version}\n")
    return source


def write_ship_playbook() -> None:
    SHIP_PLAYBOOK.parent.mkdir(parents=True, exist_ok=True)
    play = {
        "name": "Ship the app image to the app hosts",
        "hosts": "app",
        "become": True,
        "gather_facts": False,
        "roles": [{"role": "pyweb.ha.image"}],
    }
    SHIP_PLAYBOOK.write_text(yaml.safe_dump([play], sort_keys=False))


def ship(mode: str, version: str, extra: dict[str, Any]) -> dict[str, Any]:
    hosts = lab_hosts("app")
    before = {host: received(host) for host in hosts}
    variables = {
        "app_version": version,
        "image_source_dir": str(release_source(version)),
        "image_transfer": mode,
        **extra,
    }
    log = BUILD_DIR / f"ship-{mode}.log"
    result = run_playbook(str(SHIP_PLAYBOOK), extra_vars=variables, log=log).check()
    after = {host: received(host) for host in hosts}
    events = parse_profile_timeline(result.stdout)
    start = next(e.start_s for e in events if e.short_name == FIRST_SHIP_TASK)
    end = next(e.start_s for e in events if e.kind == "recap")
    sent = {host: after[host] - before[host] for host in hosts}
    say(f"{mode}: {sent} bytes, {end - start:.1f} s")
    return {
        "mode": mode,
        "version": version,
        "bytes_per_host": sent,
        "mean_mb_per_host": round(sum(sent.values()) / len(sent) / 1e6, 2),
        "ship_s": round(end - start, 1),
    }


def table(rows: list[dict[str, Any]], archive_mb: float | None) -> str:
    headers = ["image_transfer", "MB received per app host", "share of the archive", "shipping (s)"]
    cells = [
        [
            row["mode"],
            f"{row['mean_mb_per_host']:.2f}",
            f"{row['mean_mb_per_host'] / archive_mb:.1%}" if archive_mb else "-",
            f"{row['ship_s']:.1f}",
        ]
        for row in rows
    ]
    return markdown_table(headers, cells)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--modes", default="archive,layers,registry", help="image_transfer modes, comma-separated"
    )
    parser.add_argument("--out", type=Path, default=BUILD_DIR / "shipping.json")
    args = parser.parse_args()
    modes = args.modes.split(",")
    write_ship_playbook()
    run_playbook("tests/lab/destroy.yml", log=BUILD_DIR / "shipping-destroy.log").check()
    run_playbook("tests/lab/create.yml", log=BUILD_DIR / "shipping-create.log").check()
    registry = None
    extra: dict[str, Any] = {}
    try:
        if "registry" in modes:
            workdir = BUILD_DIR / "registry"
            registry = private_registry.start("pyweb-lab-registry", "pyweb-lab", REGISTRY_IP, workdir)
            extra = {
                "docker_registry_ca_certs": {registry.address: registry.ca_pem},
                "image_registry": registry.prefix,
                "image_registry_username": registry.username,
                "image_registry_password": registry.password,
            }
        run_playbook("playbooks/site.yml", extra_vars=extra, log=BUILD_DIR / "shipping-site.log").check()
        rows = [ship(mode, f"1.0.{n}", extra) for n, mode in enumerate(modes, start=1)]
    finally:
        if registry is not None:
            registry.stop()
    archive = next((row["mean_mb_per_host"] for row in rows if row["mode"] == "archive"), None)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=2))
    print(table(rows, archive))
    return 0


if __name__ == "__main__":
    sys.exit(main())
