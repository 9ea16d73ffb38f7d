"""Unit tests of the Nginx filters shared by the host proxy and the balancer."""

from __future__ import annotations

import pytest

from plugins.filter.layout import (
    balancer_backends,
    replica_names,
    replicas_pending,
    route_swap,
    stack_layout,
    stack_routes,
)
from plugins.filter.nginx import (
    nginx_check_command,
    nginx_common_http,
    nginx_proxy,
    nginx_security_headers,
    nginx_upstream,
)


def test_upstream_lists_servers_with_zone_and_keepalive():
    text = nginx_upstream(
        [{"address": "10.0.0.11:8000"}, {"address": "10.0.0.12:8000", "down": True, "comment": "app_2"}],
        "app",
        keepalive=8,
        max_fails=2,
        fail_timeout="3s",
    )
    assert text.splitlines() == [
        "upstream app {",
        "    zone app 64k;",
        "    server 10.0.0.11:8000 max_fails=2 fail_timeout=3s;",
        "    server 10.0.0.12:8000 max_fails=2 fail_timeout=3s down;  # app_2",
        "    keepalive 8;",
        "}",
    ]


def test_upstream_without_keepalive_and_per_server_overrides():
    text = nginx_upstream([{"address": "a:1", "max_fails": 5, "backup": True}], "x")
    assert "server a:1 backup max_fails=5 fail_timeout=5s;" in text
    assert "keepalive" not in text


def test_upstream_refuses_empty_groups():
    with pytest.raises(ValueError, match="at least one server"):
        nginx_upstream([], "app")


def test_security_headers_always_and_hsts_only_with_tls():
    plain = nginx_security_headers(False)
    assert 'add_header X-Content-Type-Options "nosniff" always;' in plain
    assert 'add_header X-Frame-Options "DENY" always;' in plain
    assert "Referrer-Policy" in plain
    assert "Strict-Transport-Security" not in plain
    assert "Strict-Transport-Security" in nginx_security_headers(True)
    assert all(line.endswith("always;") for line in plain.splitlines())


def test_common_http_hides_version_and_bounds_bodies():
    text = nginx_common_http("2m")
    assert "server_tokens off;" in text
    assert "client_max_body_size 2m;" in text
    assert "$upstream_addr" in text and "$pyweb_request_id" in text


def test_proxy_bounds_retries_and_sets_keepalive_headers():
    text = nginx_proxy("app", connect_timeout="1s", tries=2, next_timeout="4s")
    assert "proxy_pass http://app;" in text
    assert "proxy_next_upstream error timeout http_502 http_503 http_504;" in text
    assert "proxy_next_upstream_tries 2;" in text
    assert "proxy_next_upstream_timeout 4s;" in text
    assert "proxy_connect_timeout 1s;" in text
    assert 'proxy_set_header Connection "";' in text
    assert "proxy_http_version 1.1;" in text
    assert "Connection" not in nginx_proxy("app", keepalive=False)


def test_layout_gives_each_slot_a_fixed_address():
    routes = stack_routes({"app_2": {"slot": "b", "version": "2"}}, 3, "1")
    layout = stack_layout("172.30.0.0/24", routes)
    assert layout["nginx"] == "172.30.0.2"
    assert [(s["service"], s["address"], s["version"]) for s in layout["services"]] == [
        ("app_1_a", "172.30.0.11", "1"),
        ("app_2_b", "172.30.0.92", "2"),
        ("app_3_a", "172.30.0.13", "1"),
    ]
    assert layout["upstream"][1] == {"address": "172.30.0.172:8000", "comment": "app_2"}
    assert layout["dnat"][1] == {
        "name": "app_2",
        "vip": "172.30.0.172",
        "address": "172.30.0.92",
        "port": 8000,
        "service": "app_2_b",
    }


