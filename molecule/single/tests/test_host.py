"""One app host: Docker runs, N replicas are healthy behind the host Nginx,
a killed replica comes back while Nginx keeps answering."""

from __future__ import annotations

import os
from collections import Counter

import pytest

from tests.lib import lab

testinfra_hosts = ["ansible://app"]
HOST = "pyweb-single-app1"
REPLICAS = 2


@pytest.fixture(scope="module")
def url() -> str:
    return f"http://{lab.container_ip(HOST)}:80"


def get_many(url: str, count: int) -> list[lab.Answer]:
    return [lab.http(f"{url}/") for _attempt in range(count)]


def test_docker_is_active_and_enabled(host):
    docker = host.service("docker")
    assert docker.is_running
    assert docker.is_enabled
    assert host.run("docker compose version").rc == 0


def test_every_replica_is_healthy(host):
    names = lab.replica_containers(host)
    # One container per replica, in its serving slot (a, after a first deployment).
    assert names == [f"pyweb-app_{i}_a-1" for i in range(1, REPLICAS + 1)]
    for name in names:
        assert lab.health(host, name) == "healthy", name


def test_only_nginx_publishes_a_port(host):
    # Through its network namespace, held by the `net` service it joins.
    nginx = lab.inspect(host, "pyweb-nginx-1")
    assert nginx["HostConfig"]["NetworkMode"].startswith("container:")
    net = lab.inspect(host, "pyweb-net-1")
    assert "8080/tcp" in net["HostConfig"]["PortBindings"]
    for name in lab.replica_containers(host):
        assert not lab.inspect(host, name)["HostConfig"]["PortBindings"], name


def test_requests_through_nginx_reach_several_replicas(host, url):
    answers = get_many(url, 20)
    assert [a.status for a in answers] == [200] * 20
    replicas = Counter(a.body["replica"] for a in answers)
    assert len(replicas) >= 2, replicas
    assert {a.body["host"] for a in answers} == {HOST}


def test_killed_replica_comes_back_and_nothing_fails(host, url):
    victim = "pyweb-app_1_a-1"
    started_before = lab.inspect(host, victim)["State"]["StartedAt"]
    host.check_output(f"docker kill {victim}")
    answers = get_many(url, 20)
    assert [a.status for a in answers] == [200] * 20
    lab.wait_for(
        lambda: (
            lab.health(host, victim) == "healthy"
            and lab.inspect(host, victim)["State"]["StartedAt"] != started_before
        ),
        timeout=float(os.environ.get("PYWEB_HEAL_TIMEOUT", "30")),
    )
    # The health agent took app_1 out when it failed; it is back in rotation
    # once it passes its checks again.
    lab.wait_for(lambda: "app_1" in {a.body["replica"] for a in get_many(url, 10)}, timeout=15)
