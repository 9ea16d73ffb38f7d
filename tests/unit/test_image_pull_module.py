"""pyweb.ha.image_pull (plugins/modules/image_pull.py) against a small Engine
API served on a Unix socket: the requests of a pull, the credentials it
sends, the errors it reports."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from plugins.module_utils.docker_api import connect
from plugins.modules.image_pull import image_id, pull_as, pull_status, registry_auth, split_name
from tests.lib.engine_api import EngineHandler, serving

REGISTRY = "127.0.0.1:5055"


class EngineAPI(EngineHandler):
    """An image store as dockerd keeps it: names pointing at IDs; pulls from a
    registry that holds `pyweb/app:2.0.0` only."""

    names: ClassVar[dict[str, str]] = {}
    asked: ClassVar[list[tuple[str, str, str]]] = []

    def _record(self, method: str) -> tuple[str, dict[str, list[str]]]:
        url = urlsplit(self.path)
        self.asked.append((method, unquote(url.path), self.headers.get("X-Registry-Auth", "")))
        return unquote(url.path), parse_qs(url.query)

    def do_GET(self) -> None:
        path = self._record("GET")[0]
        name = path.removeprefix("/images/").removesuffix("/json")
        if name in self.names:
            self.answer(200, json.dumps({"Id": self.names[name]}).encode())
        else:
            self.answer(404, b'{"message": "No such image"}')

    def do_POST(self) -> None:
        path, query = self._record("POST")
        if path == "/images/create":
            source = f"{query['fromImage'][0]}:{query['tag'][0]}"
            if source == f"{REGISTRY}/pyweb/app:2.0.0":
                self.names[source] = "sha256:new"
                lines = [
                    {"status": "Pulling from pyweb/app"},
                    {"status": f"Status: Downloaded newer image for {source}"},
                ]
            else:
                lines = [{"errorDetail": {"message": "manifest unknown"}, "error": "manifest unknown"}]
            self.answer(200, b"\r\n".join(json.dumps(line).encode() for line in lines))
        elif path.endswith("/tag"):
            source = path.removeprefix("/images/").removesuffix("/tag")
            self.names[f"{query['repo'][0]}:{query['tag'][0]}"] = self.names[source]
            self.answer(201, b"")
        else:
            self.answer(404, b"{}")

    def do_DELETE(self) -> None:
        path = self._record("DELETE")[0]
        name = path.removeprefix("/images/")
        del self.names[name]
        self.answer(200, json.dumps([{"Untagged": name}]).encode())


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[str]:
    EngineAPI.asked = []
    EngineAPI.names = {"pyweb/app:1.0.0": "sha256:old"}
    with serving(EngineAPI, tmp_path) as address:
        yield address


def test_a_pull_names_the_image_as_given_and_drops_the_registry_name(engine: str) -> None:
    connection = connect(engine, tls=False, cert_path="", timeout=5)
    pulled = pull_as(connection, REGISTRY, "pyweb/app:2.0.0")
    assert pulled == {
        "name": "pyweb/app:2.0.0",
        "source": f"{REGISTRY}/pyweb/app:2.0.0",
        "id": "sha256:new",
        "status": f"Status: Downloaded newer image for {REGISTRY}/pyweb/app:2.0.0",
    }
    # The image is there under the controller's name only; the old version stays.
    assert EngineAPI.names == {"pyweb/app:1.0.0": "sha256:old", "pyweb/app:2.0.0": "sha256:new"}
    assert [asked[:2] for asked in EngineAPI.asked] == [
        ("POST", "/images/create"),
        ("POST", f"/images/{REGISTRY}/pyweb/app:2.0.0/tag"),
        ("DELETE", f"/images/{REGISTRY}/pyweb/app:2.0.0"),
        ("GET", "/images/pyweb/app:2.0.0/json"),
    ]
    assert image_id(connection, "pyweb/app:9.9.9") == ""


def test_an_error_in_the_progress_stream_fails_the_pull_and_names_the_image(engine: str) -> None:
    connection = connect(engine, tls=False, cert_path="", timeout=5)
    with pytest.raises(RuntimeError, match=rf"pulling {REGISTRY}/pyweb/app:3.0.0: manifest unknown"):
        pull_as(connection, REGISTRY, "pyweb/app:3.0.0")
    assert "pyweb/app:3.0.0" not in EngineAPI.names


def test_the_credentials_docker_login_stored_travel_with_the_pull_only(engine: str, tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    stored = base64.b64encode(b"deployer:s3cret:with-colon").decode()
    config.write_text(json.dumps({"auths": {REGISTRY: {"auth": stored}}}))
    auth = registry_auth(f"{REGISTRY}/team", str(config))
    sent = json.loads(base64.urlsafe_b64decode(auth))
    assert sent == {"username": "deployer", "password": "s3cret:with-colon", "serveraddress": REGISTRY}
    connection = connect(engine, tls=False, cert_path="", timeout=5)
    pull_as(connection, REGISTRY, "pyweb/app:2.0.0", auth)
    assert [asked[2] for asked in EngineAPI.asked] == [auth, "", "", ""]


def test_no_stored_credentials_send_none(tmp_path: Path) -> None:
    assert registry_auth(REGISTRY, str(tmp_path / "missing.json")) == ""
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"auths": {"other.example.com": {"auth": "eDp5"}}}))
    assert registry_auth(REGISTRY, str(config)) == ""
    config.write_text("{not json")
    with pytest.raises(RuntimeError, match="cannot read the registry credentials"):
        registry_auth(REGISTRY, str(config))


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("pyweb/app:2.0.0", ("pyweb/app", "2.0.0")),
        ("nginx", ("nginx", "latest")),
        ("registry.example.com:5000/team/app", ("registry.example.com:5000/team/app", "latest")),
        ("registry.example.com:5000/team/app:1", ("registry.example.com:5000/team/app", "1")),
    ],
)
def test_a_name_splits_into_repository_and_tag(name: str, expected: tuple[str, str]) -> None:
    assert split_name(name) == expected


def test_a_digest_cannot_be_a_name() -> None:
    with pytest.raises(ValueError, match="digest"):
        split_name("pyweb/app@sha256:abc")


def test_a_refused_pull_reports_the_daemon_answer() -> None:
    with pytest.raises(RuntimeError, match="answered 500: no space left"):
        pull_status("r/app:1", 500, b"no space left\n")
    assert pull_status("r/app:1", 200, b'{"status": "a"}\n\n{"status": "Image is up to date"}\n') == (
        "Image is up to date"
    )