def test_surge_layout_adds_the_successor_beside_its_predecessor_but_not_to_the_upstream():
    routes = stack_routes({}, 2, "1")
    layout = stack_layout("172.30.0.0/24", routes, 9000, {"replica": "app_1", "version": "2"})
    assert [(s["service"], s["version"]) for s in layout["services"]] == [
        ("app_1_a", "1"),
        ("app_1_b", "2"),
        ("app_2_a", "1"),
    ]
    assert [u["address"] for u in layout["upstream"]] == ["172.30.0.171:9000", "172.30.0.172:9000"]
    assert [d["address"] for d in layout["dnat"]] == ["172.30.0.11", "172.30.0.12"]


def test_route_swap_moves_one_replica_to_its_other_slot():
    routes = stack_routes({}, 2, "1")
    moved = route_swap(routes, "app_2", "2")
    assert moved == {"app_1": {"slot": "a", "version": "1"}, "app_2": {"slot": "b", "version": "2"}}
    assert route_swap(moved, "app_2", "3")["app_2"] == {"slot": "a", "version": "3"}
    assert routes["app_2"] == {"slot": "a", "version": "1"}  # not changed in place


def test_stack_routes_keep_or_force_the_version():
    current = {"app_1": {"slot": "b", "version": "2"}, "app_9": {"slot": "a", "version": "0"}}
    assert stack_routes(current, 2, "1") == {
        "app_1": {"slot": "b", "version": "2"},
        "app_2": {"slot": "a", "version": "1"},
    }
    assert stack_routes(current, 1, "3", keep=False) == {"app_1": {"slot": "b", "version": "3"}}


def test_replicas_pending_checks_health_not_only_the_version():
    routes = stack_routes({"app_2": {"slot": "b", "version": "2"}}, 3, "2")
    containers = [
        {"service": "app_1_a", "status": "running", "health": "healthy"},
        {"service": "app_2_b", "status": "running", "health": "unhealthy"},
        {"service": "app_3_a", "status": "running", "health": "none"},
    ]
    assert replicas_pending(routes, containers, "2") == ["app_2"]
    assert replicas_pending(routes, containers[:1], "2") == ["app_2", "app_3"]
    assert replicas_pending(routes, containers, "3") == ["app_1", "app_2", "app_3"]


@pytest.mark.parametrize(
    ("subnet", "count", "message"),
    [
        ("172.30.0.0/24", 0, "at least 1"),
        ("172.30.0.0/28", 5, "need at least"),
        ("172.30.0.1/24", 2, "host bits"),
    ],
)
def test_layout_refuses_bad_input(subnet, count, message):
    with pytest.raises(ValueError, match=message):
        stack_layout(subnet, stack_routes({}, count, "1"))


def test_replica_names():
    assert replica_names(2) == ["app_1", "app_2"]


def test_balancer_backends_use_backend_address_or_facts():
    hosts = [
        {"inventory_hostname": "a", "pyweb_backend_address": "10.0.0.1"},
        {"inventory_hostname": "b", "ansible_default_ipv4": {"address": "10.0.0.2"}, "stack_http_port": 8080},
    ]
    assert balancer_backends(hosts, 80, ["b"]) == [
        {"address": "10.0.0.1:80", "down": False, "comment": "a"},
        {"address": "10.0.0.2:8080", "down": True, "comment": "b"},
    ]


def test_balancer_backends_name_the_host_without_address():
    with pytest.raises(ValueError, match="app host c: no address"):
        balancer_backends([{"inventory_hostname": "c"}])


def test_status_lines_show_release_and_each_container():
    from plugins.filter.status import status_lines

    state = {
        "routes": {"app_1": {"slot": "b", "version": "2.0.0"}, "app_2": {"slot": "a", "version": "2.0.0"}},
        "containers": [
            {
                "service": "app_1_b",
                "replica": "app_1",
                "image": "pyweb/app:2.0.0",
                "status": "running",
                "health": "healthy",
                "started": "T",
            },
            {"service": "nginx", "image": "pyweb/nginx:trixie", "status": "running", "health": "healthy"},
        ],
    }
    lines = status_lines(state, {"version": "2.0.0", "previous": "1.0.0", "updated": "U"})
    assert lines == [
        "release: 2.0.0 (previous: 1.0.0, recorded U)",
        "app_1 (app_1_b, serving): pyweb/app:2.0.0, running, healthy, since T",
        "nginx: pyweb/nginx:trixie, running, healthy",
        "app_2_a: missing (routed, no container)",
    ]


