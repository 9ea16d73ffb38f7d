"""Rolling upgrades under load: v1 -> v2 with no failed request, a broken v3
stopped at the first replica and undone, a rollback to v1, and a later
site.yml that changes nothing. The same runs with PYWEB_WSGI_SERVER=uwsgi."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from tests.lib import lab
from tests.lib.loadgen import Config, LoadRunner

APP_HOSTS = ["pyweb-cluster-app1", "pyweb-cluster-app2"]
BALANCER = "pyweb-cluster-lb"
REPLICAS = 2
WSGI = os.environ.get("PYWEB_WSGI_SERVER", "gunicorn")
RESULTS = Path(__file__).resolve().parent / "results"
PAIRS = {(h, f"app_{i}") for h in APP_HOSTS for i in range(1, REPLICAS + 1)}


@pytest.fixture(scope="module")
def lb_url() -> str:
    return f"http://{lab.container_ip(BALANCER)}:80"


def under_load(lb_url: str, name: str, playbook: str, *args: str) -> tuple[dict, object]:
    """Run a playbook while 16 clients send GETs and POSTs through the balancer."""
    # 16 clients, each pausing 50 ms between requests (think time): a steady
    # load that leaves the two cores room for the rollout itself.
    config = Config(url=lb_url, clients=16, duration=900.0, post_ratio=0.25, timeout=10.0, think=0.05)
    with LoadRunner(config) as runner:
        time.sleep(3)
        result = lab.run_playbook(playbook, *args)
        time.sleep(3)
        summary = runner.stop().to_dict()
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}-{WSGI}.json").write_text(json.dumps(summary, indent=2, default=str))
    (RESULTS / f"{name}-{WSGI}.log").write_text(result.stdout + result.stderr)
    print(
        f"{name}: {summary['total']} requests, {summary['failed']} failed, "
        f"p99 {summary['latency_ms']['p99']} ms, max {summary['latency_ms']['max']} ms, "
        f"max gap {summary['max_gap_s']} s, {summary['duration_s']} s"
    )
    return summary, result


def versions_served(lb_url: str) -> dict[tuple[str, str], set[str]]:
    seen: dict[tuple[str, str], set[str]] = {}
    for _ in range(60):
        answer = lab.http(f"{lb_url}/")
        assert answer.status == 200, answer
        assert answer.body["wsgi"] == WSGI
        seen.setdefault((answer.body["host"], answer.body["replica"]), set()).add(answer.body["version"])
    return seen


def assert_no_failure(summary: dict) -> None:
    assert summary["failed"] == 0, summary["first_failures"]
    assert summary["max_gap_s"] <= 3.0, summary["max_gap_s"]


def test_v1_runs_everywhere(lb_url):
    seen = versions_served(lb_url)
    assert set(seen) == PAIRS
    assert all(v == {"1.0.0"} for v in seen.values()), seen


def test_upgrade_to_v2_under_load_fails_no_request(lb_url):
    summary, result = under_load(lb_url, "upgrade-v2", "upgrade.yml", "-e", "app_version=2.0.0")
    assert result.returncode == 0, result.stdout[-3000:]
    assert_no_failure(summary)
    assert summary["total"] >= 5000, summary["total"]
    seen = versions_served(lb_url)
    assert set(seen) == PAIRS
    assert all(v == {"2.0.0"} for v in seen.values()), seen


def test_upgrade_is_not_repeated(lb_url):
    result = lab.run_playbook("upgrade.yml", "-e", "app_version=2.0.0")
    assert result.returncode == 0, result.stdout[-3000:]
    assert set(lab.recap_changed(result.stdout).values()) == {0}, result.stdout[-2000:]


def test_broken_v3_is_stopped_at_the_first_replica_and_undone(lb_url):
    summary, result = under_load(
        lb_url,
        "upgrade-v3-broken",
        "upgrade.yml",
        "-e",
        "app_version=3.0.0",
        "-e",
        '{"image_build_args": {"APP_RELEASE_BROKEN": "1"}}',
    )
    assert result.returncode != 0
    message = result.stdout
    assert (
        "Rollout stopped on pyweb-cluster-app1: replica app_1 failed its health gate on version 3.0.0"
        in message
    )
    assert "release built with APP_RELEASE_BROKEN" in message  # the failing health output
    assert_no_failure(summary)
    seen = versions_served(lb_url)
    assert set(seen) == PAIRS
    assert all(v == {"2.0.0"} for v in seen.values()), seen
    # The second host was never touched: its replicas still run the v2 image.
    other = lab.molecule_host(APP_HOSTS[1])
    for i in range(1, REPLICAS + 1):
        assert lab.inspect(other, f"pyweb-app_{i}-1")["Config"]["Image"].endswith(":2.0.0")


def test_rollback_to_v1_under_load_fails_no_request(lb_url):
    summary, result = under_load(lb_url, "rollback-v1", "rollback.yml")
    assert result.returncode == 0, result.stdout[-3000:]
    assert_no_failure(summary)
    seen = versions_served(lb_url)
    assert set(seen) == PAIRS
    assert all(v == {"1.0.0"} for v in seen.values()), seen


def test_status_reports_every_replica():
    result = lab.run_playbook("status.yml")
    assert result.returncode == 0, result.stdout[-3000:]
    for host in APP_HOSTS:
        assert "release: 1.0.0 (previous: 2.0.0" in result.stdout
        assert host in result.stdout
    assert result.stdout.count("pyweb/app:1.0.0, running, healthy") == len(APP_HOSTS) * REPLICAS


def test_site_after_rollouts_changes_nothing():
    result = lab.run_playbook("site.yml")
    assert result.returncode == 0, result.stdout[-3000:]
    assert set(lab.recap_changed(result.stdout).values()) == {0}, result.stdout[-3000:]
