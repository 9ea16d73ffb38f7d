"""Render what status.yml shows of a host, and the deploy summary that
upgrade.yml and rollback.yml print at the end."""

from __future__ import annotations

import time
from typing import Any


def _container_line(container: dict[str, Any], serving: bool) -> str:
    role = "serving" if serving else "not routed"
    return (
        f"{container.get('replica') or container.get('service')} ({container.get('service')}, {role}): "
        f"{container.get('image')}, {container.get('status')}, {container.get('health')}, "
        f"since {container.get('started')}"
    )


def status_lines(state: dict[str, Any], release: dict[str, Any]) -> list[str]:
    """One line for the release record, then one per container of the project
    (from the pyweb.ha.replica module's info: no environment, no secret)."""
    routes = state.get("routes") or {}
    serving = {f"{r}_{route.get('slot')}" for r, route in routes.items()}
    head = (
        f"release: {release.get('version') or 'none'} "
        f"(previous: {release.get('previous') or 'none'}, recorded {release.get('updated') or 'never'})"
    )
    lines = [head]
    for container in state.get("containers") or []:
        service = str(container.get("service", ""))
        if service.startswith("app_"):
            lines.append(_container_line(container, service in serving))
        else:
            health = f"{container.get('status')}, {container.get('health')}"
            lines.append(f"{service}: {container.get('image')}, {health}")
    missing = sorted(
        f"{r}_{route.get('slot')}"
        for r, route in routes.items()
        if f"{r}_{route.get('slot')}" not in {c.get("service") for c in state.get("containers") or []}
    )
    lines += [f"{name}: missing (routed, no container)" for name in missing]
    return lines


def fleet_status(hosts: list[dict[str, Any]]) -> list[str]:
    """The fleet's release (the one most app hosts record), its history, and
    every host or serving replica that differs from it. `hosts` are hostvars
    entries holding __stack_release and __stack_replicas (stack entry point state)."""
    records = {
        h.get("inventory_hostname", "?"): (h.get("__stack_release") or {}).get("release") or {} for h in hosts
    }
    versions = [r.get("version") for r in records.values() if r.get("version")]
    if not versions:
        return ["fleet release: none recorded"]
    fleet = max(sorted(set(versions)), key=versions.count)
    history = next((r.get("history") for r in records.values() if r.get("version") == fleet), [])
    lines = [f"fleet release: {fleet} (history: {', '.join(history or [])})"]
    for host in hosts:
        name = host.get("inventory_hostname", "?")
        if records[name].get("version") != fleet:
            lines.append(f"differs: {name} records {records[name].get('version') or 'nothing'}")
        routes = (host.get("__stack_replicas") or {}).get("routes") or {}
        lines += [
            f"differs: {name} {replica} serves {route.get('version')}"
            for replica, route in sorted(routes.items())
            if route.get("version") != fleet
        ]
    return lines if len(lines) > 1 else [*lines, "every host and replica runs it"]


def _swap_text(swap: dict[str, Any]) -> str:
    return f"{swap.get('replica')} {swap.get('from')}->{swap.get('to')} {float(swap.get('total', 0)):.1f}s"


def rollout_summary(hosts: list[dict[str, Any]], started: Any = None, now: float | None = None) -> list[str]:
    """Per host: versions before and after, replicas swapped with seconds per
    swap (and which failed); then the totals. `hosts` are hostvars entries."""
    lines = []
    all_swaps: list[float] = []
    for host in hosts:
        report = host.get("__rollout_report")
        name = host.get("inventory_hostname", "?")
        if not report:
            lines.append(f"{name}: not rolled (not reached, or stopped before it)")
            continue
        swaps = report.get("swaps") or []
        all_swaps += [float(s.get("total", 0)) for s in swaps]
        outcome = f"FAILED at {report['failed']}, undone" if report.get("failed") else "ok"
        lines.append(
            f"{name}: {report.get('from')} -> {report.get('to')}, {outcome}, {len(swaps)} swap(s) in "
            f"{report.get('seconds')} s: " + (", ".join(_swap_text(s) for s in swaps) or "none needed")
        )
    if all_swaps:
        ordered = sorted(all_swaps)
        lines.append(
            f"swaps: {len(ordered)}, median {ordered[len(ordered) // 2]:.1f} s, max {ordered[-1]:.1f} s"
        )
    if started not in (None, ""):
        lines.append(f"total: {(now or time.time()) - float(started):.1f} s")
    return lines


class FilterModule:
    """pyweb.ha status filters."""

    def filters(self) -> dict[str, Any]:
        return {
            "status_lines": status_lines,
            "rollout_summary": rollout_summary,
            "fleet_status": fleet_status,
        }
