"""The balancer pair: two edge balancers behind one floating address (VRRP,
keepalived, unicast). One holds it; status.yml names it. When the holder is
killed (and started again), frozen for 20 s or cut off the network for 20 s,
under load, the other takes the address within 3 s and keeps it when the old
holder returns (no preemption). A drain reaches both balancers.

What a client sees depends on what it does when a connection dies, so the
clients here follow the retry policy of an HTTP client or proxy in front of
the service (tests/lib/pair.py ``clients``): a GET without an answer
(refused, reset, or none within 0.5 s) is sent again on a new connection,
for up to 4.4 s after its first try; a POST is never sent twice and gives up
after 4.5 s. What the failed balancer had accepted dies with it: a VRRP pair
moves an address, not connections."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from tests.lib import faults, lab, pair
from tests.lib.underload import assert_no_failed_request, load, run_under_load

BALANCERS = {"pyweb-cluster-lb": "172.31.250.10", "pyweb-cluster-lb2": "172.31.250.13"}
APP_HOSTS = ["pyweb-cluster-app1", "pyweb-cluster-app2"]
VIP = "172.31.250.100"
URL = f"http://{VIP}:80"
RESULTS = Path(__file__).resolve().parent / "results"
SLOW_S = 5.0  # no request waits longer
GAP_S = 3.0  # never longer without a successful answer
MOVE_S = 3.0  # the address moves within this


def test_one_balancer_holds_the_address_and_both_serve():
    assert len(pair.holders(list(BALANCERS), VIP)) == 1
    for balancer, address in BALANCERS.items():
        assert pair.serves(balancer, address), balancer
        hosts = {host for host, _replica in lab.served_by(f"http://{address}/", 12)}
        assert hosts == set(APP_HOSTS), (balancer, hosts)


def test_status_names_the_holder():
    holder = pair.holders(list(BALANCERS), VIP)[0]
    result = lab.run_playbook("status.yml")
    assert result.returncode == 0, result.stdout[-3000:]
    assert f"floating address {VIP} held by {holder}" in result.stdout


def burst(url: str, count: int) -> list[tuple[str, int]]:
    """`count` requests at the same instant, each on a new connection, every
    other one a POST: (method, status) of each; status 0 when none came."""
    start = threading.Barrier(count)
    answers: list[tuple[str, int]] = []

    def one(index: int) -> None:
        method = "POST" if index % 2 else "GET"
        start.wait()
        try:
            data = b'{"burst": true}' if method == "POST" else None
            status = lab.http(url + ("echo" if method == "POST" else ""), method, data, timeout=10.0).status
        except OSError:
            status = 0
        answers.append((method, status))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def agent_sees_up(balancer: str, hosts: list[str]) -> bool:
    """The balancer's health agent has every one of `hosts` up again."""
    try:
        out = lab.controller_docker("exec", balancer, "cat", "/opt/pyweb-balancer/agent-status.json")
    except lab.DockerError:
        return False
    status = json.loads(out)
    return all(status.get(host, {}).get("up") for host in hosts)


def test_a_standby_that_lost_the_app_hosts_answers_every_request_when_traffic_comes():
    """The standby balancer loses its way to both app hosts while clients ask
    it directly (each request fails: the fault is real), the way comes back,
    and long after (6 s, more than a failure mark of Nginx lasts) a burst of
    24 clients arrives at once - as when a standby takes the floating address
    some time after a fault of its own. Every GET and every POST is answered
    200: nothing of the old fault is left in its Nginx. (With Nginx's own
    passive checks on, it let each host back one request at a time and
    answered the others 502, no live upstreams: the pair's failover tests
    lost requests that way, now and then.)"""
    standby = next(b for b in BALANCERS if not pair.holds(b, VIP))
    url = f"http://{BALANCERS[standby]}/"
    fault = faults.refuse_forwarding(standby, [lab.container_ip(host) for host in APP_HOSTS])
    fault.apply()
    try:
        during = [lab.http(url, timeout=5.0).status for _attempt in range(3)]
        during += [lab.http(url + "echo", "POST", b"{}", timeout=5.0).status for _attempt in range(3)]
    finally:
        fault.undo()
    assert all(status >= 500 for status in during), during
    lab.wait_for(lambda: agent_sees_up(standby, APP_HOSTS), timeout=30)
    time.sleep(6.0)
    answers = burst(url, 24)
    failed = [answer for answer in answers if answer[1] != 200]
    assert not failed, f"{standby}: {len(failed)} of {len(answers)} failed: {failed}"


