#!/usr/bin/python
# Copyright: (c) 2026, pyweb.ha maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Read or record the release (deployed and previous version) of an app host."""

from __future__ import annotations

DOCUMENTATION = r"""
module: release
short_description: Read or record the deployed release of a pyweb.ha app host
description:
  - Keeps a small JSON record on the host with the deployed version, the one
    before it and a short history. C(upgrade.yml) and C(rollback.yml) write it;
    every other play reads it, so a later C(site.yml) neither undoes nor
    repeats an upgrade.
options:
  path:
    description: Path of the JSON record.
    type: path
    required: true
  version:
    description: Version to record as deployed. Omit to only read.
    type: str
  history_size:
    description: How many past versions to keep.
    type: int
    default: 10
  rollback:
    description:
      - The version is recorded by a rollback - it is marked C(rolled_back), so a second rollback
        stays where it is instead of undoing the first, and the history is left as it was.
    type: bool
    default: false
version_added: 0.1.0
author: pyweb.ha maintainers (@pyweb-ha)
"""

EXAMPLES = r"""
- name: Read the release record
  pyweb.ha.release:
    path: /opt/pyweb/release.json
  register: release

- name: Record 2.0.0 as deployed
  pyweb.ha.release:
    path: /opt/pyweb/release.json
    version: 2.0.0
"""

RETURN = r"""
release:
  description: The record; C(version) is null when nothing was deployed yet.
  returned: always
  type: dict
  sample:
    version: 2.0.0
    previous: 1.0.0
    history: [1.0.0, 2.0.0]
    updated: "2026-11-29T03:00:00Z"
"""

import json
import os
import tempfile
from datetime import UTC, datetime
from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.pyweb.ha.plugins.module_utils.release import read_checked


def next_record(
    current: dict[str, Any], version: str, history_size: int, now: str, rollback: bool = False
) -> dict[str, Any]:
    """The record after deploying version (by an upgrade, or by a rollback);
    unchanged when it is deployed already the same way."""
    if current.get("version") == version and (not rollback or current.get("rolled_back")):
        return current  # site.yml re-recording the running version keeps a rollback's mark
    history = list(current.get("history", []))
    if not rollback and current.get("version") != version:
        history = [*history, version][-history_size:]
    previous = current.get("version") if current.get("version") != version else current.get("previous")
    return {
        "version": version,
        "previous": previous,
        "history": history,
        "updated": now,
        "rolled_back": rollback,
    }


def write_record(path: str, record: dict[str, Any]) -> None:
    """Write atomically (temp file and rename), mode 0644."""
    directory = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".release.")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(record, handle, indent=2, sort_keys=True)
        handle.write("\n")
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "version": {"type": "str"},
            "history_size": {"type": "int", "default": 10},
            "rollback": {"type": "bool", "default": False},
        },
        supports_check_mode=True,
    )
    path = module.params["path"]
    try:
        current = read_checked(path)
    except ValueError as err:
        module.fail_json(msg=str(err))
    version = module.params["version"]
    if not version:
        module.exit_json(changed=False, release=current)
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    record = next_record(current, version, module.params["history_size"], now, module.params["rollback"])
    changed = record is not current
    if changed and not module.check_mode:
        write_record(path, record)
    module.exit_json(changed=changed, release=record)


if __name__ == "__main__":
    main()
