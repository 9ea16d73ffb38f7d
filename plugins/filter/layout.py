"""Address plan of a host's compose project: which replica gets which fixed
address in the internal network, and what the host Nginx upstream lists."""

from __future__ import annotations

import ipaddress
from typing import Any

NGINX_OFFSET = 2
REPLICA_OFFSET = 10


def replica_names(count: int) -> list[str]:
    """app_1 .. app_N."""
    if count < 1:
        raise ValueError(f"replicas must be at least 1, got {count}")
    return [f"app_{i}" for i in range(1, count + 1)]


def stack_layout(
    subnet: str, count: int, drained: list[str] | None = None, port: int = 8000
) -> dict[str, Any]:
    """Fixed addresses: Nginx gets host .2, replica i gets .(10+i).

    Fixed addresses mean a recreated replica comes back where the Nginx
    upstream expects it, so Nginx never holds a stale address."""
    network = ipaddress.ip_network(subnet, strict=True)
    names = replica_names(count)
    needed = REPLICA_OFFSET + count + 1
    if network.num_addresses < needed + 1:
        raise ValueError(
            f"subnet {subnet} holds {network.num_addresses} addresses; "
            f"{count} replicas need at least {needed + 1} (a /24 fits 240)"
        )
    drained_set = set(drained or [])
    unknown = drained_set - set(names)
    if unknown:
        raise ValueError(f"drained replicas {sorted(unknown)} are not among {names}")
    replicas = [
        {
            "name": name,
            "address": str(network.network_address + REPLICA_OFFSET + i),
            "upstream": f"{network.network_address + REPLICA_OFFSET + i}:{port}",
            "down": name in drained_set,
        }
        for i, name in enumerate(names, start=1)
    ]
    return {
        "nginx": str(network.network_address + NGINX_OFFSET),
        "replicas": replicas,
        "upstream": [{"address": r["upstream"], "down": r["down"], "comment": r["name"]} for r in replicas],
    }


def stack_layout_error(subnet: Any, count: Any, drained: list[str] | None = None) -> str:
    """Why stack_layout(subnet, count, drained) would fail, or '' when it would
    not: for the input checks, which want a sentence rather than a trace."""
    try:
        network = ipaddress.ip_network(str(subnet), strict=True)
        if network.version != 4:
            return f"{subnet} is an IPv{network.version} network; the internal network needs IPv4"
        stack_layout(str(subnet), int(count), drained)
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


def image_tag(container: dict[str, Any] | None) -> str:
    """Tag of the image a container runs ('' when there is no container)."""
    if not container:
        return ""
    image = str((container.get("Config") or {}).get("Image", ""))
    name, _, tag = image.rpartition(":")
    return tag if name and "/" not in tag else ""


class FilterModule:
    """pyweb.ha layout filters."""

    def filters(self) -> dict[str, Any]:
        return {
            "stack_layout": stack_layout,
            "stack_layout_error": stack_layout_error,
            "missing_backend_addresses": missing_backend_addresses,
            "replica_names": replica_names,
            "balancer_backends": balancer_backends,
            "image_tag": image_tag,
        }
