"""Render the status of a host's replicas for playbooks/status.yml."""

from __future__ import annotations

from typing import Any


def _line(result: dict[str, Any]) -> str:
    name = result.get("item", "?")
    container = result.get("container")
    if not result.get("exists") or not container:
        return f"{name}: missing"
    state = container.get("State", {})
    image = container.get("Config", {}).get("Image", "?")
    health = (state.get("Health") or {}).get("Status", "no health check")
    since = state.get("StartedAt", "?")
    status = state.get("Status", "?")
    return f"{name}: {image}, {status}, {health}, since {since}"


def status_lines(results: list[dict[str, Any]], release: dict[str, Any]) -> list[str]:
    """One line for the release record, then one per container."""
    head = (
        f"release: {release.get('version') or 'none'} "
        f"(previous: {release.get('previous') or 'none'}, recorded {release.get('updated') or 'never'})"
    )
    return [head, *(_line(r) for r in results)]


class FilterModule:
    """pyweb.ha status filters."""

    def filters(self) -> dict[str, Any]:
        return {"status_lines": status_lines}
