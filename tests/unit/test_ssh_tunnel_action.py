"""pyweb.ha.ssh_tunnel refuses, naming the host and what to do, a host it
cannot tunnel to (the Molecule cluster scenario and scripts/bench_shipping.py
open real tunnels over SSH: every layer shipped goes through one)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from plugins.action.ssh_tunnel import forward_spec
from tests.lib.ansible_cli import ansible_command, ansible_env

PLAY = """
- hosts: tunnelled
  gather_facts: false
  tasks:
    - pyweb.ha.ssh_tunnel:
        port: 5055
"""


def test_the_forward_listens_on_the_host_loopback_only():
    assert forward_spec(5056, 5055) == "127.0.0.1:5056:127.0.0.1:5055"


def test_a_host_reached_without_ssh_is_refused_with_what_to_do(tmp_path: Path):
    (tmp_path / "play.yml").write_text(PLAY)
    (tmp_path / "hosts.ini").write_text("tunnelled ansible_connection=local\n")
    run = subprocess.run(
        [ansible_command(), "-i", str(tmp_path / "hosts.ini"), str(tmp_path / "play.yml")],
        capture_output=True, text=True, env=ansible_env(tmp_path), check=False,
    )  # fmt: skip
    assert run.returncode == 2, run.stdout
    assert "tunnelled: the image layers travel through an SSH tunnel" in run.stdout
    assert "'local' connection" in run.stdout and "image_transfer: archive" in run.stdout
