"""The docker role's platform check (entry point validate_platform) as the
validation play runs it: a supported platform passes, a host without facts
and an unsupported platform each fail with their own message."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.lib.ansible_cli import ansible_command, ansible_env

REPO = Path(__file__).resolve().parents[2]
PLAY = """
- hosts: localhost
  gather_facts: false
  tasks:
    - ansible.builtin.import_role:
        {name: pyweb.ha.docker, tasks_from: validate_platform, rolespec_validate: false}
"""


def facts(distribution: str, major: str, release: str) -> list[str]:
    return [
        *("-e", f"ansible_distribution={distribution}"),
        *("-e", f"ansible_distribution_major_version={major}"),
        *("-e", f"ansible_distribution_release={release}"),
    ]


@pytest.mark.parametrize(
    ("given", "ok", "said"),
    [
        (facts("Debian", "13", "trixie"), True, ""),
        (facts("Ubuntu", "24", "noble"), True, ""),
        ([], False, "Host localhost has no distribution facts: the docker role needs gathered facts"),
        (
            facts("Fedora", "41", "n/a"),
            False,
            "Host localhost runs Fedora 41 (n/a), where the docker role cannot install Docker with "
            "docker_install_from: distribution. Supported with docker_install_from: distribution: "
            "Debian 13 (trixie), Ubuntu 24.04 (noble).",
        ),
    ],
    ids=["debian-13", "ubuntu-24.04", "no-facts", "fedora"],
)
def test_the_platform_check_says_what_is_wrong(tmp_path: Path, given: list[str], ok: bool, said: str) -> None:
    (tmp_path / "play.yml").write_text(PLAY)
    done = subprocess.run(
        [ansible_command(), "-i", "localhost,", "-c", "local", str(tmp_path / "play.yml"), *given],
        capture_output=True,
        text=True,
        env=ansible_env(tmp_path, ANSIBLE_CALLBACK_RESULT_FORMAT="json"),
        cwd=REPO,
        timeout=120,
        check=False,
    )
    assert (done.returncode == 0) == ok, done.stdout[-2000:]
    assert said in " ".join(done.stdout.split()), done.stdout[-2000:]
