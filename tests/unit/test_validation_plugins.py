"""Unit tests of the validation tests and filters (plugins/test/validation.py,
plugins/filter/validation.py, the layout helpers in plugins/filter/layout.py)."""

from __future__ import annotations

import pytest

from plugins.filter.layout import missing_backend_addresses, stack_layout_error
from plugins.filter.validation import check_report
from plugins.test import validation as v


@pytest.mark.parametrize("value", ["1.0.0", "2", 2, "latest", "v1_beta-2", "_x", "A" * 128])
def test_docker_tag_accepts(value):
    assert v.docker_tag(value)


@pytest.mark.parametrize("value", ["", "v1 beta", ".1", "-1", "a" * 129, "1.0\n", 1.1, True, None, ["1"]])
def test_docker_tag_refuses(value):
    assert not v.docker_tag(value)


@pytest.mark.parametrize(
    "value", ["pyweb/app", "app", "registry.example.com/team/app", "localhost:5000/app", "a__b/c-d.e"]
)
def test_image_name_accepts(value):
    assert v.image_name(value)


@pytest.mark.parametrize("value", ["pyweb/app:1.0", "Pyweb/app", "https://r.example.com/app", "app/", ""])
def test_image_name_refuses(value):
    assert not v.image_name(value)


@pytest.mark.parametrize(
    "value",
    ["pyweb/nginx:trixie", "nginx", "registry.example.com:5000/team/app:1.0", "app@sha256:" + "a" * 64],
)
def test_image_reference_accepts(value):
    assert v.image_reference(value)


@pytest.mark.parametrize("value", ["pyweb/nginx:bad tag", "nginx:", "Nginx:1", ":1", ""])
def test_image_reference_refuses(value):
    assert not v.image_reference(value)


def test_compose_project():
    assert v.compose_project("pyweb-balancer_2")
    assert not v.compose_project("PyWeb")
    assert not v.compose_project("-pyweb")


@pytest.mark.parametrize("value", ["5s", "500ms", "1m", "2h", "30", 30, "0"])
def test_nginx_time_accepts(value):
    assert v.nginx_time(value)


@pytest.mark.parametrize("value", ["5 sec", "5 s", "1d", "1.5s", "", "s", -1])
def test_nginx_time_refuses(value):
    assert not v.nginx_time(value)


def test_nginx_size():
    assert all(v.nginx_size(x) for x in ["1m", "512k", "1G", "1048576", 1024])
    assert not any(v.nginx_size(x) for x in ["1mb", "1 m", "1.5m", ""])


def test_compose_duration():
    assert all(v.compose_duration(x) for x in ["2s", "500ms", "1m30s", "1.5s"])
    assert not any(v.compose_duration(x) for x in ["2", "2 s", "s", "", 2])


def test_docker_size():
    assert all(v.docker_size(x) for x in ["256m", "1g", "512MiB", "1.5GB", "268435456", 268435456])
    assert not any(v.docker_size(x) for x in ["256 MB", "lots", "", "1x"])


def test_ip_address():
    assert all(v.ip_address(x) for x in ["0.0.0.0", "127.0.0.1", "::"])
    assert not any(v.ip_address(x) for x in ["10.0.0.0/24", "localhost", "", "300.1.1.1"])


@pytest.mark.parametrize("value", [1, 80, "443", 65535])
def test_port_accepts(value):
    assert v.port(value)


@pytest.mark.parametrize("value", [0, 65536, 70000, -1, "http", "", True, 80.0])
def test_port_refuses(value):
    assert not v.port(value)


def test_every_test_is_registered():
    assert set(v.TestModule().tests()) == {
        "docker_tag",
        "image_name",
        "image_reference",
        "compose_project",
        "nginx_time",
        "nginx_size",
        "compose_duration",
        "docker_size",
        "ip_address",
        "port",
    }


@pytest.mark.parametrize(
    ("subnet", "count", "needle"),
    [
        ("10.0.0.1/24", 2, "has host bits set"),
        ("banana", 2, "does not appear to be"),
        ("fd00::/64", 2, "IPv6"),
        ("10.0.0.0/28", 8, "8 replicas in two slots need at least"),
        ("10.0.0.0/24", 0, "at least 1"),
        ("10.0.0.0/24", 81, "at most 80"),
    ],
)
def test_stack_layout_error_explains(subnet, count, needle):
    assert needle in stack_layout_error(subnet, count)


def test_stack_layout_error_is_empty_when_valid():
    assert stack_layout_error("172.30.0.0/24", 2) == ""
    assert stack_layout_error("172.30.0.0/24", 80) == ""


def test_missing_backend_addresses():
    hosts = [
        {"inventory_hostname": "a", "pyweb_backend_address": "10.0.0.1"},
        {"inventory_hostname": "b", "ansible_default_ipv4": {"address": "10.0.0.2"}},
        {"inventory_hostname": "c"},
        {"inventory_hostname": "d", "ansible_default_ipv4": {}},
    ]
    assert missing_backend_addresses(hosts) == ["c", "d"]


def _check(ok, var="x_port"):
    return {"var": var, "value": 70000, "ok": ok, "allowed": "a TCP port", "fix": "set x_port."}


def test_check_report_is_empty_when_all_pass():
    assert check_report([_check(True), _check("True")], "h1") == ""


def test_check_report_names_host_variable_value_allowed_and_fix():
    assert check_report([_check(True), _check(False)], "h1") == (
        "h1: x_port is 70000, but it must be a TCP port. Fix: set x_port."
    )


def test_check_report_lists_every_failure():
    report = check_report([_check(False, "a"), {**_check(False, "b"), "where": "inventory"}], "h1")
    assert report.splitlines() == [
        "2 invalid settings:",
        "- h1: a is 70000, but it must be a TCP port. Fix: set x_port.",
        "- inventory: b is 70000, but it must be a TCP port. Fix: set x_port.",
    ]


def test_check_report_refuses_malformed_checks():
    with pytest.raises(ValueError, match="lacks fix"):
        check_report([{"var": "a", "value": 1, "ok": False, "allowed": "x"}], "h1")
    with pytest.raises(TypeError, match="boolean"):
        check_report([_check(None)], "h1")
