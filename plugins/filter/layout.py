"""Address plan of a host's compose project: which replica runs in which slot
at which fixed address of the internal network, and what the host Nginx
upstream lists.

Every replica (app_1 .. app_N) has two slots, a and b, each a compose service
with its own fixed address, and a stable virtual address (VIP) that the host
Nginx upstream names. A DNAT rule in the host Nginx's network namespace sends
new connections to a VIP to the replica's serving slot; a swap starts the
successor in the other slot beside its predecessor, gates it, and moves the
rule: no Nginx reload, so no client connection is ever closed by a swap, and
connections already open finish on the predecessor. Which slot of each
replica serves, and on which version, is the host's routes record
(replicas.json)."""

from __future__ import annotations

import ipaddress
from typing import Any

from ansible_collections.pyweb.ha.plugins.module_utils.netns import routes_json

NGINX_OFFSET = 2
SLOT_OFFSETS = {"a": 10, "b": 90}
VIP_OFFSET = 170
MAX_REPLICAS = 80


def replica_names(count: int) -> list[str]:
    """app_1 .. app_N."""
    if count < 1:
        raise ValueError(f"replicas must be at least 1, got {count}")
    if count > MAX_REPLICAS:
        raise ValueError(
            f"replicas must be at most {MAX_REPLICAS} (two slots and a virtual address each in a /24), "
            f"got {count}"
        )
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


def _index(replica: str) -> int:
    return int(replica.rsplit("_", 1)[1])


def _address(network: ipaddress.IPv4Network, replica: str, slot: str) -> str:
    return str(network.network_address + SLOT_OFFSETS[slot] + _index(replica))


def _vip(network: ipaddress.IPv4Network, replica: str) -> str:
    return str(network.network_address + VIP_OFFSET + _index(replica))


def stack_layout(
    subnet: str,
    routes: dict[str, Any],
    port: int = 8000,
    surge: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Fixed addresses: the host Nginx gets .2, slot a of replica i .(10+i),
    slot b .(90+i), its VIP .(170+i). `services` lists the compose services
    of the serving slots, plus the successor's (surge: {replica, version})
    beside its predecessor; `upstream` lists the VIPs; `dnat` sends each VIP
    to its serving slot.

    Fixed addresses mean a recreated replica comes back where the Nginx
    upstream expects it, so Nginx never holds a stale address."""
    network = ipaddress.ip_network(subnet, strict=True)
    needed = VIP_OFFSET + len(routes) + 1
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
    upstream = [{"address": f"{_vip(network, r)}:{port}", "comment": r} for r in routes]
    dnat = [
        {
            "name": r,
            "vip": _vip(network, r),
            "address": _address(network, r, x["slot"]),
            "port": int(port),
            "service": slot_service(r, x["slot"]),
        }
        for r, x in routes.items()
    ]
    return {
        "nginx": str(network.network_address + NGINX_OFFSET),
        "services": services,
        "upstream": upstream,
        "dnat": dnat,
        "port": int(port),
    }


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


def _host_address(host: Any, variable: str, kind: str, whom: str) -> str:
    """A host's address as `whom` reaches it: the host variable `variable` when
    set, else its default IPv4 address (facts)."""
    name = host.get("inventory_hostname", "?")
    address = host.get(variable) or (host.get("ansible_default_ipv4") or {}).get("address")
    if not address:
        raise ValueError(
            f"{kind} {name}: no address for {whom}; set {variable} for it in the inventory, "
            "or gather its facts (ansible_default_ipv4) in the same run"
        )
    return str(address)


def _backend_address(host: Any) -> str:
    return _host_address(host, "pyweb_backend_address", "app host", "the balancer")


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


VIRTUAL_NETWORK = "198.18.0.0/24"  # RFC 2544 benchmarking range: never a real server's address


def balancer_layout(
    hosts: list[Any], default_port: int = 80, drained: list[str] | None = None
) -> dict[str, Any]:
    """The edge balancer's upstream names one virtual address per app host
    (198.18.0.N, in inventory order); DNAT rules in its network namespace send
    each to the host's Nginx (a drained host's to another host)."""
    backends = balancer_backends(hosts, default_port, drained)
    network = ipaddress.ip_network(VIRTUAL_NETWORK)
    upstream, dnat = [], []
    for index, backend in enumerate(backends, start=1):
        address, port = backend["address"].rsplit(":", 1)
        vip = str(network.network_address + index)
        upstream.append({"address": f"{vip}:{port}", "comment": backend["comment"]})
        target = {"name": backend["comment"], "vip": vip, "address": address, "port": int(port)}
        dnat.append({**target, "drained": True} if backend["down"] else target)
    return {"upstream": upstream, "dnat": dnat}


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


VRRP_TOP_PRIORITY = 250  # the first balancer's, 10 less for each next one (decides the first election only)


def balancer_pair(hosts: list[Any], name: str, priority: Any = "") -> dict[str, Any]:
    """This balancer's side of the VRRP pair: its own address (host variable
    pyweb_vrrp_address, else its default IPv4), its peers' addresses, its
    priority (given, or by its place in the group), its default interface and
    gateway (its uplink check)."""
    names = [str(h.get("inventory_hostname")) for h in hosts]
    if name not in names:
        raise ValueError(f"{name} is not one of the balancers {names}")
    index = names.index(name)
    me = hosts[index]
    addresses = [_host_address(h, "pyweb_vrrp_address", "balancer", "its VRRP peers") for h in hosts]
    own, peers = addresses[index], addresses[:index] + addresses[index + 1 :]
    given = str(priority).strip() if priority is not None else ""
    chosen = int(given) if given else max(1, VRRP_TOP_PRIORITY - 10 * index)
    facts = me.get("ansible_default_ipv4") or {}
    interface, gateway = facts.get("interface") or "", facts.get("gateway") or ""
    return {"address": own, "peers": peers, "priority": chosen, "interface": interface, "gateway": gateway}


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
            "balancer_pair": balancer_pair,
            "stack_layout_error": stack_layout_error,
            "stack_routes": stack_routes,
            "routes_json": routes_json,
            "route_swap": route_swap,
            "slot_service": slot_service,
            "missing_backend_addresses": missing_backend_addresses,
            "replica_names": replica_names,
            "balancer_backends": balancer_backends,
            "balancer_layout": balancer_layout,
            "replicas_pending": replicas_pending,
        }
