#!/usr/bin/python
# Copyright: (c) 2026, pyweb.ha maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Bring a set of files and directories of one host to their desired content,
mode and owner in one round trip (the action plugin of the same name renders
templates and reads sources on the controller)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: files
short_description: Write the files of a role in one round trip, each only when it differs
description:
  - Compares every given file with the host's copy (content, mode, owner, group) and writes only
    those that differ, each atomically (a temporary file beside it, validated first when asked,
    then renamed over it). Missing directories are made. In check mode nothing is written and
    the files that would change are reported.
  - Its action plugin (same name) renders C(template) entries with the task's variables and reads
    C(src) entries (a directory stands for every file under it) on the controller, so one task
    replaces a role's C(file), C(template) and C(copy) tasks; a no-op run costs one round trip.
  - Contents travel base64-encoded in an option marked C(no_log), so no verbosity prints them;
    a C(secret) file never shows a diff either.
  - The report options (O(packages), O(units), O(users), O(docker_info)) are read after the files are
    written and returned as M(pyweb.ha.host_state) returns them, so a role that writes files and keeps
    packages and services learns in the same round trip whether to install, start or enable them.
version_added: 0.2.0
author: pyweb.ha maintainers (@pyweb-ha)
extends_documentation_fragment:
  - pyweb.ha.host_report
options:
  files:
    description:
      - The files; given to the action as C(template), C(src) or C(content), to the module as C(content).
    type: list
    elements: dict
    default: []
    suboptions:
      dest:
        description: Absolute path of the file on the host.
        type: path
        required: true
      content:
        description: The wanted content, base64-encoded (the action plugin encodes it).
        type: str
      state:
        description: C(absent) removes the file.
        type: str
        choices: [present, absent]
        default: present
      mode:
        description: Octal mode, e.g. C("0644").
        type: str
        default: "0644"
      owner:
        description: Owner name or number.
        type: str
        default: root
      group:
        description: Group name or number.
        type: str
        default: root
      validate:
        description: Command run on the new content before it replaces the file; C(%s) is its path.
        type: str
      secret:
        description: Never show a diff of this file.
        type: bool
        default: false
      defer:
        description:
          - When the program of O(files[].validate) is not installed yet (a package the same call reports
            missing), leave this file as it is and list it in RV(deferred_files), for a call after the
            installation; without it, such a file fails its check.
        type: bool
        default: false
  directories:
    description: Directories to make (with their parents) and keep at the given mode and owner.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Absolute path.
        type: path
        required: true
      mode:
        description: Octal mode.
        type: str
        default: "0755"
      owner:
        description: Owner name or number.
        type: str
        default: root
      group:
        description: Group name or number.
        type: str
        default: root
"""

EXAMPLES = r"""
- name: Write the project files
  pyweb.ha.files:
    directories:
      - path: /opt/pyweb/nginx
    files:
      - dest: /opt/pyweb/nginx/nginx.conf
        template: nginx.conf.j2
        validate: nginx -t -c %s
      - dest: /opt/pyweb/app.env
        template: app.env.j2
        mode: "0600"
        secret: true
  register: written
  notify: Reload nginx
"""

RETURN = r"""
changed_files:
  description: The files written or removed (would be, in check mode).
  returned: always
  type: list
  elements: str
  sample: [/opt/pyweb/nginx/nginx.conf]
deferred_files:
  description: The files left for a later call, their O(files[].defer) check program not being installed.
  returned: always
  type: list
  elements: str
changed_directories:
  description: The directories made or changed.
  returned: always
  type: list
  elements: str
packages_missing:
  description: The packages of O(packages) that are not installed.
  returned: always
  type: list
  elements: str
units_down:
  description: The units of O(units) that are not both enabled and active (or do not exist).
  returned: always
  type: list
  elements: str
  sample: [pyweb-agent@pyweb]
units:
  description: C(UnitFileState) and C(ActiveState) of each unit of O(units).
  returned: always
  type: dict
  sample: {"pyweb-agent@pyweb": {"UnitFileState": "enabled", "ActiveState": "active"}}
users_unknown:
  description: The users of O(users) that do not exist.
  returned: always
  type: list
  elements: str
users_outside_group:
  description: The users of O(users) that exist and are not members of O(group).
  returned: always
  type: list
  elements: str
docker_info:
  description: As M(pyweb.ha.host_state) returns it.
  returned: when O(docker_info=true)
  type: dict
