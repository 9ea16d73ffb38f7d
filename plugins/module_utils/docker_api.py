# Copyright: (c) 2026, pyweb.ha maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""A connection to the Docker Engine API with nothing but the standard
library (a Unix socket, or TCP with or without TLS), for the modules that
make one or a few requests where community.docker would carry its whole
client to the host. The options are documented once, in the doc fragment
pyweb.ha.docker_api."""

from __future__ import annotations

import http.client
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
