"""A small stand-in for the Docker Engine API on a Unix socket, for the unit
tests of the modules that talk to it with the standard library."""

from __future__ import annotations

import http.server
import json
import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class UnixHTTPServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


class EngineHandler(http.server.BaseHTTPRequestHandler):
    """A handler's plumbing: JSON answers, no client address, no log."""

    def address_string(self) -> str:  # a Unix socket has no client address
        return "unix"

    def answer(self, status: int, body: object) -> None:
        """Send body as JSON (bytes as they are)."""
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        return


@contextmanager
def serving(handler: type[EngineHandler], directory: Path) -> Iterator[str]:
    """The handler served on DIRECTORY/docker.sock; yields its unix:// address."""
    path = directory / "docker.sock"
    server = UnixHTTPServer(str(path), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"unix://{path}"
    finally:
        server.shutdown()
        server.server_close()
