"""Unit tests of the Nginx filters shared by the host proxy and the balancer."""

from __future__ import annotations

import pytest

from plugins.filter.layout import balancer_backends, image_tag, replica_names, stack_layout
from plugins.filter.nginx import (
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


def test_layout_gives_fixed_addresses_and_marks_drained():
    layout = stack_layout("172.30.0.0/24", 3, ["app_2"])
    assert layout["nginx"] == "172.30.0.2"
    assert [r["address"] for r in layout["replicas"]] == ["172.30.0.11", "172.30.0.12", "172.30.0.13"]
    assert [r["down"] for r in layout["replicas"]] == [False, True, False]
    assert layout["upstream"][0] == {"address": "172.30.0.11:8000", "down": False, "comment": "app_1"}


@pytest.mark.parametrize(
    ("subnet", "count", "drained", "message"),
    [
        ("172.30.0.0/24", 0, [], "at least 1"),
        ("172.30.0.0/28", 5, [], "need at least"),
        ("172.30.0.0/24", 2, ["app_9"], "not among"),
        ("172.30.0.1/24", 2, [], "host bits"),
    ],
)
def test_layout_refuses_bad_input(subnet, count, drained, message):
    with pytest.raises(ValueError, match=message):
        stack_layout(subnet, count, drained)


def test_replica_names():
    assert replica_names(2) == ["app_1", "app_2"]


@pytest.mark.parametrize(
    ("container", "tag"),
    [
        (None, ""),
        ({"Config": {"Image": "pyweb/app:2.0.0"}}, "2.0.0"),
        ({"Config": {"Image": "registry:5000/pyweb/app"}}, ""),
        ({"Config": {"Image": "registry:5000/pyweb/app:1.0"}}, "1.0"),
    ],
)
def test_image_tag(container, tag):
    assert image_tag(container) == tag


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

    results = [
        {
            "item": "app_1",
            "exists": True,
            "container": {
                "Config": {"Image": "pyweb/app:2.0.0"},
                "State": {"Status": "running", "Health": {"Status": "healthy"}, "StartedAt": "T"},
            },
        },
        {"item": "app_2", "exists": False, "container": None},
    ]
    lines = status_lines(results, {"version": "2.0.0", "previous": "1.0.0", "updated": "U"})
    assert lines == [
        "release: 2.0.0 (previous: 1.0.0, recorded U)",
        "app_1: pyweb/app:2.0.0, running, healthy, since T",
        "app_2: missing",
    ]


def test_nginx_service_is_unprivileged_and_read_only():
    from plugins.filter.nginx import nginx_reload_argv, nginx_service

    svc = nginx_service("pyweb/nginx:trixie", ["0.0.0.0:80:8080"], ["./nginx:/etc/pyweb-nginx:ro"])
    assert svc["user"] == "33:33"
    assert svc["read_only"] is True
    assert svc["cap_drop"] == ["ALL"]
    assert svc["security_opt"] == ["no-new-privileges:true"]
    assert svc["stop_signal"] == "SIGQUIT"
    assert "networks" not in svc
    assert svc["healthcheck"]["test"][:3] == ["CMD", "bash", "-c"]
    with_net = nginx_service(
        "i", [], [], networks={"backend": {"ipv4_address": "172.30.0.2"}}, mem_limit="256m"
    )
    assert with_net["networks"]["backend"]["ipv4_address"] == "172.30.0.2"
    assert with_net["mem_limit"] == "256m"
    argv = nginx_reload_argv("/etc/x.conf")
    assert argv[:2] == ["bash", "-c"]
    assert argv[2].startswith("nginx -e stderr -t -q -c /etc/x.conf && ")
    assert argv[2].endswith("-s reload")
