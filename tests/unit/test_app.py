"""Unit tests for the sample service in app/src/pyweb_app.py."""

from __future__ import annotations

import hashlib
import importlib
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient

APP_SRC = Path(__file__).resolve().parents[2] / "app" / "src"
if str(APP_SRC) not in sys.path:
    sys.path.insert(0, str(APP_SRC))

pyweb_app = importlib.import_module("pyweb_app")

APP_ENV = (
    "APP_VERSION",
    "APP_HOST",
    "APP_REPLICA",
    "WSGI_SERVER",
    "APP_RELEASE_BROKEN",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Start every test without the service's variables or any secret."""
    for name in APP_ENV:
        monkeypatch.delenv(name, raising=False)
    for name in list(pyweb_app.os.environ):
        if name.startswith(pyweb_app.SECRET_PREFIX):
            monkeypatch.delenv(name, raising=False)


@pytest.fixture
def client() -> Iterator[FlaskClient]:
    flask_app = pyweb_app.create_app()
    flask_app.config.update(TESTING=True)
    with flask_app.test_client() as test_client:
        yield test_client


@pytest.fixture
def release_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_VERSION", "v2")
    monkeypatch.setenv("APP_HOST", "web1")
    monkeypatch.setenv("APP_REPLICA", "2")
    monkeypatch.setenv("WSGI_SERVER", "uwsgi")


def test_module_exposes_app() -> None:
    assert pyweb_app.app.name == "pyweb_app"
    rules = {rule.rule for rule in pyweb_app.app.url_map.iter_rules()}
    assert {"/", "/healthz", "/echo", "/slow", "/config"} <= rules


def test_index_defaults(client: FlaskClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.is_json
    hostname = socket.gethostname()
    assert response.get_json() == {
        "message": "Hello from a highly available Python web service!",
        "version": "dev",
        "host": hostname,
        "replica": "unknown",
        "wsgi": "unknown",
        "hostname": hostname,
    }


@pytest.mark.usefixtures("release_env")
def test_index_reports_environment(client: FlaskClient) -> None:
    body = client.get("/").get_json()
    assert body["version"] == "v2"
    assert body["host"] == "web1"
    assert body["replica"] == "2"
    assert body["wsgi"] == "uwsgi"
    assert body["hostname"] == socket.gethostname()
    assert body["message"] == pyweb_app.HELLO_MESSAGE


def test_empty_variables_fall_back_to_defaults(client: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_VERSION", "")
    monkeypatch.setenv("APP_REPLICA", "")
    body = client.get("/").get_json()
    assert body["version"] == "dev"
    assert body["replica"] == "unknown"


@pytest.mark.usefixtures("release_env")
def test_healthz_ok(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "version": "v2"}


@pytest.mark.parametrize("value", ["1", "true", "TRUE", "yes", "on", " 1 "])
def test_healthz_broken_release(client: FlaskClient, monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("APP_RELEASE_BROKEN", value)
    response = client.get("/healthz")
    assert response.status_code == 500
    assert response.get_json() == {
        "status": "broken",
        "reason": "release built with APP_RELEASE_BROKEN",
    }


@pytest.mark.parametrize("value", ["0", "false", "", "no", "off"])
def test_healthz_not_broken(client: FlaskClient, monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("APP_RELEASE_BROKEN", value)
    assert client.get("/healthz").status_code == 200


def test_broken_release_fails_on_index_too(client: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_RELEASE_BROKEN", "1")
    response = client.get("/")
    assert response.status_code == 500
    assert response.get_json()["reason"] == "release built with APP_RELEASE_BROKEN"


@pytest.mark.usefixtures("release_env")
def test_echo_json(client: FlaskClient) -> None:
    payload = {"order": 42, "items": ["a", "b"]}
    response = client.post("/echo", json=payload)
    assert response.status_code == 200
    assert response.get_json() == {"echo": payload, "replica": "2", "version": "v2"}


def test_echo_text(client: FlaskClient) -> None:
    response = client.post("/echo", data="plain text", content_type="text/plain")
    assert response.status_code == 200
    body = response.get_json()
    assert body["echo"] == "plain text"
    assert body["replica"] == "unknown"
    assert body["version"] == "dev"


def test_echo_invalid_json_is_echoed_as_text(client: FlaskClient) -> None:
    response = client.post("/echo", data="{not json", content_type="application/json")
    assert response.status_code == 200
    assert response.get_json()["echo"] == "{not json"


def test_echo_empty_body(client: FlaskClient) -> None:
    response = client.post("/echo")
    assert response.status_code == 200
    assert response.get_json()["echo"] == ""


def test_echo_rejects_get(client: FlaskClient) -> None:
    assert client.get("/echo").status_code == 405


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record time.sleep calls made by the app instead of sleeping."""
    calls: list[float] = []
    monkeypatch.setattr(pyweb_app.time, "sleep", calls.append)
    return calls


@pytest.mark.usefixtures("release_env")
def test_slow_sleeps_then_answers_like_index(client: FlaskClient, sleeps: list[float]) -> None:
    response = client.get("/slow?ms=250")
    assert response.status_code == 200
    assert sleeps == [0.25]
    body = response.get_json()
    index = client.get("/").get_json()
    assert {key: body[key] for key in index} == index
    assert body["slept_ms"] == 250


def test_slow_is_capped(client: FlaskClient, sleeps: list[float]) -> None:
    response = client.get("/slow?ms=999999")
    assert response.status_code == 200
    assert sleeps == [pyweb_app.MAX_SLOW_MS / 1000]
    assert sleeps == [30.0]
    assert response.get_json()["slept_ms"] == 30_000


@pytest.mark.parametrize(
    ("query", "expected"),
    [("", 0), ("?ms=", 0), ("?ms=abc", 0), ("?ms=-5", 0), ("?ms=12.7", 12)],
)
def test_slow_odd_arguments(client: FlaskClient, sleeps: list[float], query: str, expected: int) -> None:
    response = client.get(f"/slow{query}")
    assert response.status_code == 200
    assert sleeps == [expected / 1000]
    assert response.get_json()["slept_ms"] == expected


def test_slow_really_sleeps(client: FlaskClient) -> None:
    response = client.get("/slow?ms=20")
    assert response.status_code == 200
    assert response.get_json()["slept_ms"] == 20


def test_parse_delay_ms() -> None:
    assert pyweb_app.parse_delay_ms(None) == 0
    assert pyweb_app.parse_delay_ms("3000") == 3000
    assert pyweb_app.parse_delay_ms("30001") == 30_000
    assert pyweb_app.parse_delay_ms("nan") == 0
    assert pyweb_app.parse_delay_ms("inf") == 0


def test_config_hashes_secrets(client: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    secrets = {"APP_SECRET_DB_PASSWORD": "s3cret-Value!", "APP_SECRET_TOKEN": "tok"}
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("APP_VERSION", "v1")
    monkeypatch.setenv("OTHER_SECRET", "not-listed")
    response = client.get("/config")
    assert response.status_code == 200
    assert response.get_json() == {
        "version": "v1",
        "secrets": {
            name: "sha256:" + hashlib.sha256(value.encode()).hexdigest() for name, value in secrets.items()
        },
    }
    raw = response.get_data(as_text=True)
    for value in [*secrets.values(), "not-listed"]:
        assert value not in raw
    assert "OTHER_SECRET" not in raw


def test_config_without_secrets(client: FlaskClient) -> None:
    response = client.get("/config")
    assert response.status_code == 200
    assert response.get_json() == {"version": "dev", "secrets": {}}


def test_secret_digest_matches_sha256sum() -> None:
    # echo -n s3cret | sha256sum
    expected = "1ec1c26b50d5d3c58d9583181af8076655fe00756bf7285940ba3670f99fcba0"
    assert pyweb_app.secret_digests({"APP_SECRET_X": "s3cret"}) == {"APP_SECRET_X": "sha256:" + expected}


def test_unknown_route_is_404(client: FlaskClient) -> None:
    assert client.get("/nope").status_code == 404
