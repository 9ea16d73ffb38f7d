"""pyweb.ha.files (action + module) run by ansible-playbook against this machine
(connection local) into a temporary directory: templates rendered like
ansible.builtin.template, a source directory, one round trip that changes only
what differs, check mode, a failed validation, and a secret never printed."""

from __future__ import annotations

import grp
import json
import os
import pwd
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.lib.ansible_cli import ansible_command, ansible_env

SECRET = "s3cr3t-never-shown-4711"


@pytest.fixture
def lab(tmp_path: Path) -> Path:
    role = tmp_path / "roles" / "demo"
    (role / "templates").mkdir(parents=True)
    (role / "files" / "static" / "css").mkdir(parents=True)
    (role / "templates" / "app.conf.j2").write_text("# {{ ansible_managed }}\nport = {{ demo_port }}\n")
    (role / "templates" / "secret.env.j2").write_text("TOKEN={{ demo_token }}\n")
    (role / "files" / "static" / "index.html").write_text("<p>hi</p>\n")
    (role / "files" / "static" / "css" / "site.css").write_bytes(b"body{}\n\xff")
    (role / "tasks").mkdir()
    return tmp_path


def _play(
    lab: Path, *, port: int = 8000, validate: str = "true", extra: list[str] | None = None
) -> subprocess.CompletedProcess:
    out = lab / "out"
    user, group = pwd.getpwuid(os.getuid()).pw_name, grp.getgrgid(os.getgid()).gr_name
    task = {
        "name": "Write the demo files",
        "pyweb.ha.files": {
            "directories": [{"path": str(out / "conf"), "mode": "0750", "owner": user, "group": group}],
            "files": [
                {
                    "dest": str(out / "conf" / "app.conf"),
                    "template": "app.conf.j2",
                    "validate": validate,
                    "owner": user,
                    "group": group,
                },
                {
                    "dest": str(out / "secret.env"),
                    "template": "secret.env.j2",
                    "mode": "0600",
                    "secret": True,
                    "owner": user,
                    "group": group,
                },
                {"dest": str(out / "static"), "src": "static", "owner": user, "group": group},
                {"dest": str(out / "old.conf"), "state": "absent"},
            ],
        },
        "register": "written",
    }
    (lab / "roles" / "demo" / "tasks" / "main.yml").write_text(yaml.safe_dump([task], sort_keys=False))
    play = [
        {
            "hosts": "localhost",
            "gather_facts": False,
            "vars": {"demo_port": port, "demo_token": SECRET},
            "roles": ["demo"],
            "post_tasks": [{"ansible.builtin.debug": {"msg": "RESULT {{ written | to_json }}"}}],
        }
    ]
    (lab / "play.yml").write_text(yaml.safe_dump(play, sort_keys=False))
    env = ansible_env(
        lab,
        ANSIBLE_CALLBACKS_ENABLED="ansible.builtin.default",
        ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default",
        ANSIBLE_CALLBACK_RESULT_FORMAT="json",
    )
    command = [
        ansible_command(),
        "-i",
        "localhost,",
        "-c",
        "local",
        "-e",
        f"ansible_python_interpreter={sys.executable}",
        str(lab / "play.yml"),
        *(extra or []),
    ]
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=lab, check=False)


def _result(run: subprocess.CompletedProcess) -> dict:
    line = next(line for line in run.stdout.splitlines() if '"msg": "RESULT ' in line)
    return json.loads(json.loads("{" + line.strip().rstrip(",") + "}")["msg"][len("RESULT ") :])


def test_first_run_writes_everything_and_the_second_nothing(lab: Path) -> None:
    first = _play(lab)
    assert first.returncode == 0, first.stdout + first.stderr
    out = lab / "out"
    written = _result(first)
    assert written["changed"] is True
    assert sorted(written["changed_files"]) == sorted(
        str(p)
        for p in (
            out / "conf/app.conf",
            out / "secret.env",
            out / "static/index.html",
            out / "static/css/site.css",
        )
    )
    assert (out / "conf" / "app.conf").read_text() == "# Ansible managed\nport = 8000\n"
    assert (out / "static" / "css" / "site.css").read_bytes() == b"body{}\n\xff"
    assert (out / "secret.env").stat().st_mode & 0o777 == 0o600
    assert (out / "conf").stat().st_mode & 0o777 == 0o750

    second = _play(lab)
    assert second.returncode == 0, second.stdout + second.stderr
    assert _result(second) == {
        **_result(second),
        "changed": False,
        "changed_files": [],
        "changed_directories": [],
    }


def test_only_the_changed_file_is_written_and_check_mode_writes_none(lab: Path) -> None:
    assert _play(lab).returncode == 0
    conf = lab / "out" / "conf" / "app.conf"
    checked = _play(lab, port=9000, extra=["--check", "--diff"])
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert _result(checked)["changed_files"] == [str(conf)]
    assert "+port = 9000" in checked.stdout
    assert conf.read_text().endswith("port = 8000\n")

    changed = _play(lab, port=9000)
    assert _result(changed)["changed_files"] == [str(conf)]
    assert conf.read_text().endswith("port = 9000\n")


def test_a_failed_validation_leaves_the_file_and_names_it(lab: Path) -> None:
    assert _play(lab).returncode == 0
    conf = lab / "out" / "conf" / "app.conf"
    failed = _play(lab, port=9000, validate="grep -q 'port = 8000' %s")
    assert failed.returncode != 0
    assert f"{conf}: the new content failed its check" in failed.stdout
    assert conf.read_text().endswith("port = 8000\n")
    assert sorted(p.name for p in conf.parent.iterdir()) == ["app.conf"]


def test_a_secret_is_never_printed(lab: Path) -> None:
    run = _play(lab, extra=["-vvvv", "--diff"])
    assert run.returncode == 0, run.stdout + run.stderr
    assert "TOKEN=" not in run.stdout + run.stderr
    assert SECRET not in run.stdout + run.stderr
    assert (lab / "out" / "secret.env").read_text() == f"TOKEN={SECRET}\n"


def test_a_file_whose_checker_is_not_installed_is_deferred_only_when_asked() -> None:
    """daemon.json before Docker is installed: its checker, dockerd, is not
    there yet; with defer the file waits for the call after the installation,
    without it the check fails as any failed check does."""
    from plugins.modules.files import deferred

    missing = {"dest": "/etc/docker/daemon.json", "state": "present", "validate": "/nonexistent/dockerd %s"}
    assert deferred({**missing, "defer": True})
    assert not deferred({**missing, "defer": False})
    assert not deferred({**missing, "defer": True, "validate": f"{sys.executable} -c pass %s"})
    assert not deferred({**missing, "defer": True, "state": "absent"})
    assert not deferred({"dest": "/etc/x", "state": "present", "defer": True})
