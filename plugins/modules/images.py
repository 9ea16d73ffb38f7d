#!/usr/bin/python
# Copyright: (c) 2026, pyweb.ha maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Look up images of a Docker engine by name: one small request per name to
the Engine API, with nothing but the standard library."""

from __future__ import annotations

DOCUMENTATION = r"""
module: images
short_description: Look up images of a Docker engine by name or ID, in one light call
description:
  - Asks the Docker Engine API for each given image (C(GET /images/NAME/json), what
    C(docker image inspect) prints) and returns those that exist, in the order asked.
    A name that no image has is left out; any other answer of the daemon is an error.
  - Returns what C(community.docker.docker_image_info) returns, for a fraction of its cost. The
    module is a few dozen lines of the standard library, where C(docker_image_info) carries
    C(community.docker)'s whole API client to the host on every call (measured in
    C(docs/benchmarks.md), section 8). Use C(community.docker) to change images.
  - Reaches the daemon over a Unix socket (the default, and C(unix://) hosts) or over TCP
    (C(tcp://), with TLS when C(tls) is true). An C(ssh://) host is not supported.
version_added: 0.3.0
author: pyweb.ha maintainers (@pyweb-ha)
options:
  name:
    description: Image names (C(NAME[:TAG]), C(:latest) when untagged) or IDs.
    type: list
    elements: str
    required: true
  docker_host:
    description:
      - The daemon's address.
      - When not given, the environment variable C(DOCKER_HOST) of the module's process, else
        C(unix:///var/run/docker.sock).
    type: str
  tls:
    description:
      - Talk TLS to a C(tcp://) host; verifies the daemon's certificate with C(ca.pem) and presents
        C(cert.pem) and C(key.pem) of O(cert_path).
      - When not given, true when the environment variable C(DOCKER_TLS_VERIFY) is set and not empty.
    type: bool
  cert_path:
    description:
      - Directory of C(ca.pem), C(cert.pem) and C(key.pem) for O(tls).
      - When not given, the environment variable C(DOCKER_CERT_PATH), else C(~/.docker).
    type: path
  timeout:
    description: Seconds to wait for each answer of the daemon.
    type: int
    default: 60
notes:
  - Reads only; supports check mode.
"""

EXAMPLES = r"""
- name: Look up the app image and the Nginx image on this host
  pyweb.ha.images:
    name: [pyweb/app:1.0.0, nginx:pyweb]
  register: found

- name: Look up an image on the controller
  pyweb.ha.images:
    name: pyweb/app:1.0.0
  delegate_to: localhost
  become: false
  register: controller
"""

RETURN = r"""
images:
  description: The images found, as the Engine API's image inspect returns them, in the order asked.
  returned: always
  type: list
  elements: dict
  sample:
    - Id: sha256:3c9c...
      RepoTags: [pyweb/app:1.0.0]
      RootFS: {Type: layers, Layers: [sha256:7a1d...]}
      Config: {Cmd: [/entrypoint.sh], Labels: {pyweb.ha.build-key: 5f2e...}}
"""

import http.client
import json
import os
import socket
import ssl
import urllib.parse
from typing import Any

from ansible.module_utils.basic import AnsibleModule

DEFAULT_HOST = "unix:///var/run/docker.sock"
HOME = os.environ.get("HOME", "/root")


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


def inspect(connection: http.client.HTTPConnection, name: str) -> dict[str, Any] | None:
    """The daemon's image inspect of name; None when no image has that name."""
    connection.request("GET", "/images/" + urllib.parse.quote(name, safe="") + "/json")
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


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "name": {"type": "list", "elements": "str", "required": True},
            "docker_host": {"type": "str"},
            "tls": {"type": "bool"},
            "cert_path": {"type": "path"},
            "timeout": {"type": "int", "default": 60},
        },
        supports_check_mode=True,
    )
    params = module.params
    docker_host = params["docker_host"] or os.environ.get("DOCKER_HOST") or DEFAULT_HOST
    tls = params["tls"] if params["tls"] is not None else bool(os.environ.get("DOCKER_TLS_VERIFY"))
    cert_path = params["cert_path"] or os.environ.get("DOCKER_CERT_PATH") or os.path.join(HOME, ".docker")
    try:
        connection = connect(docker_host, tls, cert_path, params["timeout"])
        images = look_up(connection, params["name"])
    except ValueError as err:
        module.fail_json(
            msg=f"pyweb.ha.images: the Docker host {err}. Set docker_host (or DOCKER_HOST) to one, "
            "or look the images up with community.docker.docker_image_info."
        )
    except (OSError, RuntimeError, http.client.HTTPException) as err:
        module.fail_json(msg=f"pyweb.ha.images: cannot look up images at {docker_host}: {err}. Is Docker up?")
    module.exit_json(changed=False, images=images)


if __name__ == "__main__":
    main()
