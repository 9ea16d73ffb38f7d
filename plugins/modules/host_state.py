#!/usr/bin/python
# Copyright: (c) 2026, pyweb.ha maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Read, in one round trip, which Debian packages a host lacks, which systemd
units are not enabled or not running, which users are outside a group and
what the Docker daemon reports, so a role runs apt, systemd and user only
when something is missing."""

from __future__ import annotations

DOCUMENTATION = r"""
module: host_state
short_description: Which packages a host lacks, which units are down, which users are outside a group
description:
  - Read-only, one round trip (C(dpkg-query), C(systemctl show), the user and group databases,
    C(docker info)). A role runs C(apt) only for a host that lacks a package, C(systemd_service)
    only for a unit that is not enabled or not active, and C(user) only for a user outside the
    group, so a run that changes nothing skips them all. Runs in check mode too.
version_added: 0.2.0
author: pyweb.ha maintainers (@pyweb-ha)
extends_documentation_fragment:
  - pyweb.ha.host_report
"""

EXAMPLES = r"""
- name: Look for what keepalived needs
  pyweb.ha.host_state:
    packages: [keepalived]
    units: [keepalived]
  register: state

- name: Install keepalived
  ansible.builtin.apt:
    name: keepalived
  when: state.packages_missing | length > 0
"""

RETURN = r"""
packages_missing:
  description: The given packages that are not installed (or unknown to dpkg).
  returned: always
  type: list
  elements: str
units_down:
  description: The given units that are not both enabled and active (or do not exist).
  returned: always
  type: list
  elements: str
units:
  description: Each unit's C(UnitFileState) and C(ActiveState).
  returned: always
  type: dict
  sample: {docker: {UnitFileState: enabled, ActiveState: active}}
users_unknown:
  description: The given users that do not exist.
  returned: always
  type: list
  elements: str
users_outside_group:
  description: The given users that exist and are not members of O(group).
  returned: always
  type: list
  elements: str
docker_info:
  description:
    - C(rc), C(stderr) and C(data) (the parsed JSON, empty when C(docker info) failed) of
      C(docker info --format json); C(rc) is -1 when there is no C(docker) command.
  returned: when O(docker_info=true)
  type: dict
"""

from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.pyweb.ha.plugins.module_utils.host_report import REPORT_OPTIONS, read_report


def main() -> None:
    module = AnsibleModule(argument_spec=REPORT_OPTIONS, supports_check_mode=True)
    result: dict[str, Any] = {"changed": False, **read_report(module, module.params)}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
