"""pyweb.ha.images (plugins/modules/images.py) against a small Engine API
served on a Unix socket: what it asks, what it returns, what it refuses."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar
from urllib.parse import unquote

import pytest

from plugins.module_utils.docker_api import connect, look_up
from tests.lib.ansible_cli import ansible_command, ansible_env
from tests.lib.engine_api import EngineHandler, serving

IMAGES = {
    "pyweb/app:1.0.0": {"Id": "sha256:aaa", "RepoTags": ["pyweb/app:1.0.0", "pyweb/app:latest"]},
    "nginx:pyweb": {"Id": "sha256:bbb", "RepoTags": ["nginx:pyweb"]},
}


class EngineAPI(EngineHandler):
    """GET /images/NAME/json as dockerd answers it (404 for an unknown name)."""

    asked: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.asked.append(self.path)
        prefix, suffix = "/images/", "/json"
        name = self.path[len(prefix) : -len(suffix)] if self.path.startswith(prefix) else ""
        name = unquote(name)
        if name == "broken:1":
            self.answer(500, {"message": "storage failed"})
        elif name in IMAGES or name in {i["Id"] for i in IMAGES.values()}:
            image = IMAGES.get(name) or next(i for i in IMAGES.values() if i["Id"] == name)
            self.answer(200, image)
        else:
            self.answer(404, {"message": f"No such image: {name}"})


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[str]:
    EngineAPI.asked = []
    with serving(EngineAPI, tmp_path) as address:
        yield address


def test_images_that_exist_are_returned_in_the_order_asked(engine: str) -> None:
    connection = connect(engine, tls=False, cert_path="", timeout=5)
    found = look_up(connection, ["nginx:pyweb", "pyweb/app:9.9.9", "pyweb/app:1.0.0"])
    assert [image["Id"] for image in found] == ["sha256:bbb", "sha256:aaa"]
    # the name travels quoted: a slash or a colon is part of it, not of the path
    assert EngineAPI.asked == [
        "/images/nginx%3Apyweb/json",
        "/images/pyweb%2Fapp%3A9.9.9/json",
        "/images/pyweb%2Fapp%3A1.0.0/json",
    ]


def test_an_image_named_twice_is_returned_once(engine: str) -> None:
    connection = connect(engine, tls=False, cert_path="", timeout=5)
    found = look_up(connection, ["pyweb/app:1.0.0", "sha256:aaa"])
    assert [image["RepoTags"] for image in found] == [["pyweb/app:1.0.0", "pyweb/app:latest"]]


def test_an_error_of_the_daemon_is_not_a_missing_image(engine: str) -> None:
    connection = connect(engine, tls=False, cert_path="", timeout=5)
    with pytest.raises(RuntimeError, match=r"500 for broken:1: .*storage failed"):
        look_up(connection, ["broken:1"])


def test_no_daemon_is_an_error(tmp_path: Path) -> None:
    connection = connect(f"unix://{tmp_path}/none.sock", tls=False, cert_path="", timeout=5)
    with pytest.raises(OSError):
        look_up(connection, ["pyweb/app:1.0.0"])


@pytest.mark.parametrize("host", ["ssh://deploy@builder", "npipe:////./pipe/docker_engine", "tcp://"])
def test_a_host_it_cannot_reach_is_refused_by_name(host: str) -> None:
    with pytest.raises(ValueError, match="neither unix:///PATH nor tcp://HOST:PORT"):
        connect(host, tls=False, cert_path="", timeout=5)


def test_tcp_hosts_take_dockers_default_ports() -> None:
    plain = connect("tcp://10.0.0.5", tls=False, cert_path="", timeout=5)
    assert (plain.host, plain.port) == ("10.0.0.5", 2375)


def _lookup_play(tmp_path: Path, engine: str, environment: dict[str, str]) -> str:
    """A play that looks pyweb/app:1.0.0 up on the controller, as the image role does; its -vvv output."""
    playbook = tmp_path / "lookup.yml"
    task = {
        "name": "Look up",
        "pyweb.ha.images": {"name": ["pyweb/app:1.0.0", "pyweb/app:9.9.9"], "docker_host": engine},
        "register": "found",
        "environment": environment,
    }
    show = {
        "name": "Show",
        "ansible.builtin.debug": {"msg": "IDS {{ found.images | map(attribute='Id') | list }}"},
    }
    playbook.write_text(json.dumps([{"hosts": "localhost", "gather_facts": False, "tasks": [task, show]}]))
    interpreter = f"ansible_python_interpreter={sys.executable}"
    done = subprocess.run(
        [ansible_command(), "-i", "localhost,", "-c", "local", "-e", interpreter, str(playbook), "-vvv"],
        capture_output=True,
        text=True,
        env=ansible_env(tmp_path),
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done.stdout


def test_on_the_controller_the_lookup_runs_in_ansibles_own_process(engine: str, tmp_path: Path) -> None:
    """No module run (no EXEC of a Python) for a lookup on the controller; the
    module runs when the task sets an environment (which the module would
    see), and both answer alike."""
    in_process = _lookup_play(tmp_path, engine, {})
    as_module = _lookup_play(tmp_path, engine, {"DOCKER_API_VERSION": "1.41"})
    assert "EXEC" not in in_process.split("TASK [Look up]")[1].split("TASK [Show]")[0]
    assert "EXEC" in as_module.split("TASK [Look up]")[1].split("TASK [Show]")[0]
    for output in (in_process, as_module):
        assert "IDS ['sha256:aaa']" in output
