# Copyright: (c) 2026, pyweb.ha maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""What a role acts on, read in one round trip: the Debian packages a host
lacks, the systemd units that are down, the users outside a group, what the
Docker daemon reports. pyweb.ha.host_state returns it on its own;
pyweb.ha.files returns it after writing a role's files (one call for a role
that writes files and keeps packages and services). The options are
documented once, in the doc fragment pyweb.ha.host_report."""

from __future__ import annotations

import grp
import json
import pwd
from typing import Any

from ansible_collections.pyweb.ha.plugins.module_utils.systemd import read_units

# The options of the report, for a module's argument_spec.
REPORT_OPTIONS: dict[str, dict[str, Any]] = {
    "packages": {"type": "list", "elements": "str", "default": []},
    "units": {"type": "list", "elements": "str", "default": []},
    "users": {"type": "list", "elements": "str", "default": []},
    "group": {"type": "str", "default": ""},
    "docker_info": {"type": "bool", "default": False},
}


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


def read_docker_info(module: Any) -> dict[str, Any]:
    docker = module.get_bin_path("docker")
    if not docker:
        return {"rc": -1, "stderr": "no docker command", "data": {}}
    rc, out, err = module.run_command([docker, "info", "--format", "{{json .}}"])
    try:
        data = json.loads(out) if rc == 0 else {}
    except ValueError:
        data = {}
    return {"rc": rc, "stderr": err.strip(), "data": data if isinstance(data, dict) else {}}


def missing_packages(module: Any, packages: list[str]) -> list[str]:
    if not packages:
        return []
    # rc 1 when a name is unknown: the known ones are still listed.
    query = ["dpkg-query", "-W", "-f", "${Package} ${db:Status-Abbrev}\\n", *packages]
    _rc, out, _err = module.run_command(query)
    have = installed_packages(out)
    return [name for name in packages if name not in have]


def read_report(module: Any, params: dict[str, Any]) -> dict[str, Any]:
    """The report of REPORT_OPTIONS as given in params; fails the module on users without group."""
    users: list[str] = params["users"]
    if users and not params["group"]:
        module.fail_json(msg=f"{module._name}: users needs group (the group they must belong to)")
    report: dict[str, Any] = {
        "packages_missing": missing_packages(module, params["packages"]),
        "users_unknown": [],
        "users_outside_group": [],
        **read_units(module, params["units"]),
    }
    if users:
        members = group_members(params["group"]) or set()
        report["users_unknown"] = [user for user in users if not user_exists(user)]
        report["users_outside_group"] = [
            user for user in users if user not in members and user not in report["users_unknown"]
        ]
    if params["docker_info"]:
        report["docker_info"] = read_docker_info(module)
    return report
