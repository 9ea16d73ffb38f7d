# Copyright: (c) 2026, pyweb.ha maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The release record of an app host (release.json): written by pyweb.ha.release,
read by it and by pyweb.ha.replica (action info), so the stack role learns the
deployed version in the same round trip as the routes and the containers."""

from __future__ import annotations

import json
import os
from typing import Any

RELEASE_FILE = "release.json"

EMPTY: dict[str, Any] = {
    "version": None,
    "previous": None,
    "history": [],
    "updated": None,
    "rolled_back": False,
}


def read_record(path: str) -> dict[str, Any]:
    """The record at path, or an empty one when there is none."""
    if not os.path.exists(path):
        return dict(EMPTY)
    with open(path, encoding="utf-8") as handle:
        data = json.load(handle)
    if not isinstance(data, dict):
        raise ValueError(f"{path} does not hold a JSON object")
    return {**EMPTY, **data}


def read_checked(path: str) -> dict[str, Any]:
    """read_record; ValueError saying which file and what to do when it is unreadable."""
    try:
        return read_record(path)
    except (OSError, ValueError) as err:
        raise ValueError(f"cannot read the release record {path}: {err}; fix or remove it") from err


def read_release(project_dir: str) -> dict[str, Any]:
    """The record of the project in project_dir (read_checked)."""
    return read_checked(os.path.join(project_dir, RELEASE_FILE))
