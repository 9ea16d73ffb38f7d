#!/usr/bin/python
# Copyright: (c) 2026, pyweb.ha maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Take, renew or give back the deploy lease of a pyweb.ha app host."""

from __future__ import annotations

DOCUMENTATION = r"""
module: lease
short_description: Take, renew or give back the deploy lease of a pyweb.ha app host
description:
  - C(site.yml), C(upgrade.yml) and C(rollback.yml) take a lease on every app host before any change,
    so that two runs never change the same fleet at once. The lease is a small JSON file naming its
    holder (controller user and host, playbook, target version, start, expiry, run id).
  - A run that finds a live lease of another run fails at once and names the holder. A lease whose
    holder died expires; the next run takes it over and says so. I(force) breaks a live lease.
  - Taking or giving back a lease is the run's bookkeeping, not a change of the host's
    configuration - it never reports C(changed), so an idempotent run stays C(changed=0).
version_added: 0.2.0
author: pyweb.ha maintainers (@pyweb-ha)
options:
  path:
    description: Path of the lease file; its directory is made (mode 0755) when missing.
    type: path
    required: true
  state:
    description:
      - C(present) takes or renews the lease; C(absent) gives it back (only the holder's own);
        C(checked) only fails when another run holds a live lease (a run that changes nothing).
    type: str
    choices: [present, absent, checked]
    default: present
  run_id:
    description: Identity of this playbook run (the same on every host).
    type: str
    required: true
  holder:
    description: Who holds it, shown to a run that is refused (user@controller, playbook, version).
    type: dict
    default: {}
  ttl:
    description: Seconds the lease lives unless renewed.
    type: int
    default: 900
  force:
    description: Take the lease even when another live run holds it.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Take the deploy lease
  pyweb.ha.lease:
    path: /opt/pyweb/lease.json
    run_id: "{{ pyweb_run_id }}"
    holder: {user: alice@laptop, playbook: upgrade.yml, version: 2.0.0}
"""

RETURN = r"""
lease:
  description: The lease now in force (C(state=present)), or the one given back.
  returned: always
  type: dict
taken_over:
  description: The expired or broken lease this run took over, if any.
  returned: always
  type: dict
"""

import json
import os
import time
from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.pyweb.ha.plugins.module_utils.netns import read_text, write_atomic


def read_lease(path: str) -> dict[str, Any]:
    text = read_text(path)
    try:
        data = json.loads(text) if text else {}
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def describe(lease: dict[str, Any], now: float) -> str:
    holder = lease.get("holder") or {}
    left = int(float(lease.get("expires", 0)) - now)
    since = time.strftime("%H:%M:%S", time.gmtime(float(lease.get("started", 0))))
    who = f"{holder.get('user', '?')} running {holder.get('playbook', '?')}"
    return (
        f"{who} (target {holder.get('version') or '-'}), run {lease.get('run_id', '?')}, since {since} UTC, "
        + (f"expires in {left} s" if left > 0 else f"expired {-left} s ago")
    )


def decide(current: dict[str, Any], run_id: str, now: float, force: bool) -> tuple[str, dict[str, Any]]:
    """'take' (free, own, expired or forced: the second item is what was taken
    over, if anything) or 'refuse' (the second item is the live lease)."""
    if not current or current.get("run_id") == run_id:
        return "take", {}
    if float(current.get("expires", 0)) <= now or force:
        return "take", current
    return "refuse", current


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "state": {"type": "str", "choices": ["present", "absent", "checked"], "default": "present"},
            "run_id": {"type": "str", "required": True},
            "holder": {"type": "dict", "default": {}},
            "ttl": {"type": "int", "default": 900},
            "force": {"type": "bool", "default": False},
        },
        supports_check_mode=True,
    )
    p = module.params
    now = time.time()
    current = read_lease(p["path"])
    if p["state"] == "absent":
        mine = current.get("run_id") == p["run_id"]
        if mine and not module.check_mode:
            os.unlink(p["path"])
        # A lease is the run's bookkeeping, not the host's configuration: never a change.
        module.exit_json(changed=False, lease=current, taken_over={})
    verdict, other = decide(current, p["run_id"], now, p["force"])
    if verdict == "refuse":
        module.fail_json(
            msg=f"another run holds the deploy lease of this host: {describe(other, now)}. "
            "Wait until it ends; if it died, its lease expires by itself, "
            "or break it now with -e pyweb_lease_break=true.",
            lease=other,
        )
    if p["state"] == "checked":
        module.exit_json(changed=False, lease=current, taken_over={})
    started = current.get("started", now) if current.get("run_id") == p["run_id"] else now
    lease = {"run_id": p["run_id"], "holder": p["holder"], "started": started, "expires": now + p["ttl"]}
    if other:
        module.warn(
            f"took over the deploy lease of a run that {'was broken' if p['force'] else 'expired'}: "
            f"{describe(other, now)}"
        )
    if not module.check_mode:
        os.makedirs(os.path.dirname(p["path"]), mode=0o755, exist_ok=True)
        write_atomic(p["path"], json.dumps(lease, indent=2) + "\n", mode=0o644)
    # A lease is the run's bookkeeping, not the host's configuration: never a change.
    module.exit_json(changed=False, lease=lease, taken_over=other)


if __name__ == "__main__":
    main()
