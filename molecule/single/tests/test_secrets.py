"""A vaulted app secret (conftest.py) reaches the replicas and never appears
in the output of a verbose play; a changed secret is rolled one replica at a
time under load, without a failed request. test_single's upgrades and
rollbacks run with the same secret, at -v and -vvv with --diff, and check
their output too."""

from __future__ import annotations

import hashlib
from pathlib import Path

from tests.lib import lab
from tests.lib.underload import assert_no_failed_request, load, run_under_load

testinfra_hosts = ["ansible://app"]
HOST = "pyweb-single-app1"
RESULTS = Path(__file__).resolve().parent / "results"


def test_a_changed_vaulted_secret_is_rolled_under_load_and_never_printed(host, vault):
    """site.yml -v with a new secret while 16 clients load the host: each
    replica is replaced beside itself (no failed GET or POST), the app sees
    the new value, and neither the output nor the journal shows it."""
    sentinel = vault.sentinel
    before = set(lab.replica_containers(host))
    url = f"http://{lab.container_ip(HOST)}:80"
    run = run_under_load({"direct": load(url, 16)}, "site.yml", "-v", *vault.flags, results=RESULTS)
    output = run.log()
    assert run.result.returncode == 0, output[-3000:]
    assert_no_failed_request(run)
    assert "Replace each changed replica beside itself" in output
    # Each replica moved to its other slot: replaced, not recreated in place.
    assert not before & set(lab.replica_containers(host)), lab.replica_containers(host)
    assert sentinel not in output
    assert sentinel not in host.check_output("journalctl --no-pager -q")
    url = f"http://{lab.container_ip(HOST)}:80/config"
    digest = "sha256:" + hashlib.sha256(sentinel.encode()).hexdigest()
    lab.wait_for(
        lambda: lab.http(url).body.get("secrets", {}).get("APP_SECRET_SENTINEL") == digest, timeout=60
    )
    env = host.file("/opt/pyweb/app.env")
    assert env.mode == 0o600 and env.user == "root"
    assert sentinel in env.content_string


def test_status_never_prints_the_secret(vault):
    """status inspects the replicas, whose environment holds the secret: at
    -v and -vvv it never shows. (site.yml -vvv --diff, upgrade.yml -v --diff
    and rollback.yml -vvv --diff: test_single, under load.)"""
    for flags in (("-v",), ("-vvv",)):
        result = lab.run_playbook("status.yml", *flags, *vault.flags)
        output = result.stdout + result.stderr
        assert result.returncode == 0, (flags, output[-3000:])
        assert vault.sentinel not in output, flags
    digest = "sha256:" + hashlib.sha256(vault.sentinel.encode()).hexdigest()
    url = f"http://{lab.container_ip(HOST)}:80/config"
    assert lab.http(url).body["secrets"]["APP_SECRET_SENTINEL"] == digest
    assert lab.http(url).body["version"] == "1.0.0"