def record(run: pair.PairRun, name: str) -> None:
    RESULTS.mkdir(exist_ok=True)
    document = {
        "summary": run.summary,
        "fresh": run.fresh,
        "moved_after_s": run.moved_after,
        "holder": run.holder,
        "lost": [r.to_dict() for r in run.records if not r.ok],
    }
    (RESULTS / f"pair-{name}.json").write_text(json.dumps(document, indent=2, default=str))
    print(run.report())


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("kill", faults.kill_host),  # undone by starting the host again: a restart
        ("freeze", faults.freeze_host),
        ("cut", faults.isolate_host),
    ],
)
def test_the_address_moves_when_its_holder_fails_and_stays(name, make):
    """8 clients to the floating address through the fault, 8 more from the
    moment the address moved (new users). The other balancer holds the address
    within 3 s; no GET fails; a POST fails only if it went to the old holder
    before the address moved (in flight at the fault: reported); no request
    waits more than 5 s; never more than 3 s without a successful answer; the
    address stays where it went when the old holder returns."""
    run = pair.run_pair_fault(BALANCERS, VIP, make, pair.clients(URL), hold=20.0, after=8.0)
    record(run, name)
    assert run.taker is not None and run.moved_after is not None, run.report()
    assert run.moved_after <= MOVE_S, run.report()
    for label, summary in (("through the fault", run.summary), ("after the move", run.fresh)):
        assert summary is not None, run.report()
        methods = summary["by_method"]
        assert methods["GET"]["failed"] == 0, (label, run.report(), summary["first_failures"])
        assert methods["GET"]["ok"] > 0 and methods["POST"]["ok"] > 0, (label, run.report())
        assert summary["latency_ms"]["max"] <= SLOW_S * 1000, (label, run.report())
        assert summary["max_gap_s"] <= GAP_S, (label, run.report())
    lost = [r for r in run.records if not r.ok]
    assert all(r.method == "POST" and run.went_to_old_holder(r) for r in lost), [r.to_dict() for r in lost]
    assert run.fresh["by_method"]["POST"]["failed"] == 0, run.report()
    assert run.returned is not None, f"{run.holder} did not serve again within 120 s of its recovery"
    assert run.holders_after == [run.taker], run.report()


def routed_hosts() -> dict[str, set[str]]:
    """Which app hosts answer through each balancer's own address (12 GETs each)."""
    return {
        name: {host for host, _replica in lab.served_by(f"http://{address}/", 12)}
        for name, address in BALANCERS.items()
    }


def test_a_drain_reaches_both_balancers_under_load_and_the_return_too():
    """drain.yml takes app1 out of both balancers (the holder and the other
    one), then returns it, while 8 clients load the floating address: no
    failed request, and each balancer, asked on its own address, routes to
    app2 alone while app1 is drained and to both after its return."""
    drained = json.dumps({"balancer_drained_hosts": [APP_HOSTS[0]]})
    run = run_under_load({"floating": load(URL, 8)}, "drain.yml", "-e", drained, results=RESULTS)
    assert run.result.returncode == 0, run.log()[-3000:]
    assert_no_failed_request(run)
    for name in BALANCERS:
        assert f"{name}: drained {APP_HOSTS[0]}; no connection to them is left" in run.log(), name
    assert routed_hosts() == {name: {APP_HOSTS[1]} for name in BALANCERS}
    back = run_under_load({"floating": load(URL, 8)}, "drain.yml", results=RESULTS)
    assert back.result.returncode == 0, back.log()[-3000:]
    assert_no_failed_request(back)
    assert routed_hosts() == {name: set(APP_HOSTS) for name in BALANCERS}
