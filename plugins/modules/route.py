#!/usr/bin/python
# Copyright: (c) 2026, pyweb.ha maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Point the virtual addresses of a proxy's network namespace at their targets."""

from __future__ import annotations

DOCUMENTATION = r"""
module: route
short_description: Point the virtual addresses of a pyweb.ha proxy at their targets (DNAT, no reload)
description:
  - The host Nginx (role C(pyweb.ha.stack)) and the edge balancer (role C(pyweb.ha.balancer)) name
    virtual addresses in their upstreams; DNAT rules in the network namespace of the project's
    holder service send each to its target. This module makes the rules say I(targets), in one
    atomic commit, and keeps them in C(dnat.json) for the health agent, which redirects a failed
    target's address to a healthy one the same way.
  - New connections follow the new rules at once; connections already open keep their
    destination, so nothing in flight is cut and no Nginx reload is needed.
version_added: 0.2.0
author: pyweb.ha maintainers (@pyweb-ha)
options:
  project_dir:
    description: Directory of the compose project.
    type: path
    required: true
  project_name:
    description: Compose project name.
    type: str
    required: true
  net_service:
    description: Compose service that holds the proxy's network namespace.
    type: str
    default: net
  targets:
    description: A list of C(name), C(vip), C(address) and C(port) (the VIP's port is the target's).
    type: list
    elements: dict
    required: true
  lock_timeout:
    description: Seconds to wait for the host lock.
    type: float
    default: 120
  drain_timeout:
    description:
      - Seconds to wait, after the rules changed, until no connection from the proxy's namespace to a
        drained target (C(drained) true) is left - its requests in flight finished, its kept
        connections closed. 0 does not wait.
    type: float
    default: 0
notes:
  - Needs C(docker), C(nsenter) and C(iptables) on the host; runs as root.
"""

EXAMPLES = r"""
- name: Send each replica's virtual address to its serving slot
  pyweb.ha.route:
    project_dir: /opt/pyweb
    project_name: pyweb
    targets:
      - {name: app_1, vip: 172.30.0.171, address: 172.30.0.11, port: 8000}
"""

RETURN = r"""
targets:
  description: The targets now in force.
  returned: always
  type: list
  elements: dict
drained:
  description: Whether every drained target was left by all connections within I(drain_timeout).
  returned: always
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.pyweb.ha.plugins.module_utils.netns import (
    HostLock,
    NetnsError,
    Project,
    connections_in,
    wait_until,
)


def drained(project: Project, targets: list[dict], timeout: float) -> bool:
    """True once no connection from the namespace to a drained target is left."""
    ends = [f"{t['address']}:{t['port']}" for t in targets if t.get("drained")]

    def left() -> bool:
        tables = project.tcp_tables(project.ns_pid())
        return all(connections_in(tables, 0, remote=end) == 0 for end in ends)

    return not ends or wait_until(left, timeout, 0.1)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "project_dir": {"type": "path", "required": True},
            "project_name": {"type": "str", "required": True},
            "net_service": {"type": "str", "default": "net"},
            "targets": {"type": "list", "elements": "dict", "required": True},
            "lock_timeout": {"type": "float", "default": 120},
            "drain_timeout": {"type": "float", "default": 0},
        },
        supports_check_mode=True,
    )
    params = module.params
    project = Project(params["project_dir"], params["project_name"], params["net_service"])
    try:
        done = True
        if module.check_mode:
            changed = project.route(params["targets"], check_mode=True)
        else:
            with HostLock(project.dir, params["lock_timeout"]):
                changed = project.route(params["targets"])
            done = (
                module.check_mode
                or not params["drain_timeout"]
                or drained(project, params["targets"], params["drain_timeout"])
            )
    except (NetnsError, OSError) as err:
        module.fail_json(msg=str(err))
    module.exit_json(changed=changed, targets=params["targets"], drained=bool(done))


if __name__ == "__main__":
    main()
