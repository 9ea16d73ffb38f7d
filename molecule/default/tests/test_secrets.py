"""A vaulted app secret reaches the replicas and never appears in the output
of a verbose play."""

from __future__ import annotations

import hashlib
import secrets
import subprocess

from tests.lib import lab

testinfra_hosts = ["ansible://app"]
HOST = "pyweb-default-app1"


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


def test_vaulted_secret_reaches_the_app_and_not_the_log(host, tmp_path):
    sentinel = "pyweb-sentinel-" + secrets.token_hex(12)
    password, extra = vaulted_extra_vars(tmp_path, sentinel)
    result = lab.run_playbook("site.yml", "-v", "--vault-password-file", password, "-e", f"@{extra}")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
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
