"""Bad-day faults of the lab, under load: a frozen replica, a frozen host, a
host cut off its network (packets dropped, no reset), a killed host. Each is
applied for a while and undone; the result says what clients saw, when the
fault struck and when it was undone (seconds on the load's clock)."""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.lib import lab
from tests.lib.loadgen import Config, LoadRunner, RequestRecord

SLOW_S = 5.0  # no request may wait longer, except a POST sent before the target was taken out
DETECTION_S = 2.0  # the health agents take a failed target out within this bound


@dataclass
class Fault:
    name: str
    apply: Callable[[], None]
    undo: Callable[[], None]
    victim_host: str
    victim_replica: str | None = None


def _inner_replica_id(host: str, replica: str) -> str:
    out = lab.controller_docker(
        "exec", host, "docker", "ps", "--quiet", "--filter", f"label=pyweb.replica={replica}"
    )
    return out.split()[0]


def _pause_inner(host: str, ids: list[str], tries: int = 3) -> None:
    """`docker pause` of the host's own containers. Under load runc now and
    then gives up freezing a busy container ("unable to freeze"): try again."""
    for attempt in range(1, tries + 1):
        try:
            lab.controller_docker("exec", host, "docker", "pause", *ids)
            return
        except lab.DockerError as error:
            if "unable to freeze" not in str(error) or attempt == tries:
                raise
            running = lab.controller_docker(
                "exec", host, "docker", "ps", "--quiet", "--filter", "status=running"
            )
            ids = [i for i in ids if i[:12] in running]


def freeze_replica(host: str, replica: str = "app_1") -> Fault:
    ids: list[str] = []

    def apply() -> None:
        ids.append(_inner_replica_id(host, replica))
        _pause_inner(host, ids[:1])

    def undo() -> None:
        # The health agent may have restarted it already (unpaused): that is fine.
        subprocess_quiet("exec", host, "docker", "unpause", ids[0])

    return Fault(f"freeze replica {replica} of {host}", apply, undo, host, replica)


def freeze_host(host: str) -> Fault:
    """Every process of the host stopped, its kernel still accepting TCP. The
    host's own containers are in cgroups of their own (its Docker runs them
    beside, not inside, the host container's cgroup), so `docker pause` of the
    host alone would leave its Nginx and replicas running until their log
    pipes to the frozen dockerd fill: they are paused first, then the host."""
    inner: list[str] = []

    def apply() -> None:
        inner[:] = lab.controller_docker("exec", host, "docker", "ps", "--quiet").split()
        if inner:
            _pause_inner(host, inner)
        lab.controller_docker("pause", host)

    def undo() -> None:
        lab.controller_docker("unpause", host)
        if inner:
            # The health agent may have restarted some already (unpaused): that is fine.
            subprocess_quiet("exec", host, "docker", "unpause", *inner)

    return Fault(f"freeze host {host}", apply, undo, host)


def cut_host(host: str, network: str, address: str) -> Fault:
    return Fault(
        f"cut {host} off the network",
        lambda: lab.controller_docker("network", "disconnect", network, host),
        lambda: lab.controller_docker("network", "connect", "--ip", address, network, host),
        host,
    )


ISOLATE_RULES = (
    ("INPUT", "-i"),
    ("FORWARD", "-i"),
    ("FORWARD", "-o"),
    ("OUTPUT", "-o"),
)


def firewall_fault(name: str, host: str, rules: list[tuple[str, str]]) -> Fault:
    """A fault made of rules in the host's own firewall, each (chain, rule):
    inserted first in their chains, then deleted. One exec for every rule, so
    the fault takes effect at once, not over several `docker exec` round trips
    (a busy machine takes ~0.3 s each)."""

    def run(action: str) -> None:
        where = " 1" if action == "-I" else ""
        script = " && ".join(f"iptables -w {action} {chain}{where} {rule}" for chain, rule in rules)
        lab.controller_docker("exec", host, "sh", "-c", script)

    return Fault(name, lambda: run("-I"), lambda: run("-D"), host)


def isolate_host(host: str, interface: str = "eth0") -> Fault:
    """The host cut off its network with its interface left in place: every
    packet in or out of it dropped in its own firewall, no reset sent (`docker
    network disconnect` gives the interface back under another name, eth1,
    which no real network does to a server)."""
    rules = [(chain, f"{direction} {interface} -j DROP") for chain, direction in ISOLATE_RULES]
    return firewall_fault(f"cut {host} off the network", host, rules)


def refuse_forwarding(host: str, addresses: list[str]) -> Fault:
    """What the host's own containers send to `addresses` refused in the
    host's firewall (ICMP port unreachable: a connect fails at once), while
    the host stays on its network and answers its own clients: a balancer
    that lost its way to the app hosts."""
    refuse = "-j REJECT --reject-with icmp-port-unreachable"
    rules = [("FORWARD", f"-d {address} {refuse}") for address in addresses]
    return firewall_fault(f"{host} refused its way to {', '.join(addresses)}", host, rules)


