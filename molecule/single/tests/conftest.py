"""One vaulted app secret for the whole scenario: test_secrets rolls it in,
and every later playbook (status, upgrades, rollbacks, at -v and -vvv, with
--diff) runs with it and must never print it."""

from __future__ import annotations

import secrets
import subprocess
from dataclasses import dataclass

import pytest


@dataclass(frozen=True)
class Vault:
    sentinel: str  # the secret's value: must never appear in any output
    flags: tuple[str, ...]  # what a playbook run needs to read it


@pytest.fixture(scope="session")
def vault(tmp_path_factory: pytest.TempPathFactory) -> Vault:
    directory = tmp_path_factory.mktemp("vault")
    sentinel = "pyweb-sentinel-" + secrets.token_hex(12)
    password = directory / "vault-pass"
    password.write_text(secrets.token_hex(16))
    encrypted = subprocess.run(
        ["ansible-vault", "encrypt_string", "--vault-password-file", str(password), sentinel],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    indented = "\n".join("    " + line for line in encrypted.strip().splitlines())
    extra = directory / "secrets.yml"
    extra.write_text(f"stack_app_secrets:\n  APP_SECRET_SENTINEL:\n{indented}\n")
    return Vault(sentinel, ("--vault-password-file", str(password), "-e", f"@{extra}"))
