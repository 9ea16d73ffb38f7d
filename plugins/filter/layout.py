"""Address plan of a host's compose project: which replica runs in which slot
at which fixed address of the internal network, and what the host Nginx
upstream lists.

Every replica (app_1 .. app_N) has two slots, a and b, each a compose service
with its own fixed address. One slot serves (it is in the Nginx upstream); a
rolling upgrade starts the successor in the other slot beside it, gates it,
switches the upstream to it and only then stops the predecessor, so a host
never serves with fewer than N replicas. Which slot of each replica serves,
and on which version, is the host's routes record (replicas.json)."""

from __future__ import annotations

import ipaddress
from typing import Any

NGINX_OFFSET = 2
SLOT_OFFSETS = {"a": 10, "b": 130}
MAX_REPLICAS = 120


def replica_names(count: int) -> list[str]:
    """app_1 .. app_N."""
    if count < 1:
        raise ValueError(f"replicas must be at least 1, got {count}")
    if count > MAX_REPLICAS:
        raise ValueError(f"replicas must be at most {MAX_REPLICAS} (two slots each in a /24), got {count}")
    return [f"app_{i}" for i in range(1, count + 1)]


def slot_service(replica: str, slot: str) -> str:
    """The compose service of a replica's slot: the one place its name is built."""
    if slot not in SLOT_OFFSETS:
        raise ValueError(f"slot must be one of {sorted(SLOT_OFFSETS)}, got {slot!r}")
    return f"{replica}_{slot}"


def other_slot(slot: str) -> str:
    return "b" if slot == "a" else "a"


def stack_routes(
    current: dict[str, Any] | None, count: int, version: str, keep: bool = True
) -> dict[str, dict[str, str]]:
    """Routes of app_1 .. app_N: the recorded slot and version of each replica
    (the version forced to `version` unless keep), slot a on `version` for a
    replica that has no record yet."""
    current = current or {}
    routes = {}
    for name in replica_names(int(count)):
        entry = current.get(name) or {}
        slot = entry.get("slot") if entry.get("slot") in SLOT_OFFSETS else "a"
        kept = entry.get("version") if keep else None
        routes[name] = {"slot": slot, "version": str(kept or version)}
    return routes


def route_swap(routes: dict[str, Any], replica: str, version: str) -> dict[str, dict[str, str]]:
    """Routes after replica moved to version in its other slot."""
    if replica not in routes:
        raise ValueError(f"{replica} is not among the replicas {sorted(routes)}")
    moved = {"slot": other_slot(routes[replica]["slot"]), "version": str(version)}
    return {**{k: dict(v) for k, v in routes.items()}, replica: moved}


def _address(network: ipaddress.IPv4Network, replica: str, slot: str) -> str:
    index = int(replica.rsplit("_", 1)[1])
    return str(network.network_address + SLOT_OFFSETS[slot] + index)


