"""`ansible-galaxy collection build` makes a tarball that installs, and whose
playbooks resolve by FQCN (pyweb.ha.site ...)."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def run(*args: str, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(args, capture_output=True, text=True, env=env, cwd=REPO, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_built_collection_installs_and_its_playbooks_resolve(tmp_path):
    run(str(BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(tmp_path), str(REPO))
    (tarball,) = tmp_path.glob("pyweb-ha-*.tar.gz")
    with tarfile.open(tarball) as archive:
        names = archive.getnames()
    assert "roles/stack/tasks/main.yml" in names
    assert "playbooks/upgrade.yml" in names
    assert not [n for n in names if n.startswith((".venv", ".collections", "build/"))]

    target = tmp_path / "collections"
    run(
        str(BIN / "ansible-galaxy"),
        "collection",
        "install",
        "--force",
        "--no-deps",
        "-p",
        str(target),
        str(tarball),
    )
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(
        "all:\n  children:\n    app:\n      hosts:\n        a1:\n    balancer:\n      hosts:\n        b1:\n"
    )
    config = tmp_path / "ansible.cfg"
    config.write_text("[defaults]\n")
    env = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(target), "ANSIBLE_CONFIG": str(config)}
    for playbook in ("site", "upgrade", "rollback", "status", "validate"):
        out = run(
            str(BIN / "ansible-playbook"),
            "-i",
            str(inventory),
            f"pyweb.ha.{playbook}",
            "--syntax-check",
            env=env,
        )
        assert f"pyweb.ha.{playbook}" in out or "playbook:" in out
