"""A balancer pair under faults, as its clients see it: which balancer holds
the floating address, and one fault on the holder under load - the address
must move to the other balancer, and stay there when the old holder returns.
Used by the cluster scenario and by scripts/bench_failover.py."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tests.lib import lab
from tests.lib.faults import Fault
from tests.lib.loadgen import Config, LoadRunner, RequestRecord

POLL_S = 0.05


def clients(url: str, retry: bool = True, count: int = 8) -> Config:
    """`count` clients at full speed, half kept-alive, a quarter POSTs. With
    `retry`, the retry policy of an HTTP client or proxy in front of the
    service: a GET refused, reset or without an answer within 0.5 s is sent
    again on a new connection for up to 4.4 s; a POST never is, and gives up
    after 4.5 s (no request waits more than 5 s). Without: each request is
    sent once and waits up to 60 s."""
    policy = {"timeout": 4.5, "get_retry_for": 4.4, "get_try_timeout": 0.5} if retry else {"timeout": 60.0}
    return Config(url=url, clients=count, duration=600.0, post_ratio=0.25, keepalive_ratio=0.5, **policy)


def holds(balancer: str, vip: str) -> bool | None:
    """Whether the balancer holds the address; None when it cannot be asked
    (frozen, killed, booting)."""
    try:
        out = lab.controller_docker("exec", balancer, "ip", "-o", "-4", "addr", "show", "to", f"{vip}/32")
    except lab.DockerError:
        return None
    return bool(out.strip())


def holders(balancers: Sequence[str], vip: str) -> list[str]:
    return [b for b in balancers if holds(b, vip)]


def mac(balancer: str) -> str:
    out = lab.controller_docker(
        "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.MacAddress}} {{end}}", balancer
    )
    return out.split()[0].lower()


def neighbor_mac(address: str) -> str | None:
    """The link-layer address this machine sends `address`'s packets to now
    (its neighbour table), None when it has no entry."""
    out = subprocess.run(
        ["ip", "-o", "neigh", "show", "to", address], capture_output=True, text=True, check=False
    ).stdout
    fields = out.split()
    return fields[fields.index("lladdr") + 1].lower() if "lladdr" in fields else None


def moved_to(balancers: Sequence[str], vip: str, macs: dict[str, str]) -> str | None:
    """The balancer of `balancers` that holds the address, once this machine
    (the clients' side) sends the address's packets to it: the gratuitous ARP
    of the new holder arrived. This machine's neighbour table is read first
    (a local call, so the move is seen within POLL_S); the balancer it points
    to is then asked whether it holds the address. Without an entry (none
    resolved yet), whichever balancer holds it."""
    seen = neighbor_mac(vip)
    if seen is None:
        return next(iter(holders(balancers, vip)), None)
    taker = next((b for b in balancers if macs[b] == seen), None)
    return taker if taker is not None and holds(taker, vip) else None


def serves(balancer: str, address: str) -> bool:
    """The balancer's Nginx answers on its own address and its keepalived runs."""
    try:
        if lab.http(f"http://{address}/nginx-health", timeout=1.0).status != 200:
            return False
        lab.controller_docker("exec", balancer, "systemctl", "is-active", "--quiet", "keepalived")
    except (OSError, lab.DockerError):
        return False
    return True


@dataclass
class PairRun:
    """One fault on the holder, on the load's clock (seconds since it started)."""

    fault: str
    holder: str
    taker: str | None
    summary: dict[str, Any]  # the clients that ran through the fault
    records: list[RequestRecord]
    fresh: dict[str, Any] | None  # clients that started once the address had moved (new users)
    struck: float  # the fault command was issued
    applied: float  # it returned
    moved: float | None  # another balancer held the address
    undone: float
    returned: float | None  # the old holder served again (its own address) with keepalived running
    holders_after: list[str] = field(default_factory=list)  # after it returned and `after` more seconds

    @property
    def moved_after(self) -> float | None:
        return None if self.moved is None else round(self.moved - self.struck, 2)

    def went_to_old_holder(self, record: RequestRecord) -> bool:
        """Sent to the balancer that failed: before the address moved, or over
        a kept-alive connection opened to it before the move (that connection
        dies with it, whenever its next request is sent), and not answered
        before the fault."""
        moved = self.moved if self.moved is not None else self.undone
        opened = record.connection_opened if record.connection_opened is not None else record.start
        return min(record.start, opened) <= moved and record.end >= self.struck

    def longest(self, method: str) -> float:
        return max((r.latency for r in self.records if r.method == method), default=0.0)

    def report(self) -> str:
        methods = self.summary["by_method"]
        fresh = self.fresh or {"total": 0, "by_method": {}, "max_gap_s": None, "latency_ms": {}}
        return (
            f"{self.fault}: address moved {self.holder} -> {self.taker} after {self.moved_after} s; "
            f"clients through the fault: {self.summary['total']} requests, GET {methods['GET']}, "
            f"POST {methods['POST']}, retried {self.summary.get('retried', {})}, "
            f"longest time without an answer {self.summary['max_gap_s']} s, "
            f"longest GET {self.longest('GET'):.2f} s, longest POST {self.longest('POST'):.2f} s; "
            f"clients started after the move: {fresh['total']} requests, {fresh['by_method']}, "
            f"retried {fresh.get('retried', {})}, "
            f"longest time without an answer {fresh['max_gap_s']} s, "
            f"max latency {fresh['latency_ms'].get('max')} ms; "
            f"holders after the old one returned: {self.holders_after}"
        )


def run_pair_fault(
    balancers: dict[str, str],
    vip: str,
    make: Callable[[str], Fault],
    config: Config,
    hold: float = 20.0,
    after: float = 10.0,
) -> PairRun:
    """Load the floating address with `config`'s clients; strike the holder
    after 5 s, undo after `hold`, wait until it serves again (up to 120 s),
    watch `after` more seconds. A second set of `config`'s clients starts
    once the address has moved (new users)."""
    now = holders(list(balancers), vip)
    if len(now) != 1:
        raise AssertionError(f"expected one holder of {vip} before the fault, found {now}")
    holder, others = now[0], [b for b in balancers if b != now[0]]
    macs = {b: mac(b) for b in balancers}
    fault = make(holder)
    fresh_runner = LoadRunner(config)
    with LoadRunner(config) as runner:
        time.sleep(5)
        struck = runner.elapsed()
        fault.apply()
        applied = runner.elapsed()
        moved = _first(lambda: moved_to(others, vip, macs) is not None, runner, hold)
        if moved is not None:
            fresh_runner.start()  # new users, who only ever reach the new holder
        time.sleep(max(0.0, hold - (runner.elapsed() - struck)))
        undone = runner.elapsed()
        fault.undo()
        returned = _first(lambda: serves(holder, balancers[holder]), runner, 120.0)
        time.sleep(after)
        summary = runner.stop().to_dict()
        records = runner.records()
        fresh = fresh_runner.stop().to_dict() if moved is not None else None
    taker = next(iter(holders(others, vip)), None)
    return PairRun(
        fault.name, holder, taker, summary, records, fresh, struck, applied, moved, undone, returned,
        holders(list(balancers), vip),
    )  # fmt: skip


def _first(predicate: Callable[[], bool], runner: LoadRunner, within: float) -> float | None:
    """The load's clock when the poll that first found predicate() true began
    (its first step, the local neighbour table, is what clients see; asking
    a container afterwards to confirm can take a second on a loaded machine,
    which is not part of the move); None after `within` s."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        began = runner.elapsed()
        if predicate():
            return began
        time.sleep(POLL_S)
    return None
