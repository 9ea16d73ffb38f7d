"""Running the controller's Ansible commands from unit tests, with the
repository's ansible.cfg and collection, as a user would."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def ansible_command(name: str = "ansible-playbook") -> str:
    """The Ansible command beside this Python (the venv's), else on PATH;
    the test is skipped when there is none."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if not found:
        pytest.skip(f"{name} is not installed")
    return found


def ansible_env(tmp: Path, **extra: str) -> dict[str, str]:
    """The environment of a run: this repository's configuration and
    collection, a private temporary directory, no colours."""
    return {
        **os.environ,
        "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
        "ANSIBLE_COLLECTIONS_PATH": str(REPO / ".collections"),
        "ANSIBLE_LOCAL_TEMP": str(tmp / "ansible-tmp"),
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_NOCOLOR": "1",
        **extra,
    }