def stack_layout(
    subnet: str,
    routes: dict[str, Any],
    port: int = 8000,
    surge: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Fixed addresses: Nginx gets host .2, slot a of replica i .(10+i), slot b
    .(130+i). `services` lists the compose services of the serving slots, plus
    the successor's (surge: {replica, version}) beside its predecessor;
    `upstream` lists only the serving slots.

    Fixed addresses mean a recreated replica comes back where the Nginx
    upstream expects it, so Nginx never holds a stale address."""
    network = ipaddress.ip_network(subnet, strict=True)
    needed = SLOT_OFFSETS["b"] + len(routes) + 1
    if network.num_addresses < needed + 1:
        raise ValueError(
            f"subnet {subnet} holds {network.num_addresses} addresses; "
            f"{len(routes)} replicas in two slots need at least {needed + 1} (a /24)"
        )
    services = []
    for replica, route in routes.items():
        services.append(_service(network, replica, route["slot"], route["version"]))
        if surge and surge.get("replica") == replica:
            services.append(_service(network, replica, other_slot(route["slot"]), surge["version"]))
    if surge and surge.get("replica") not in routes:
        raise ValueError(f"surge replica {surge.get('replica')} is not among {sorted(routes)}")
    upstream = [
        {"address": f"{_address(network, r, route['slot'])}:{port}", "comment": r} for r, route in routes.items()
    ]
    return {"nginx": str(network.network_address + NGINX_OFFSET), "services": services, "upstream": upstream}


def _service(network: ipaddress.IPv4Network, replica: str, slot: str, version: str) -> dict[str, str]:
    return {
        "service": slot_service(replica, slot),
        "replica": replica,
        "slot": slot,
        "address": _address(network, replica, slot),
        "version": str(version),
    }


def stack_layout_error(subnet: Any, count: Any) -> str:
    """Why the layout of `count` replicas in subnet would fail, or '' when it
    would not: for the input checks, which want a sentence rather than a trace."""
    try:
        network = ipaddress.ip_network(str(subnet), strict=True)
        if network.version != 4:
            return f"{subnet} is an IPv{network.version} network; the internal network needs IPv4"
        stack_layout(str(subnet), stack_routes({}, int(count), "1"))
    except (TypeError, ValueError) as error:
        return str(error)
    return ""


def _backend_address(host: Any) -> str:
    name = host.get("inventory_hostname", "?")
    address = host.get("pyweb_backend_address") or (host.get("ansible_default_ipv4") or {}).get("address")
    if not address:
        raise ValueError(
            f"app host {name}: no address for the balancer; set pyweb_backend_address for it "
            "in the inventory, or gather its facts (ansible_default_ipv4) in the same run"
        )
    return str(address)


def balancer_backends(
    hosts: list[Any], default_port: int = 80, drained: list[str] | None = None
) -> list[dict[str, Any]]:
    """Upstream servers of the edge balancer: one per app host, its host Nginx."""
    drained_set = set(drained or [])
    backends = []
    for host in hosts:
        name = host.get("inventory_hostname")
        port = host.get("stack_http_port", default_port)
        backends.append(
            {"address": f"{_backend_address(host)}:{port}", "down": name in drained_set, "comment": name}
        )
    known = {b["comment"] for b in backends}
    if drained_set - known:
        raise ValueError(f"drained hosts {sorted(drained_set - known)} are not app hosts {sorted(known)}")
    return backends


def missing_backend_addresses(hosts: list[Any]) -> list[str]:
    """App hosts (of hostvars entries) that balancer_backends would fail on,
    because they have neither pyweb_backend_address nor gathered facts."""
    missing = []
    for host in hosts:
        try:
            _backend_address(host)
        except ValueError:
            missing.append(str(host.get("inventory_hostname", "?")))
    return missing


def replicas_pending(routes: dict[str, Any], containers: list[dict[str, Any]], version: str) -> list[str]:
    """Replicas a rollout to `version` must replace: those routed to another
    version, and those whose serving container is missing, stopped or not
    healthy (checked, not trusted by its tag)."""
    by_service = {c.get("service"): c for c in containers}
    pending = []
    for replica, route in routes.items():
        serving = by_service.get(slot_service(replica, route["slot"])) or {}
        healthy = serving.get("status") == "running" and serving.get("health") in ("healthy", "none")
        if str(route["version"]) != str(version) or not healthy:
            pending.append(replica)
    return pending


class FilterModule:
    """pyweb.ha layout filters."""

    def filters(self) -> dict[str, Any]:
        return {
            "stack_layout": stack_layout,
            "stack_layout_error": stack_layout_error,
            "stack_routes": stack_routes,
            "route_swap": route_swap,
            "slot_service": slot_service,
            "missing_backend_addresses": missing_backend_addresses,
            "replica_names": replica_names,
            "balancer_backends": balancer_backends,
            "replicas_pending": replicas_pending,
        }
