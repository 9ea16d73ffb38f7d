# Copyright: (c) 2026, pyweb.ha maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""A connection to the Docker Engine API with nothing but the standard
library (a Unix socket, or TCP with or without TLS), for the modules that
make one or a few requests where community.docker would carry its whole
client to the host. The options are documented once, in the doc fragment
pyweb.ha.docker_api."""

from __future__ import annotations

import http.client
import json
import os
import socket
import ssl
import urllib.parse
from typing import Any

DEFAULT_HOST = "unix:///var/run/docker.sock"

# The options of the connection, for a module's argument_spec.
DAEMON_OPTIONS: dict[str, dict[str, Any]] = {
    "docker_host": {"type": "str"},
    "tls": {"type": "bool"},
    "cert_path": {"type": "path"},
    "timeout": {"type": "int", "default": 60},
}


class UnixConnection(http.client.HTTPConnection):
    """HTTP over a Unix socket (the Docker daemon's local endpoint)."""

    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.socket_path)
        self.sock = sock


def tls_context(cert_path: str) -> ssl.SSLContext:
    """Verify the daemon with ca.pem, present cert.pem and key.pem (Docker's layout)."""
    context = ssl.create_default_context(cafile=os.path.join(cert_path, "ca.pem"))
    context.load_cert_chain(os.path.join(cert_path, "cert.pem"), os.path.join(cert_path, "key.pem"))
    return context


def connect(docker_host: str, tls: bool, cert_path: str, timeout: float) -> http.client.HTTPConnection:
    """A connection to the daemon at docker_host (unix:// or tcp://); ValueError for others."""
    address = urllib.parse.urlsplit(docker_host)
    if address.scheme == "unix":
        return UnixConnection(address.path, timeout)
    if address.scheme == "tcp" and address.hostname:
        if tls:
            return http.client.HTTPSConnection(
                address.hostname, address.port or 2376, timeout=timeout, context=tls_context(cert_path)
            )
        return http.client.HTTPConnection(address.hostname, address.port or 2375, timeout=timeout)
    raise ValueError(f"{docker_host!r} is neither unix:///PATH nor tcp://HOST:PORT")


def connect_as_given(params: dict[str, Any]) -> tuple[str, http.client.HTTPConnection]:
    """The daemon's address and a connection to it, from DAEMON_OPTIONS' values, else
    Docker's environment variables (DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH)."""
    docker_host = params["docker_host"] or os.environ.get("DOCKER_HOST") or DEFAULT_HOST
    tls = params["tls"] if params["tls"] is not None else bool(os.environ.get("DOCKER_TLS_VERIFY"))
    home = os.environ.get("HOME", "/root")
    cert_path = params["cert_path"] or os.environ.get("DOCKER_CERT_PATH") or os.path.join(home, ".docker")
    return docker_host, connect(docker_host, tls, cert_path, params["timeout"])


def quoted(name: str) -> str:
    """An image name as one path segment (a slash or a colon is part of it)."""
    return urllib.parse.quote(name, safe="")


def inspect(connection: http.client.HTTPConnection, name: str) -> dict[str, Any] | None:
    """The daemon's image inspect of name; None when no image has that name."""
    connection.request("GET", "/images/" + quoted(name) + "/json")
    response = connection.getresponse()
    body = response.read()
    if response.status == 404:
        return None
    if response.status != 200:
        text = body.decode(errors="replace")
        raise RuntimeError(f"the daemon answered {response.status} for {name}: {text}")
    data = json.loads(body)
    if not isinstance(data, dict):
        raise RuntimeError(f"the daemon's answer for {name} is not an image: {body[:200]!r}")
    return data


def look_up(connection: http.client.HTTPConnection, names: list[str]) -> list[dict[str, Any]]:
    """The images that exist among names, in that order, each once."""
    found: list[dict[str, Any]] = []
    for name in names:
        image = inspect(connection, name)
        if image is not None and all(image.get("Id") != seen.get("Id") for seen in found):
            found.append(image)
    return found


# pyweb.ha.images' argument spec: its module and its action plugin (in-process on the controller).
IMAGES_OPTIONS: dict[str, dict[str, Any]] = {
    "name": {"type": "list", "elements": "str", "required": True},
    **DAEMON_OPTIONS,
}


class LookupFailed(Exception):
    """The images could not be looked up; the message says why and what to do."""


def find_images(params: dict[str, Any]) -> list[dict[str, Any]]:
    """pyweb.ha.images: the images of params['name'] that exist, as DAEMON_OPTIONS'
    values reach the daemon; LookupFailed with the operator's message."""
    docker_host = params["docker_host"] or "the default"
    try:
        docker_host, connection = connect_as_given(params)
        return look_up(connection, params["name"])
    except ValueError as err:
        raise LookupFailed(
            f"pyweb.ha.images: the Docker host {err}. Set docker_host (or DOCKER_HOST) to one, "
            "or look the images up with community.docker.docker_image_info."
        ) from err
    except (OSError, RuntimeError, http.client.HTTPException) as err:
        raise LookupFailed(
            f"pyweb.ha.images: cannot look up images at {docker_host}: {err}. Is Docker up?"
        ) from err
