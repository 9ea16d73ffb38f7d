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

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.pyweb.ha.plugins.module_utils.docker_api import (
    IMAGES_OPTIONS,
    LookupFailed,
    find_images,
)


def main() -> None:
    module = AnsibleModule(argument_spec=IMAGES_OPTIONS, supports_check_mode=True)
    try:
        images = find_images(module.params)
    except LookupFailed as err:
        module.fail_json(msg=str(err))
    module.exit_json(changed=False, images=images)


if __name__ == "__main__":
    main()
