"""Filters of the cross-variable and cross-host rules (preflight):
check_report (a list of checks in, one readable message out, naming the host,
each invalid variable, its value, what is allowed and how to fix it; the same
report as pyweb.ha.check_input's) and role_defaults (the defaults a role of
this collection publishes in its argument specification)."""

from __future__ import annotations

from typing import Any

from ansible_collections.pyweb.ha.plugins.plugin_utils.input_check import check_report, role_defaults


class FilterModule:
    """pyweb.ha validation filters."""

    def filters(self) -> dict[str, Any]:
        return {"check_report": check_report, "role_defaults": role_defaults}