def kill_host(host: str) -> Fault:
    return Fault(
        f"kill host {host}",
        lambda: lab.controller_docker("kill", host),
        lambda: lab.controller_docker("start", host),
        host,
    )


def subprocess_quiet(*args: str) -> None:
    with contextlib.suppress(subprocess.CalledProcessError):
        lab.controller_docker(*args)


@dataclass
class FaultRun:
    fault: str
    summary: dict[str, Any]
    records: list[RequestRecord]
    struck: float  # when the fault command was issued
    applied: float  # when it returned: the fault took effect in between
    undone: float
    back_after: float | None  # seconds from undo to the victim's first answer again
    struck_epoch: float = 0.0  # `struck` on the wall clock (to match journal lines)

    def in_flight_at_fault(self, record: RequestRecord) -> bool:
        """Started before the fault command returned, ended after it was issued."""
        return record.start <= self.applied + 0.05 and record.end >= self.struck

    def sent_before_detection(self, record: RequestRecord) -> bool:
        """Sent while the failed target could still be chosen: a POST is never
        retried, so one that reached a frozen target waits until it thaws."""
        return record.start <= self.applied + DETECTION_S and record.end >= self.struck

    def report(self) -> str:
        methods = self.summary["by_method"]
        slow_posts = [r for r in self.records if r.method == "POST" and r.latency > SLOW_S]
        return (
            f"{self.fault}: {self.summary['total']} requests, GET {methods['GET']}, POST {methods['POST']}, "
            f"longest GET {self.longest('GET'):.2f} s, POSTs over {SLOW_S:g} s: {len(slow_posts)} "
            f"(in flight at the fault: {sum(self.in_flight_at_fault(r) for r in slow_posts)}, "
            f"sent within {DETECTION_S:g} s of it: {sum(map(self.sent_before_detection, slow_posts))}), "
            f"longest time without an answer {self.summary['max_gap_s']} s, "
            f"victim back {self.back_text()} after undo"
        )

    def back_text(self) -> str:
        return "never" if self.back_after is None else f"{self.back_after:.1f} s"

    def longest(self, method: str) -> float:
        return max((r.latency for r in self.records if r.method == method), default=0.0)


def run_fault(url: str, fault: Fault, hold: float = 20.0, after: float = 15.0, clients: int = 8) -> FaultRun:
    """Load at full speed (half keep-alive, a quarter POSTs) through url;
    strike after 5 s, undo after `hold`, watch `after` more seconds (longer
    while the victim is not back, up to 90 s)."""
    config = Config(
        url=url, clients=clients, duration=300.0, post_ratio=0.25, timeout=60.0, keepalive_ratio=0.5
    )
    with LoadRunner(config) as runner:
        time.sleep(5)
        struck, struck_epoch = runner.elapsed(), time.time()
        fault.apply()
        applied = runner.elapsed()
        time.sleep(hold)
        undone = runner.elapsed()
        fault.undo()
        deadline = time.monotonic() + 90
        time.sleep(after)
        while _back_after(runner.records(), fault, undone) is None and time.monotonic() < deadline:
            time.sleep(1)
        summary = runner.stop().to_dict()
        records = runner.records()
    return FaultRun(
        fault.name,
        summary,
        records,
        struck,
        applied,
        undone,
        _back_after(records, fault, undone),
        struck_epoch,
    )


def _back_after(records: list[RequestRecord], fault: Fault, undone: float) -> float | None:
    for record in sorted(records, key=lambda r: r.end):
        victim = record.host == fault.victim_host and fault.victim_replica in (None, record.replica)
        if record.ok and record.start >= undone and victim:
            return record.end - undone
    return None


def assert_survived(run: FaultRun, back_within: float = 10.0) -> None:
    """0 failed GETs; a failed POST only if in flight at the fault; no GET
    over 5 s; a POST over 5 s only if sent before the agents could take the
    target out (<= 2 s after the fault: a POST is never sent twice, so it
    waits for the frozen target); never more than 3 s without an answer; the
    victim serves again within back_within s."""
    methods = run.summary["by_method"]
    assert methods["GET"]["failed"] == 0, run.summary["first_failures"]
    failed_posts = [r for r in run.records if r.method == "POST" and not r.ok]
    assert all(run.in_flight_at_fault(r) for r in failed_posts), [r.to_dict() for r in failed_posts]
    assert run.longest("GET") <= SLOW_S, run.longest("GET")
    slow_posts = [r for r in run.records if r.method == "POST" and r.latency > SLOW_S]
    assert all(run.sent_before_detection(r) for r in slow_posts), [r.to_dict() for r in slow_posts]
    assert run.summary["max_gap_s"] <= 3.0, run.summary["max_gap_s"]
    assert run.back_after is not None and run.back_after <= back_within, run.back_after