def test_rollout_summary_per_host_and_totals():
    from plugins.filter.status import rollout_summary

    swaps = [{"replica": "app_1", "from": "app_1_a", "to": "app_1_b", "total": 3.2}]
    hosts = [
        {
            "inventory_hostname": "h1",
            "__rollout_report": {"from": "1", "to": "2", "swaps": swaps, "seconds": 4},
        },
        {"inventory_hostname": "h2"},
    ]
    lines = rollout_summary(hosts, started=100.0, now=110.0)
    assert lines[0] == "h1: 1 -> 2, ok, 1 swap(s) in 4 s: app_1 app_1_a->app_1_b 3.2s"
    assert lines[1].startswith("h2: not rolled")
    assert lines[2] == "swaps: 1, median 3.2 s, max 3.2 s"
    assert lines[3] == "total: 10.0 s"


def test_balancer_layout_names_a_virtual_address_per_host_and_drains_by_moving_it():
    from plugins.filter.layout import balancer_layout

    hosts = [
        {"inventory_hostname": "a", "pyweb_backend_address": "10.0.0.1"},
        {"inventory_hostname": "b", "pyweb_backend_address": "10.0.0.2", "stack_http_port": 8081},
    ]
    layout = balancer_layout(hosts, 80, ["b"])
    assert layout["upstream"] == [
        {"address": "198.18.0.1:80", "comment": "a"},
        {"address": "198.18.0.2:8081", "comment": "b"},
    ]
    assert layout["dnat"][1] == {
        "name": "b",
        "vip": "198.18.0.2",
        "address": "10.0.0.2",
        "port": 8081,
        "drained": True,
    }


def test_effective_routes_move_failed_and_drained_targets_to_serving_ones():
    from plugins.module_utils.netns import effective

    targets = [
        {"name": "a", "vip": "v1", "address": "10.0.0.1", "port": 80},
        {"name": "b", "vip": "v2", "address": "10.0.0.2", "port": 81, "drained": True},
        {"name": "c", "vip": "v3", "address": "10.0.0.3", "port": 80},
    ]
    rules = effective(targets, {"c": False})
    assert [(r["address"], r["to_port"]) for r in rules] == [
        ("10.0.0.1", 80),
        ("10.0.0.1", 80),
        ("10.0.0.1", 80),
    ]
    assert [(r["address"], r["to_port"]) for r in effective(targets)][1] == ("10.0.0.3", 80)
    nobody = effective(targets, {"a": False, "c": False})
    assert [r["address"] for r in nobody] == ["10.0.0.1", "10.0.0.2", "10.0.0.3"]  # kept: nothing serves


def test_proxy_locations_bound_idempotent_tries_and_keep_posts_whole():
    from plugins.filter.nginx import nginx_proxy_locations

    text = nginx_proxy_locations(
        "app", idempotent_read_timeout="2s", read_timeout="30s", prelude=["limit_req x;"]
    )
    first, second = text.split("location @pyweb_unsafe {")
    assert "proxy_read_timeout 2s;" in first and "return 418;" in first and "limit_req x;" in first
    assert "proxy_read_timeout 30s;" in second and "limit_req x;" in second


