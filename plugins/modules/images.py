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
    C(docs/benchmarks.md), section 8). M(pyweb.ha.image_pull) pulls images; use C(community.docker)
    for other changes.
version_added: 0.3.0
author: pyweb.ha maintainers (@pyweb-ha)
options:
  name:
    description: Image names (C(NAME[:TAG]), C(:latest) when untagged) or IDs.
    type: list
    elements: str
    required: true
extends_documentation_fragment:
  - pyweb.ha.docker_api
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
from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.pyweb.ha.plugins.module_utils.docker_api import (
    DAEMON_OPTIONS,
    connect_as_given,
    quoted,
)


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


def main() -> None:
    module = AnsibleModule(
        argument_spec={"name": {"type": "list", "elements": "str", "required": True}, **DAEMON_OPTIONS},
        supports_check_mode=True,
    )
    docker_host = module.params["docker_host"] or "the default"
    try:
        docker_host, connection = connect_as_given(module.params)
        images = look_up(connection, module.params["name"])
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
