#!/usr/bin/python
# Copyright: (c) 2026, pyweb.ha maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Pull images from a registry and name them as they are named elsewhere
(the controller), in one call: pull, tag and untag for each image, through
the Engine API with nothing but the standard library."""

from __future__ import annotations

DOCUMENTATION = r"""
module: image_pull
short_description: Pull images from a registry under the names they have elsewhere, in one call
description:
  - For each image of O(name), pulls C(REGISTRY/NAME) from O(registry) (Docker fetches only the
    layers the host lacks), names the image C(NAME), and removes the name C(REGISTRY/NAME) (the
    image stays, under C(NAME)).
  - What C(community.docker.docker_image_pull), C(docker_image_tag) and C(docker_image_remove) do
    in three calls per loop, in one call with a few requests per image to the Engine API
    (C(POST /images/create), C(POST /images/NAME/tag), C(DELETE /images/NAME)).
  - Docker trusts a registry on 127.0.0.0/8 over plain HTTP; any other registry must be one
    the daemon trusts (TLS, or C(insecure-registries)).
  - A registry that asks for credentials gets those C(community.docker.docker_login) (or
    C(docker login)) stored for its host in O(config_path), as the Docker CLI sends them. Credential
    helpers (C(credsStore), C(credHelpers)) are not read.
version_added: 0.3.0
author: pyweb.ha maintainers (@pyweb-ha)
options:
  name:
    description: The names the images get on this host (C(NAME[:TAG]), C(:latest) when untagged).
    type: list
    elements: str
    required: true
  registry:
    description:
      - The registry to pull them from, C(HOST[:PORT]) with an optional path (C(registry.example.com/team));
        each image is pulled as C(REGISTRY/NAME).
    type: str
    required: true
  config_path:
    description: The Docker client configuration whose stored credentials for the registry's host are sent.
    type: path
    default: ~/.docker/config.json
extends_documentation_fragment:
  - pyweb.ha.docker_api
notes:
  - Supports check mode (reports each image as pulled, changes nothing).
"""

EXAMPLES = r"""
- name: Pull the images this host lacks through the tunnel to the controller's registry
  pyweb.ha.image_pull:
    name: [pyweb/app:2.0.0, nginx:pyweb]
    registry: 127.0.0.1:5055
"""

RETURN = r"""
pulled:
  description:
    - Per image, in the order given, the name, where it came from, its image ID and the daemon's
      last word.
  returned: always
  type: list
  elements: dict
  sample:
    - name: pyweb/app:2.0.0
      source: 127.0.0.1:5055/pyweb/app:2.0.0
      id: sha256:3c9c...
      status: "Status: Downloaded newer image for 127.0.0.1:5055/pyweb/app:2.0.0"
"""

import base64
import http.client
import json

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.pyweb.ha.plugins.module_utils.docker_api import (
    DAEMON_OPTIONS,
    connect_as_given,
    quoted,
)


def split_name(name: str) -> tuple[str, str]:
    """(repository, tag) of NAME[:TAG]; ValueError for a digest, which cannot be a name."""
    if "@" in name:
        raise ValueError(f"{name} is a digest reference; give a NAME[:TAG]")
    repository, colon, tag = name.rpartition(":")
    if not colon or "/" in tag:
        return name, "latest"
    return repository, tag


def registry_auth(registry: str, config_path: str) -> str:
    """The X-Registry-Auth header for the registry's host, from the credentials that
    `docker login` stored in config_path; '' when none are stored there."""
    host = registry.split("/", 1)[0]
    try:
        with open(config_path, encoding="utf-8") as config_file:
            auths = json.load(config_file).get("auths", {})
    except FileNotFoundError:
        return ""
    except (OSError, ValueError) as err:
        raise RuntimeError(f"cannot read the registry credentials in {config_path}: {err}") from err
    entry = next((auths[key] for key in (host, f"https://{host}", f"http://{host}") if key in auths), {})
    if not entry.get("auth"):
        return ""
    decoded = base64.b64decode(entry["auth"]).decode()
    username = decoded.split(":", 1)[0]
    password = decoded[len(username) + 1 :]
    credentials = {"username": username, "password": password, "serveraddress": host}
    return base64.urlsafe_b64encode(json.dumps(credentials).encode()).decode()


def references(registry: str, name: str) -> tuple[str, str]:
    """(NAME:TAG, REGISTRY/NAME:TAG): the name an image gets here and where it is pulled from."""
    repository, tag = split_name(name)
    return f"{repository}:{tag}", f"{registry}/{repository}:{tag}"


def _answer(
    connection: http.client.HTTPConnection, method: str, path: str, auth: str = ""
) -> tuple[int, bytes]:
    connection.request(method, path, headers={"X-Registry-Auth": auth} if auth else {})
    response = connection.getresponse()
    return response.status, response.read()


def image_id(connection: http.client.HTTPConnection, name: str) -> str:
    """The ID of the image named name; '' when there is none."""
    status, body = _answer(connection, "GET", f"/images/{quoted(name)}/json")
    if status == 404:
        return ""
    if status != 200:
        raise RuntimeError(f"the daemon answered {status} for {name}: {body.decode(errors='replace')}")
    return str(json.loads(body).get("Id", ""))


def pull_status(source: str, status: int, body: bytes) -> str:
    """The last status line of a pull's progress stream; RuntimeError for an error in it."""
    if status != 200:
        raise RuntimeError(
            f"pulling {source}: the daemon answered {status}: {body.decode(errors='replace').strip()}"
        )
    last = ""
    for line in body.decode(errors="replace").splitlines():
        if not line.strip():
            continue
        event = json.loads(line)
        if "error" in event or "errorDetail" in event:
            message = event.get("errorDetail", {}).get("message") or event.get("error")
            raise RuntimeError(f"pulling {source}: {message}")
        last = str(event.get("status", last))
    return last


