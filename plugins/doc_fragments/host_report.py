# Copyright: (c) 2026, pyweb.ha maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The report options of pyweb.ha.host_state and pyweb.ha.files
(plugins/module_utils/host_report.py), described once."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  packages:
    description:
      - Debian package names that must be installed; those that are not are returned in
        RV(packages_missing).
    type: list
    elements: str
    default: []
  units:
    description:
      - systemd units (without C(.service)) that must be enabled and active; their state is
        returned in RV(units) and RV(units_down) (one C(systemctl show)). Nothing is done to them.
    type: list
    elements: str
    default: []
  users:
    description:
      - Users that must be members of O(group); returned in RV(users_unknown) and
        RV(users_outside_group).
    type: list
    elements: str
    default: []
  group:
    description: The group that O(users) must belong to (a group that does not exist yet has no members).
    type: str
    default: ""
  docker_info:
    description:
      - Also return what C(docker info) reports (as JSON), when the C(docker) command exists, in
        RV(docker_info).
    type: bool
    default: false
"""
