"""Quote values for a Compose env file, so that what the app sees is exactly
the value given: no interpolation of `$`, no line injected."""

from __future__ import annotations

from typing import Any


def env_quote(value: Any) -> str:
    """Single quotes (literal) when the value has none; else double quotes,
    with backslash, double quote and dollar escaped. A newline cannot be
    carried: the input checks refuse it before any change."""
    text = "" if value is None else str(value)
    if "\n" in text or "\r" in text:
        raise ValueError("an env file value cannot hold a newline")
    if "'" not in text:
        return f"'{text}'"
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")
    return f'"{escaped}"'


def env_multiline(values: dict[str, Any]) -> list[str]:
    """Names of the entries whose value holds a newline (for the input checks)."""
    return sorted(name for name, value in (values or {}).items() if "\n" in str(value) or "\r" in str(value))


class FilterModule:
    """pyweb.ha env file filters."""

    def filters(self) -> dict[str, Any]:
        return {"env_quote": env_quote, "env_multiline": env_multiline}