"""

import base64
import grp
import os
import pwd
import shlex
import shutil
import tempfile
from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.pyweb.ha.plugins.module_utils.host_report import REPORT_OPTIONS, read_report

DIFF_LIMIT = 65536


def _ids(owner: str, group: str) -> tuple[int, int]:
    """Numeric IDs of an owner and a group given by name or number."""
    uid = int(owner) if owner.isdigit() else pwd.getpwnam(owner).pw_uid
    gid = int(group) if group.isdigit() else grp.getgrnam(group).gr_gid
    return uid, gid


def _meta_differs(path: str, mode: int, uid: int, gid: int) -> bool:
    info = os.lstat(path)
    return (info.st_mode & 0o7777) != mode or info.st_uid != uid or info.st_gid != gid


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def ensure_directory(spec: dict[str, Any], check: bool) -> bool:
    """Make the directory (and parents) and set its mode and owner; True when changed."""
    path, mode = spec["path"], int(spec["mode"], 8)
    uid, gid = _ids(spec["owner"], spec["group"])
    if not os.path.isdir(path):
        if not check:
            os.makedirs(path, mode=0o755, exist_ok=True)
            os.chmod(path, mode)
            os.chown(path, uid, gid)
        return True
    if not _meta_differs(path, mode, uid, gid):
        return False
    if not check:
        os.chmod(path, mode)
        os.chown(path, uid, gid)
    return True


def _text(data: bytes | None) -> str | None:
    if data is None:
        return ""
    if len(data) > DIFF_LIMIT:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def file_diff(spec: dict[str, Any], before: bytes | None, after: bytes | None) -> dict[str, str] | None:
    """A diff entry for Ansible's --diff, or None for a secret or binary file."""
    if spec["secret"]:
        return None
    old, new = _text(before), _text(after)
    if old is None or new is None:
        return None
    return {"before_header": spec["dest"], "after_header": spec["dest"], "before": old, "after": new}


def _write(module: AnsibleModule, spec: dict[str, Any], data: bytes) -> None:
    dest = spec["dest"]
    directory = os.path.dirname(dest)
    os.makedirs(directory, mode=0o755, exist_ok=True)
    uid, gid = _ids(spec["owner"], spec["group"])
    handle, temp = tempfile.mkstemp(prefix=f".{os.path.basename(dest)}.", dir=directory)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.chmod(temp, int(spec["mode"], 8))
        os.chown(temp, uid, gid)
        if spec.get("validate"):
            command = spec["validate"].replace("%s", shlex.quote(temp))
            rc, out_text, err_text = module.run_command(command, use_unsafe_shell=False)
            if rc != 0:
                module.fail_json(
                    msg=f"{dest}: the new content failed its check (rc={rc}), the file was left as it was: "
                    f"{(err_text or out_text).strip()}",
                    failed_file=dest,
                )
        os.replace(temp, dest)
    finally:
        if os.path.exists(temp):
            os.unlink(temp)


def ensure_file(
    module: AnsibleModule, spec: dict[str, Any], check: bool
) -> tuple[bool, dict[str, str] | None]:
    """Bring one file to its desired state; (changed, diff entry)."""
    dest = spec["dest"]
    before = _read(dest)
    if spec["state"] == "absent":
        if before is None and not os.path.lexists(dest):
            return False, None
        if not check:
            os.unlink(dest)
        return True, file_diff(spec, before, b"")
    if spec.get("content") is None:
        module.fail_json(msg=f"{dest}: no content was given (template, src or content)")
    data = base64.b64decode(spec["content"])
    mode = int(spec["mode"], 8)
    uid, gid = _ids(spec["owner"], spec["group"])
    if before == data and not _meta_differs(dest, mode, uid, gid):
        return False, None
    if not check:
        if before == data:
            os.chmod(dest, mode)
            os.chown(dest, uid, gid)
        else:
            _write(module, spec, data)
    return True, file_diff(spec, before, data) if before != data else None


def deferred(spec: dict[str, Any]) -> bool:
    """A file to defer: its check's program (the first word of validate) is not installed."""
    if not spec.get("defer") or not spec.get("validate") or spec["state"] == "absent":
        return False
    words = shlex.split(spec["validate"])
    return not words or shutil.which(words[0]) is None


def _options(mode: str, **own: dict[str, Any]) -> dict[str, Any]:
    """Suboptions of a file or a directory: its own, then mode (default given), owner and group."""
    return {
        **own,
        "mode": {"type": "str", "default": mode},
        "owner": {"type": "str", "default": "root"},
        "group": {"type": "str", "default": "root"},
    }


def main() -> None:
    file_options = _options(
        "0644",
        dest={"type": "path", "required": True},
        content={"type": "str", "no_log": True},
        state={"type": "str", "choices": ["present", "absent"], "default": "present"},
        validate={"type": "str"},
        secret={"type": "bool", "default": False},
        defer={"type": "bool", "default": False},
    )
    directory_options = _options("0755", path={"type": "path", "required": True})
    module = AnsibleModule(
        argument_spec={
            "files": {"type": "list", "elements": "dict", "default": [], "options": file_options},
            "directories": {"type": "list", "elements": "dict", "default": [], "options": directory_options},
            **REPORT_OPTIONS,
        },
        supports_check_mode=True,
    )
    check = module.check_mode
    changed_directories = [d["path"] for d in module.params["directories"] if ensure_directory(d, check)]
    changed_files: list[str] = []
    deferred_files: list[str] = []
    diffs: list[dict[str, str]] = []
    for spec in module.params["files"]:
        if deferred(spec):
            deferred_files.append(spec["dest"])
            continue
        changed, diff = ensure_file(module, spec, check)
        if changed:
            changed_files.append(spec["dest"])
        if diff is not None:
            diffs.append(diff)
    result: dict[str, Any] = {
        "changed": bool(changed_files or changed_directories or deferred_files),
        "changed_files": changed_files,
        "deferred_files": deferred_files,
        "changed_directories": changed_directories,
        **read_report(module, module.params),
    }
    if module._diff and diffs:
        result["diff"] = diffs
    module.exit_json(**result)


if __name__ == "__main__":
    main()
