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
options:
  packages:
    description: Debian package names that must be installed.
    type: list
    elements: str
    default: []
  units:
    description: systemd units (without C(.service)) that must be enabled and active.
    type: list
    elements: str
    default: []
  users:
    description: Users that must be members of O(group).
    type: list
    elements: str
    default: []
  group:
    description: The group that O(users) must belong to (a group that does not exist yet has no members).
    type: str
    default: ""
  docker_info:
    description:
      - Also return what C(docker info) reports (as JSON), when the C(docker) command exists.
    type: bool
    default: false
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

import grp
import json
import pwd
from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.pyweb.ha.plugins.module_utils.systemd import read_units


def installed_packages(dpkg_output: str) -> set[str]:
    """Names whose dpkg status is installed, from `dpkg-query -W -f '${Package} ${db:Status-Abbrev}\\n'`."""
    found = set()
    for line in dpkg_output.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[1].startswith("ii"):
            found.add(parts[0].split(":")[0])
    return found


def group_members(group: str) -> set[str] | None:
    """Members of a group (also users whose primary group it is); None when it does not exist."""
    try:
        entry = grp.getgrnam(group)
    except KeyError:
        return None
    members = set(entry.gr_mem)
    members.update(user.pw_name for user in pwd.getpwall() if user.pw_gid == entry.gr_gid)
    return members


def user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def read_docker_info(module: AnsibleModule) -> dict[str, Any]:
    docker = module.get_bin_path("docker")
    if not docker:
        return {"rc": -1, "stderr": "no docker command", "data": {}}
    rc, out, err = module.run_command([docker, "info", "--format", "{{json .}}"])
    try:
        data = json.loads(out) if rc == 0 else {}
    except ValueError:
        data = {}
    return {"rc": rc, "stderr": err.strip(), "data": data if isinstance(data, dict) else {}}


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "packages": {"type": "list", "elements": "str", "default": []},
            "units": {"type": "list", "elements": "str", "default": []},
            "users": {"type": "list", "elements": "str", "default": []},
            "group": {"type": "str", "default": ""},
            "docker_info": {"type": "bool", "default": False},
        },
        supports_check_mode=True,
    )
    packages: list[str] = module.params["packages"]
    units: list[str] = module.params["units"]
    result: dict[str, Any] = {
        "changed": False,
        "packages_missing": [],
        "units_down": [],
        "units": {},
        "users_unknown": [],
        "users_outside_group": [],
    }
    if packages:
        # rc 1 when a name is unknown: the known ones are still listed.
        _rc, out, _err = module.run_command(
            ["dpkg-query", "-W", "-f", "${Package} ${db:Status-Abbrev}\\n", *packages]
        )
        have = installed_packages(out)
        result["packages_missing"] = [name for name in packages if name not in have]
    result.update(read_units(module, units))
    users: list[str] = module.params["users"]
    if users and not module.params["group"]:
        module.fail_json(msg="host_state: users needs group (the group they must belong to)")
    if users:
        members = group_members(module.params["group"]) or set()
        result["users_unknown"] = [user for user in users if not user_exists(user)]
        result["users_outside_group"] = [
            user for user in users if user not in members and user not in result["users_unknown"]
        ]
    if module.params["docker_info"]:
        result["docker_info"] = read_docker_info(module)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
