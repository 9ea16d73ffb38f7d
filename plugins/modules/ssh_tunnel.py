#!/usr/bin/python
# Copyright: (c) 2026, pyweb.ha maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Documentation of the pyweb.ha.ssh_tunnel action (plugins/action/ssh_tunnel.py)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: ssh_tunnel
short_description: Let a host reach a port of the controller's loopback through Ansible's SSH connection
description:
  - Adds (C(state=present)) or removes (C(state=absent)) a reverse port forward
    (C(ssh -O forward -R)) on the multiplexed SSH connection Ansible already holds to the host;
    connections to C(127.0.0.1:remote_port) on the host reach C(127.0.0.1:port) on the controller.
    Nothing listens on any other address, and nothing is opened on the controller.
  - The image role uses it so each host's Docker pulls the layers it lacks from a registry on the
    controller's loopback (C(image_transfer=layers)).
  - Needs the C(ssh) connection with C(ControlPersist) (Ansible's default C(ssh_args)) and a host
    sshd that allows TCP forwarding. Adding a forward that is already there succeeds.
  - In check mode nothing is opened; the task reports what it would do.
version_added: 0.3.0
author: pyweb.ha maintainers (@pyweb-ha)
options:
  port:
    description: The controller's loopback port.
    type: int
    required: true
  remote_port:
    description: The host's loopback port; defaults to O(port).
    type: int
  state:
    description: Whether the forward is there.
    type: str
    choices: [present, absent]
    default: present
  probe_path:
    description:
      - When set, after adding the forward the host GETs C(http://127.0.0.1:remote_port/probe_path)
        and the task fails unless the answer is 200 (C(/v2/) for a registry).
    type: str
    default: ''
  probe_timeout:
    description: Seconds the probe waits for its answer.
    type: int
    default: 10
"""

EXAMPLES = r"""
- name: Open the tunnel to the controller's registry
  pyweb.ha.ssh_tunnel:
    port: 5055
    probe_path: /v2/

- name: Close it
  pyweb.ha.ssh_tunnel:
    port: 5055
    state: absent
"""

RETURN = r"""
forward:
  description: The forward, as the operator reads it.
  returned: always
  type: str
  sample: app1 127.0.0.1:5055 -> controller 127.0.0.1:5055
"""
