"""Cluster: an edge balancer in front of two app hosts. Traffic reaches every
replica of both hosts; an app host that goes down under load costs no GET."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.lib import lab
from tests.lib.loadgen import Config, LoadRunner

APP_HOSTS = ["pyweb-cluster-app1", "pyweb-cluster-app2"]
BALANCER = "pyweb-cluster-lb"
REPLICAS = 2
FAIL_TIMEOUT = 5.0
RESULTS = Path(__file__).resolve().parent / "results"


@pytest.fixture(scope="module")
def lb_url() -> str:
    return f"http://{lab.container_ip(BALANCER)}:80"


def test_requests_reach_every_replica_of_both_hosts(lb_url):
    pairs = Counter(lab.served_by(f"{lb_url}/", 40))
    expected = {(h, f"app_{i}") for h in APP_HOSTS for i in range(1, REPLICAS + 1)}
    assert set(pairs) == expected, pairs


def test_balancer_serves_static_files_itself(lb_url):
    answer = lab.http(f"{lb_url}/static/about.txt")
    assert answer.status == 200
    assert "served by the edge balancer" in answer.body["raw"]


def test_request_id_and_forwarded_headers_pass_through(lb_url):
    answer = lab.http(f"{lb_url}/")
    assert answer.status == 200
    assert len(answer.headers.get("X-Request-ID", "")) >= 16
    assert answer.headers.get("Server") == "nginx"


def test_app_host_down_under_load_costs_no_get(lb_url):
    victim = APP_HOSTS[1]
    config = Config(url=lb_url, clients=8, duration=50.0, post_ratio=0.25, timeout=10.0)
    with LoadRunner(config) as runner:
        time.sleep(8)
        lab.controller_docker("stop", "--time", "20", victim)
        time.sleep(12)
        lab.controller_docker("start", victim)
        runner.wait()
        summary = runner.summary()
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "failover.json").write_text(json.dumps(summary.to_dict(), indent=2, default=str))
    data = summary.to_dict()
    get = data["by_method"]["GET"]
    post = data["by_method"].get("POST", {"total": 0, "ok": 0, "failed": 0})
    print(f"failover: {data['total']} requests, GET {get}, POST {post}, p99 {data['latency_ms']['p99']} ms")
    assert data["total"] > 1000
    assert get["failed"] == 0, data["first_failures"]
    assert data["latency_ms"]["max"] <= 3000, data["latency_ms"]
    # POSTs are not retried once sent; any that failed are reported above.
    assert post["total"] > 0


def test_app_host_that_came_back_gets_traffic_again(lb_url):
    victim = APP_HOSTS[1]
    host = lab.molecule_host(victim)
    lab.wait_for(lambda: all(lab.health(host, f"pyweb-app_{i}-1") == "healthy" for i in (1, 2)), timeout=120)
    lab.wait_for(lambda: lab.http(f"http://{lab.container_ip(victim)}:80/").status == 200, timeout=60)
    took = lab.wait_for(
        lambda: victim in {h for h, _ in lab.served_by(f"{lb_url}/", 10)}, timeout=FAIL_TIMEOUT + 10
    )
    print(f"{victim} back in rotation {took:.1f} s after its Nginx answered")
