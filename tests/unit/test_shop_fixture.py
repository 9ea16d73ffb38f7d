"""The shop fixture (tests/fixtures/shop), a user's own app for the tests:
who answered (the fields the load generator and tests/lib/lab.py read), its
health path /ready with the release, POSTs accepted."""

from __future__ import annotations

import importlib
import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest

SHOP = Path(__file__).resolve().parents[1] / "fixtures" / "shop"
if str(SHOP) not in sys.path:
    sys.path.insert(0, str(SHOP))

wsgi = importlib.import_module("shop.wsgi")


def call(method: str, path: str, body: bytes = b"", query: str = "") -> tuple[str, dict[str, Any]]:
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "CONTENT_LENGTH": str(len(body)) if body else "",
        "wsgi.input": io.BytesIO(body),
    }
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        seen.update(status=status, headers=dict(headers))

    data = b"".join(wsgi.application(environ, start_response))
    assert seen["headers"]["Content-Length"] == str(len(data))
    return seen["status"], json.loads(data)


@pytest.fixture(autouse=True)
def release(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_VERSION", "2.0.0")
    monkeypatch.setenv("APP_HOST", "app1")
    monkeypatch.setenv("APP_REPLICA", "app_2")


def test_get_says_who_answered():
    status, body = call("GET", "/")
    assert status == "200 OK"
    assert body == {"service": "shop", "host": "app1", "replica": "app_2", "version": "2.0.0"}


def test_health_path_reports_the_release():
    assert call("GET", "/ready") == ("200 OK", {"release": "2.0.0", "status": "ready"})


@pytest.mark.parametrize("path", ["/", "/echo"])
def test_post_is_accepted(path):
    status, body = call("POST", path, b'{"n": 1}')
    assert status == "200 OK"
    assert body["received"] == 8 and body["replica"] == "app_2"


def test_defaults_without_the_stacks_environment(monkeypatch: pytest.MonkeyPatch):
    for name in ("APP_VERSION", "APP_HOST", "APP_REPLICA"):
        monkeypatch.delenv(name)
    body = call("GET", "/")[1]
    assert body["version"] == "dev" and body["replica"] == "unknown" and body["host"]


def test_slow_is_capped(monkeypatch: pytest.MonkeyPatch):
    slept = []
    monkeypatch.setattr(wsgi.time, "sleep", slept.append)
    assert call("GET", "/slow", query="ms=99999")[1]["slept_ms"] == wsgi.MAX_SLOW_MS
    assert call("GET", "/slow", query="ms=oops")[1]["slept_ms"] == 0
    assert slept == [wsgi.MAX_SLOW_MS / 1000, 0]


def test_other_requests_are_refused():
    assert call("GET", "/nope")[0] == "404 Not Found"
    assert call("DELETE", "/")[0] == "405 Method Not Allowed"
    assert call("POST", "/ready")[0] == "405 Method Not Allowed"
