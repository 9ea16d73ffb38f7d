#!/usr/bin/python
# Copyright: (c) 2026, pyweb.ha maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The facts the roles of pyweb.ha read (distribution, architecture, default
IPv4 route), in one short round trip: the setup module's network subset scans
every interface (one veth per container on a Docker host) for one route."""

from __future__ import annotations

DOCUMENTATION = r"""
module: host_facts
short_description: Distribution, architecture and default IPv4 route, named as the setup module names them
description:
  - Reads C(/etc/os-release), C(/etc/debian_version) and C(ip -4 route get) and returns them as
    facts with the names, and the values, of the setup module's C(distribution), C(platform) and
    C(network) subsets, for the facts the roles of this collection read. A Docker host has an
    interface per container, which the C(network) subset scans one by one; this module asks the
    kernel for the one route the roles need.
  - Read-only; runs in check mode too.
version_added: 0.3.0
author: pyweb.ha maintainers (@pyweb-ha)
options: {}
notes:
  - A host without a default IPv4 route gets an empty C(default_ipv4), as with the setup module.
"""

EXAMPLES = r"""
- name: Gather the facts the roles read
  pyweb.ha.host_facts:

- name: Show them
  ansible.builtin.debug:
    msg: "{{ ansible_distribution }} {{ ansible_distribution_version }} ({{ ansible_distribution_release }}),
      {{ ansible_architecture }}, {{ ansible_default_ipv4.address | default('no default route') }}"
"""

RETURN = r"""
ansible_facts:
  description: The facts, named as the setup module names them (C(ansible_distribution)).
  returned: always
  type: dict
  contains:
    ansible_distribution:
      description: C(Debian), C(Ubuntu), or the C(NAME) of C(/etc/os-release) for others.
      type: str
    ansible_distribution_version:
      description: C(/etc/debian_version) on Debian (e.g. C(13.2)), else C(VERSION_ID).
      type: str
    ansible_distribution_major_version:
      description: The distribution version up to its first dot.
      type: str
    ansible_distribution_release:
      description: The release code name (C(VERSION_CODENAME)), e.g. C(trixie) or C(noble).
      type: str
    ansible_os_family:
      description: C(Debian) for Debian and its derivatives (C(ID_LIKE)), else the distribution.
      type: str
    ansible_architecture:
      description: The machine hardware name, e.g. C(x86_64) or C(aarch64).
      type: str
    ansible_default_ipv4:
      description: C(address), C(interface) and C(gateway) of the default IPv4 route; empty without one.
      type: dict
  sample:
    ansible_distribution: Debian
    ansible_distribution_version: "13.2"
    ansible_distribution_major_version: "13"
    ansible_distribution_release: trixie
    ansible_os_family: Debian
    ansible_architecture: x86_64
    ansible_default_ipv4: {address: 192.0.2.11, interface: eth0, gateway: 192.0.2.1}
"""

import os
import re
import shlex
from typing import Any

from ansible.module_utils.basic import AnsibleModule

# The setup module's names for the distributions this collection supports.
KNOWN_NAMES = {"debian": "Debian", "ubuntu": "Ubuntu"}
# The address the setup module asks the route to (any address beyond the host will do).
ROUTE_PROBE = "8.8.8.8"


def parse_os_release(text: str) -> dict[str, str]:
    """KEY=value lines of os-release(5), values unquoted."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if not sep or key.startswith("#"):
            continue
        try:
            words = shlex.split(value)
        except ValueError:
            words = [value]
        fields[key] = words[0] if words else ""
    return fields


def distribution_facts(os_release: dict[str, str], debian_version: str | None) -> dict[str, str]:
    """distribution, its version, major version, release and family."""
    ident = os_release.get("ID", "").lower()
    name = KNOWN_NAMES.get(ident) or os_release.get("NAME", "").split(" ")[0] or "Unknown"
    version = os_release.get("VERSION_ID", "")
    point = (debian_version or "").strip()
    if ident == "debian" and re.fullmatch(r"\d+(\.\d+)*", point):
        version = point
    release = os_release.get("VERSION_CODENAME") or os_release.get("UBUNTU_CODENAME") or ""
    debian_like = ident == "debian" or "debian" in os_release.get("ID_LIKE", "").split()
    return {
        "distribution": name,
        "distribution_version": version,
        "distribution_major_version": version.split(".")[0] if version else "",
        "distribution_release": release,
        "os_family": "Debian" if debian_like else name,
    }


def parse_route(output: str) -> dict[str, str]:
    """address, interface and gateway of `ip -4 -o route get ADDRESS`; {} without a route."""
    words = output.split()
    found: dict[str, str] = {}
    for key, name in (("src", "address"), ("dev", "interface"), ("via", "gateway")):
        if key in words[:-1]:
            found[name] = words[words.index(key) + 1]
    return found if "address" in found and "interface" in found else {}


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError:
        return None


def main() -> None:
    module = AnsibleModule(argument_spec={}, supports_check_mode=True)
    os_release = parse_os_release(_read("/etc/os-release") or _read("/usr/lib/os-release") or "")
    facts: dict[str, Any] = distribution_facts(os_release, _read("/etc/debian_version"))
    facts["architecture"] = os.uname().machine
    ip = module.get_bin_path("ip")
    route: dict[str, str] = {}
    if ip:
        rc, out, _err = module.run_command([ip, "-4", "-o", "route", "get", ROUTE_PROBE])
        route = parse_route(out) if rc == 0 else {}
    facts["default_ipv4"] = route
    # Named as the setup module names them, so they are variables too (ansible_distribution).
    module.exit_json(changed=False, ansible_facts={f"ansible_{key}": value for key, value in facts.items()})


if __name__ == "__main__":
    main()
