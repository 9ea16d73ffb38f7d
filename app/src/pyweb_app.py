"""Sample web service deployed by the pyweb collection.

A deliberately small Flask application whose answers say which release,
host, replica and WSGI server produced them, so that load-balancing,
rolling-upgrade, drain and secret-delivery tests can observe the service
from the outside.

Configuration is read from the environment at request time:

``APP_VERSION``
    Release string reported by every endpoint (default ``dev``).
``APP_HOST``
    Name of the host that runs the container (default: the hostname).
``APP_REPLICA``
    Replica identifier on that host (default ``unknown``).
``WSGI_SERVER``
    ``gunicorn`` or ``uwsgi`` (default ``unknown``).
``APP_RELEASE_BROKEN``
    ``1``/``true``/``yes``/``on`` marks a deliberately broken release whose
    ``/`` and ``/healthz`` answer 500.
``APP_SECRET_*``
    Secrets; ``/config`` reports only their SHA-256 digests.
"""

from __future__ import annotations

import hashlib
import os
import socket
import time
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, jsonify, request

__all__ = [
    "HELLO_MESSAGE",
    "MAX_SLOW_MS",
    "SECRET_PREFIX",
    "app",
    "create_app",
    "identity",
    "is_release_broken",
    "parse_delay_ms",
    "secret_digests",
]

HELLO_MESSAGE = "Hello from a highly available Python web service!"
SECRET_PREFIX = "APP_SECRET_"
MAX_SLOW_MS = 30_000
BROKEN_REASON = "release built with APP_RELEASE_BROKEN"
_TRUTHY = frozenset({"1", "true", "yes", "on"})


def _env(name: str, default: str, environ: Mapping[str, str] | None = None) -> str:
    """Return ``environ[name]``, or ``default`` when it is unset or empty."""
    source = os.environ if environ is None else environ
    value = source.get(name, "")
    return value or default


def app_version(environ: Mapping[str, str] | None = None) -> str:
    """Release string of the running image."""
    return _env("APP_VERSION", "dev", environ)


def identity(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Fields that identify which instance answered a request."""
    hostname = socket.gethostname()
    return {
        "version": app_version(environ),
        "host": _env("APP_HOST", hostname, environ),
        "replica": _env("APP_REPLICA", "unknown", environ),
        "wsgi": _env("WSGI_SERVER", "unknown", environ),
        "hostname": hostname,
    }


def is_release_broken(environ: Mapping[str, str] | None = None) -> bool:
    """Tell whether the image was built as a deliberately broken release."""
    value = _env("APP_RELEASE_BROKEN", "0", environ)
    return value.strip().lower() in _TRUTHY


def secret_digests(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Map each ``APP_SECRET_*`` variable name to ``sha256:<hex>`` of its value."""
    source = os.environ if environ is None else environ
    return {
        name: "sha256:" + hashlib.sha256(value.encode("utf-8")).hexdigest()
        for name, value in sorted(source.items())
        if name.startswith(SECRET_PREFIX)
    }


def parse_delay_ms(raw: str | None) -> int:
    """Turn the ``ms`` query argument into a delay within ``[0, MAX_SLOW_MS]``.

    Missing, empty or non-numeric values mean no delay.
    """
    if raw is None or not raw.strip():
        return 0
    try:
        delay = int(float(raw))
    except (ValueError, OverflowError):
        return 0
    return max(0, min(delay, MAX_SLOW_MS))


def hello_payload() -> dict[str, str]:
    """Body of ``GET /``."""
    return {"message": HELLO_MESSAGE, **identity()}


def index() -> Response | tuple[Response, int]:
    """``GET /``: who answered; 500 in a deliberately broken release, like a
    release whose every page fails (a test asserts no client ever sees it)."""
    if is_release_broken():
        return jsonify({"status": "broken", "reason": BROKEN_REASON, **identity()}), 500
    return jsonify(hello_payload())


def healthz() -> tuple[Response, int]:
    """``GET /healthz``: 200 unless the release is deliberately broken."""
    if is_release_broken():
        return jsonify({"status": "broken", "reason": BROKEN_REASON}), 500
    return jsonify({"status": "ok", "version": app_version()}), 200


def echo() -> Response:
    """``POST /echo``: return the request body (JSON if it parses, else text)."""
    payload: Any = request.get_json(silent=True)
    if payload is None:
        payload = request.get_data(as_text=True)
    ident = identity()
    return jsonify({"echo": payload, "replica": ident["replica"], "version": ident["version"]})


def slow() -> Response:
    """``GET /slow?ms=N``: sleep N milliseconds (capped), then answer like ``/``."""
    delay_ms = parse_delay_ms(request.args.get("ms"))
    time.sleep(delay_ms / 1000)
    return jsonify({**hello_payload(), "slept_ms": delay_ms})


def config() -> Response:
    """``GET /config``: release and secret digests (never secret values)."""
    return jsonify({"version": app_version(), "secrets": secret_digests()})


def create_app() -> Flask:
    """Build the Flask application."""
    flask_app = Flask(__name__)
    flask_app.json.sort_keys = False  # type: ignore[attr-defined]
    flask_app.add_url_rule("/", "index", index, methods=["GET"])
    flask_app.add_url_rule("/healthz", "healthz", healthz, methods=["GET"])
    flask_app.add_url_rule("/echo", "echo", echo, methods=["POST"])
    flask_app.add_url_rule("/slow", "slow", slow, methods=["GET"])
    flask_app.add_url_rule("/config", "config", config, methods=["GET"])
    return flask_app


app = create_app()