def pull_as(
    connection: http.client.HTTPConnection, registry: str, name: str, auth: str = ""
) -> dict[str, str]:
    """Pull REGISTRY/NAME, name it NAME, drop REGISTRY/NAME; what happened."""
    repository, tag = split_name(name)
    target, source = references(registry, name)
    from_image = quoted(f"{registry}/{repository}")
    status = pull_status(
        source, *_answer(connection, "POST", f"/images/create?fromImage={from_image}&tag={quoted(tag)}", auth)
    )
    code, body = _answer(
        connection, "POST", f"/images/{quoted(source)}/tag?repo={quoted(repository)}&tag={quoted(tag)}"
    )
    if code != 201:
        raise RuntimeError(
            f"naming {source} {repository}:{tag}: the daemon answered {code}: {body.decode(errors='replace')}"
        )
    code, body = _answer(connection, "DELETE", f"/images/{quoted(source)}")
    if code != 200:
        raise RuntimeError(
            f"removing the name {source}: the daemon answered {code}: {body.decode(errors='replace')}"
        )
    return {
        "name": target,
        "source": source,
        "id": image_id(connection, target),
        "status": status,
    }


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "name": {"type": "list", "elements": "str", "required": True},
            "registry": {"type": "str", "required": True},
            "config_path": {"type": "path", "default": "~/.docker/config.json"},
            **DAEMON_OPTIONS,
        },
        supports_check_mode=True,
    )
    names, registry = module.params["name"], module.params["registry"].rstrip("/")
    for name in names:
        try:
            split_name(name)
        except ValueError as err:
            module.fail_json(msg=f"pyweb.ha.image_pull: name: {err}.")
    docker_host = module.params["docker_host"] or "the default"
    pulled: list[dict[str, str]] = []
    changed = False
    try:
        docker_host, connection = connect_as_given(module.params)
        auth = registry_auth(registry, module.params["config_path"])
        for name in names:
            if module.check_mode:
                target, source = references(registry, name)
                pulled.append({"name": target, "source": source, "id": "", "status": "check mode"})
                changed = True
                continue
            before = image_id(connection, name)
            pulled.append(pull_as(connection, registry, name, auth))
            changed = changed or pulled[-1]["id"] != before
    except ValueError as err:
        module.fail_json(
            msg=f"pyweb.ha.image_pull: {err}. Set docker_host (or DOCKER_HOST) to a Unix or TCP address.",
            pulled=pulled,
        )
    except (OSError, RuntimeError, http.client.HTTPException) as err:
        module.fail_json(
            msg=f"pyweb.ha.image_pull: at {docker_host}, {err}. Does this host reach {registry}, and does "
            "the registry hold the image?",
            pulled=pulled,
        )
    module.exit_json(changed=changed, pulled=pulled)


if __name__ == "__main__":
    main()
