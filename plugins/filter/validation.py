"""Report of the input checks of the roles (tasks/validate.yml): a list of
checks in, one readable message out, naming the host, each invalid variable,
its value, what is allowed and how to fix it."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

FIELDS = ("var", "value", "ok", "allowed", "fix")


def _passed(ok: Any) -> bool:
    if isinstance(ok, bool):
        return ok
    if isinstance(ok, str):
        return ok.strip().lower() in ("true", "yes", "1")
    raise TypeError(f"a check's 'ok' must be a boolean, got {ok!r}")


def _show(value: Any) -> str:
    try:
        return json.dumps(value, default=str, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)


def check_report(checks: Sequence[Mapping[str, Any]], where: str) -> str:
    """'' when every check passed; otherwise one message with a line per
    failed check: `VAR is VALUE, but it must be ALLOWED. Fix: FIX`.

    A check is a mapping with var, value, ok (a boolean), allowed and fix,
    and optionally `where` (hosts it is about) instead of the given one."""
    failed = []
    for check in checks:
        missing = [f for f in FIELDS if f not in check]
        if missing:
            raise ValueError(f"check {check.get('var', '?')} lacks {', '.join(missing)}")
        if not _passed(check["ok"]):
            failed.append(check)
    if not failed:
        return ""
    lines = [
        f"{check.get('where') or where}: {check['var']} is {_show(check['value'])}, "
        f"but it must be {str(check['allowed']).strip()}. Fix: {str(check['fix']).strip()}"
        for check in failed
    ]
    if len(lines) == 1:
        return lines[0]
    return f"{len(lines)} invalid settings:\n" + "\n".join(f"- {line}" for line in lines)


class FilterModule:
    """pyweb.ha validation filters."""

    def filters(self) -> dict[str, Any]:
        return {"check_report": check_report}
