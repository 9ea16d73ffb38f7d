#!/usr/bin/python
# Copyright: (c) 2026, pyweb.ha maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Documentation of the pyweb.ha.check_input action (plugins/action/check_input.py)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: check_input
short_description: Check a role's input against its argument specification, formats and rules
description:
  - Runs on the controller inside a role (its C(validate) entry point); contacts no host.
  - Reads the role's C(meta/argument_specs.yml), takes the value of every option the host has
    (inventory, extra vars, role defaults), and checks types and choices (as Ansible would), then
    the C(Format:) and C(Range:) tags of each option's description, then the given rules.
  - A value is checked whether or not the current settings use it.
version_added: 0.2.0
author: pyweb.ha maintainers (@pyweb-ha)
options:
  entry_point:
    description: Entry point of the role whose options are checked.
    type: str
    default: main
  rules:
    description:
      - Cross-variable checks, each a mapping with C(var), C(value), C(ok) (a boolean),
        C(allowed) and C(fix).
    type: list
    elements: dict
    default: []
"""

EXAMPLES = r"""
# roles/stack/tasks/validate.yml: the specification's checks and one rule.
- name: Check the stack settings
  pyweb.ha.check_input:
    rules:
      - var: stack_stop_grace_period
        value: "{{ stack_stop_grace_period }}"
        ok: "{{ stack_stop_grace_period | int > stack_app_graceful_timeout | int }}"
        allowed: more than stack_app_graceful_timeout
        fix: raise stack_stop_grace_period or lower stack_app_graceful_timeout.
"""

RETURN = r"""
checked:
  description: How many values and rules were checked.
  returned: always
  type: int
  sample: 47
msg:
  description: On failure, one line per invalid setting (host, variable, value, what is allowed, fix).
  returned: failed
  type: str
"""