def test_fleet_status_names_what_differs():
    from plugins.filter.status import fleet_status

    def host(name, version, routes):
        return {
            "inventory_hostname": name,
            "__stack_release": {"release": {"version": version, "history": ["1", version]}},
            "__stack_replicas": {"routes": routes},
        }

    same = {"app_1": {"slot": "a", "version": "2"}}
    hosts = [
        host("h1", "2", same),
        host("h2", "2", {"app_1": {"slot": "b", "version": "1"}}),
        host("h3", "1", {}),
    ]
    assert fleet_status(hosts) == [
        "fleet release: 2 (history: 1, 2)",
        "differs: h2 app_1 serves 1",
        "differs: h3 records 1",
    ]
    assert fleet_status(hosts[:1])[1] == "every host and replica runs it"


def test_unsafe_methods_go_to_a_twin_upstream_without_keepalive():
    from plugins.filter.nginx import nginx_proxy_locations, nginx_upstreams

    blocks = nginx_upstreams([{"address": "10.0.0.1:80"}], "app", keepalive=8, keepalive_time="1s")
    kept, unsafe = blocks.split("upstream app_unsafe {")
    assert "keepalive 8;" in kept and "keepalive_time 1s;" in kept
    assert "keepalive" not in unsafe and "server 10.0.0.1:80" in unsafe
    locations = nginx_proxy_locations("app", keepalive=True)
    safe, post = locations.split("location @pyweb_unsafe {")
    assert "proxy_pass http://app;" in safe and 'proxy_set_header Connection "";' in safe
    assert "proxy_pass http://app_unsafe;" in post and "Connection" not in post


def test_balancer_pair_gives_each_balancer_its_peers_and_a_priority_by_place():
    from plugins.filter.layout import balancer_pair

    hosts = [
        {"inventory_hostname": "lb1", "ansible_default_ipv4": {"address": "10.0.0.10", "interface": "eth0"}},
        {"inventory_hostname": "lb2", "pyweb_vrrp_address": "10.0.1.13"},
        {
            "inventory_hostname": "lb3",
            "ansible_default_ipv4": {"address": "10.0.0.14", "gateway": "10.0.0.1"},
        },
    ]
    first = balancer_pair(hosts, "lb1")
    assert first == {
        "address": "10.0.0.10",
        "peers": ["10.0.1.13", "10.0.0.14"],
        "priority": 250,
        "interface": "eth0",
        "gateway": "",
    }
    second = balancer_pair(hosts, "lb2", "")
    assert (second["address"], second["peers"], second["priority"]) == (
        "10.0.1.13",
        ["10.0.0.10", "10.0.0.14"],
        240,
    )
    third = balancer_pair(hosts, "lb3", 99)
    assert (third["priority"], third["gateway"], third["interface"]) == (99, "10.0.0.1", "")


def test_balancer_pair_names_the_balancer_without_address():
    from plugins.filter.layout import balancer_pair

    with pytest.raises(
        ValueError, match="balancer lb2: no address for its VRRP peers; set pyweb_vrrp_address"
    ):
        balancer_pair(
            [{"inventory_hostname": "lb1", "pyweb_vrrp_address": "10.0.0.1"}, {"inventory_hostname": "lb2"}],
            "lb1",
        )


def test_the_check_of_a_new_configuration_runs_in_a_throwaway_container_of_the_tier():
    assert nginx_check_command("pyweb/nginx:trixie") == (
        "docker run --rm --network none -v %s:/etc/pyweb-nginx/nginx.conf:ro pyweb/nginx:trixie "
        "nginx -e stderr -t -q -c /etc/pyweb-nginx/nginx.conf"
    )
    # What the configuration reads (the balancer's certificate and key) is mounted beside it.
    assert nginx_check_command("ngx:1", ["/opt/lb/conf/tls:/etc/pyweb-nginx/tls"]) == (
        "docker run --rm --network none -v %s:/etc/pyweb-nginx/nginx.conf:ro "
        "-v /opt/lb/conf/tls:/etc/pyweb-nginx/tls:ro ngx:1 "
        "nginx -e stderr -t -q -c /etc/pyweb-nginx/nginx.conf"
    )
