"""The seed's shape (one app host, two replicas, Nginx in front, no
balancer): upgrade and rollback under load with no failed request, first
with two replicas, then with one. Clients talk straight to the host's Nginx,
at full speed, half of them on kept-alive connections, a quarter POSTs.
Every run carries the scenario's vaulted secret (conftest.py) at -v or -vvv
with --diff, and its output must not show it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.lib import lab, playbook_output
from tests.lib.underload import answered_per_second, assert_no_failed_request, load, run_under_load

HOST = "pyweb-single-app1"
WSGI = os.environ.get("PYWEB_WSGI_SERVER", "gunicorn")
RESULTS = Path(__file__).resolve().parent / "results"


@pytest.fixture(scope="module")
def url() -> str:
    return f"http://{lab.container_ip(HOST)}:80"


def replicas_answering(url: str, count: int = 40) -> dict[str, set[str]]:
    seen: dict[str, set[str]] = {}
    for _attempt in range(count):
        answer = lab.http(f"{url}/")
        assert answer.status == 200, answer
        assert answer.body["wsgi"] == WSGI
        seen.setdefault(answer.body["replica"], set()).add(answer.body["version"])
    return seen


def nginx_warnings() -> str:
    """What the host Nginx logged (warnings and errors: why a request failed)
    in the last minutes, for the report of a failed request."""
    logs = subprocess.run(
        ["docker", "exec", HOST, "docker", "logs", "--since", "10m", "--timestamps", "pyweb-nginx-1"],
        capture_output=True,
        text=True,
        check=False,
    )
    return "host Nginx log:\n" + "\n".join((logs.stdout + logs.stderr).splitlines()[-40:])


def roll(url: str, vault, replicas: int, playbook: str, *args: str) -> None:
    extra = ("-e", f"stack_replicas={replicas}", "--diff", *vault.flags)
    run = run_under_load({"direct": load(url, 16)}, playbook, *args, *extra, results=RESULTS)
    assert run.result.returncode == 0, run.log()[-3000:]
    assert vault.sentinel not in run.log(), (playbook, args)
    try:
        assert_no_failed_request(run)
    except AssertionError as failed:
        raise AssertionError(f"{failed}\n{nginx_warnings()}") from None
    # Capacity never dropped: every replica answered in every second.
    wanted = {f"app_{i}" for i in range(1, replicas + 1)}
    seconds = answered_per_second(run.records["direct"], "replica", run.started, run.started + run.seconds)
    short = {s: r for s, r in seconds.items() if r != wanted}
    assert not short, short


def test_two_replicas_serve_v1(url):
    assert replicas_answering(url) == {"app_1": {"1.0.0"}, "app_2": {"1.0.0"}}


def test_upgrade_and_rollback_with_two_replicas_fail_no_request(url, vault):
    roll(url, vault, 2, "upgrade.yml", "-v", "-e", "app_version=2.0.0")
    assert replicas_answering(url) == {"app_1": {"2.0.0"}, "app_2": {"2.0.0"}}
    roll(url, vault, 2, "rollback.yml", "-vvv")
    assert replicas_answering(url) == {"app_1": {"1.0.0"}, "app_2": {"1.0.0"}}


def test_one_replica_upgrades_and_rolls_back_without_a_failed_request(url, vault):
    result = lab.run_playbook("site.yml", "-vvv", "--diff", "-e", "stack_replicas=1", *vault.flags)
    assert result.returncode == 0, result.stdout[-3000:]
    assert vault.sentinel not in result.stdout + result.stderr
    assert replicas_answering(url) == {"app_1": {"1.0.0"}}
    roll(url, vault, 1, "upgrade.yml", "-e", "app_version=2.0.0")
    assert replicas_answering(url) == {"app_1": {"2.0.0"}}
    roll(url, vault, 1, "rollback.yml")
    assert replicas_answering(url) == {"app_1": {"1.0.0"}}
    host = lab.molecule_host(HOST)
    assert len(lab.replica_containers(host)) == 1


def test_site_with_one_replica_changes_nothing_again(vault):
    result = lab.run_playbook("site.yml", "-e", "stack_replicas=1", *vault.flags)
    assert result.returncode == 0, result.stdout[-3000:]
    assert set(playbook_output.recap_changed(result.stdout).values()) == {0}, result.stdout[-3000:]
