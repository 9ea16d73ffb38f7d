"""A vaulted app secret reaches the replicas and never appears in the output
of a verbose play; a changed secret is rolled one replica at a time under
load, without a failed request."""

from __future__ import annotations

import hashlib
import secrets
import subprocess
from pathlib import Path

from tests.lib import lab
from tests.lib.underload import assert_no_failed_request, load, run_under_load

testinfra_hosts = ["ansible://app"]
HOST = "pyweb-single-app1"
RESULTS = Path(__file__).resolve().parent / "results"


def vaulted_extra_vars(tmp_path, sentinel: str) -> tuple[str, str]:
    password = tmp_path / "vault-pass"
    password.write_text(secrets.token_hex(16))
    encrypted = subprocess.run(
        ["ansible-vault", "encrypt_string", "--vault-password-file", str(password), sentinel],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    indented = "\n".join("    " + line for line in encrypted.strip().splitlines())
    extra = tmp_path / "secrets.yml"
    extra.write_text(f"stack_app_secrets:\n  APP_SECRET_SENTINEL:\n{indented}\n")
    return str(password), str(extra)


def test_a_changed_vaulted_secret_is_rolled_under_load_and_never_printed(host, tmp_path):
    """site.yml -v with a new secret while 16 clients load the host: each
    replica is replaced beside itself (no failed GET or POST), the app sees
    the new value, and neither the output nor the journal shows it."""
    sentinel = "pyweb-sentinel-" + secrets.token_hex(12)
    password, extra = vaulted_extra_vars(tmp_path, sentinel)
    before = set(lab.replica_containers(host))
    url = f"http://{lab.container_ip(HOST)}:80"
    run = run_under_load(
        {"direct": load(url, 16)},
        "site.yml",
        "-v",
        "--vault-password-file",
        password,
        "-e",
        f"@{extra}",
        results=RESULTS,
    )
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


def test_no_playbook_prints_the_secret_at_any_verbosity(host, tmp_path):
    """status, upgrade and rollback inspect the replicas (whose environment
    holds the secret): at -v, -vvv and with --diff, the secret never shows."""
    sentinel = "pyweb-sentinel-" + secrets.token_hex(12)
    password, extra = vaulted_extra_vars(tmp_path, sentinel)
    vault = ("--vault-password-file", password, "-e", f"@{extra}")
    runs = [
        ("site.yml", "-vvv", "--diff"),
        ("status.yml", "-v"),
        ("status.yml", "-vvv"),
        ("upgrade.yml", "-v", "--diff", "-e", "app_version=2.0.0"),
        ("rollback.yml", "-vvv", "--diff"),
    ]
    for playbook, *flags in runs:
        result = lab.run_playbook(playbook, *flags, *vault)
        output = result.stdout + result.stderr
        assert result.returncode == 0, (playbook, output[-3000:])
        assert sentinel not in output, (playbook, flags)
    digest = "sha256:" + hashlib.sha256(sentinel.encode()).hexdigest()
    url = f"http://{lab.container_ip(HOST)}:80/config"
    assert lab.http(url).body["secrets"]["APP_SECRET_SENTINEL"] == digest
    assert lab.http(url).body["version"] == "1.0.0"
