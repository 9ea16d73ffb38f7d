"""Unit tests of the input checks: the format vocabulary and the checker
(plugins/plugin_utils/input_check.py), the argument specifications of every
role read through it, the Jinja tests and filters that the cross-variable
rules use, the layout helpers in plugins/filter/layout.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible_collections.pyweb.ha.plugins.plugin_utils.input_check import (
    FORMATS,
    Bounds,
    check_option,
    check_options,
    check_report,
    describe,
    role_defaults,
    tags,
)

from plugins.filter.layout import missing_backend_addresses, stack_layout_error
from plugins.filter.validation import FilterModule
from plugins.test.validation import TestModule as JinjaTests

REPO = Path(__file__).resolve().parents[2]
SPECS = sorted(REPO.glob("roles/*/meta/argument_specs.yml"))


def ok(name: str, value: Any) -> bool:
    return FORMATS[name].accepts(value)


@pytest.mark.parametrize("value", ["1.0.0", "2", 2, "latest", "v1_beta-2", "_x", "A" * 128])
def test_docker_tag_accepts(value):
    assert ok("docker_tag", value)


@pytest.mark.parametrize("value", ["", "v1 beta", ".1", "-1", "a" * 129, "1.0\n", 1.1, True, None, ["1"]])
def test_docker_tag_refuses(value):
    assert not ok("docker_tag", value)


@pytest.mark.parametrize(
    "value", ["pyweb/app", "app", "registry.example.com/team/app", "localhost:5000/app", "a__b/c-d.e"]
)
def test_image_name_accepts(value):
    assert ok("image_name", value)


@pytest.mark.parametrize("value", ["pyweb/app:1.0", "Pyweb/app", "https://r.example.com/app", "app/", ""])
def test_image_name_refuses(value):
    assert not ok("image_name", value)


@pytest.mark.parametrize(
    "value",
    ["pyweb/nginx:trixie", "nginx", "registry.example.com:5000/team/app:1.0", "app@sha256:" + "a" * 64],
)
def test_image_reference_accepts(value):
    assert ok("image_reference", value)


@pytest.mark.parametrize("value", ["pyweb/nginx:bad tag", "nginx:", "Nginx:1", ":1", ""])
def test_image_reference_refuses(value):
    assert not ok("image_reference", value)


def test_compose_project():
    assert ok("compose_project", "pyweb-balancer_2")
    assert not ok("compose_project", "PyWeb")
    assert not ok("compose_project", "-pyweb")


@pytest.mark.parametrize("value", ["5s", "500ms", "1m", "2h", "30", 30, "0"])
def test_nginx_time_accepts(value):
    assert ok("nginx_time", value)


@pytest.mark.parametrize("value", ["5 sec", "5 s", "1d", "1.5s", "", "s", -1])
def test_nginx_time_refuses(value):
    assert not ok("nginx_time", value)


def test_nginx_size():
    assert all(ok("nginx_size", x) for x in ["1m", "512k", "1G", "1048576", 1024])
    assert not any(ok("nginx_size", x) for x in ["1mb", "1 m", "1.5m", ""])


def test_compose_duration():
    assert all(ok("compose_duration", x) for x in ["2s", "500ms", "1m30s", "1.5s"])
    assert not any(ok("compose_duration", x) for x in ["2", "2 s", "s", "", 2])


def test_docker_size():
    assert all(ok("docker_size", x) for x in ["256m", "1g", "512MiB", "1.5GB", "268435456", 268435456])
    assert not any(ok("docker_size", x) for x in ["256 MB", "lots", "", "1x"])


def test_ip_address():
    assert all(ok("ip_address", x) for x in ["0.0.0.0", "127.0.0.1", "::"])
    assert not any(ok("ip_address", x) for x in ["10.0.0.0/24", "localhost", "", "300.1.1.1"])


@pytest.mark.parametrize("value", [1, 80, "443", 65535])
def test_port_accepts(value):
    assert ok("port", value)


@pytest.mark.parametrize("value", [0, 65536, 70000, -1, "http", "", True, 80.0])
def test_port_refuses(value):
    assert not ok("port", value)


def _app_dir(root: Path, *files: str) -> str:
    for name in files:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("")
    return str(root)


@pytest.mark.parametrize(
    "files",
    [
        ("requirements.txt", "Dockerfile"),  # its own Dockerfile (the sample app/)
        ("requirements.txt", "app.py"),  # a module, built with the collection's Dockerfile
        ("requirements.txt", "shop/wsgi.py"),  # a package
        ("requirements.txt", "shop/__init__.py"),
    ],
)
def test_app_source_dir_accepts(tmp_path, files):
    assert ok("app_source_dir", _app_dir(tmp_path, *files))


@pytest.mark.parametrize(
    "files",
    [
        ("Dockerfile",),  # no requirements.txt
        ("app.py",),
        ("requirements.txt",),  # neither a Dockerfile nor a module
        ("requirements.txt", "static/app.js", ".hidden/x.py", "deep/er/app.py"),
    ],
)
def test_app_source_dir_refuses(tmp_path, files):
    assert not ok("app_source_dir", _app_dir(tmp_path, *files))


def test_app_source_dir_is_an_existing_absolute_directory(tmp_path):
    assert ok("app_source_dir", str(REPO / "app"))
    assert ok("app_source_dir", str(REPO / "tests" / "fixtures" / "shop"))
    assert not ok("app_source_dir", "app")  # relative
    assert not ok("app_source_dir", str(tmp_path / "missing"))
    assert not ok("app_source_dir", str(_app_dir(tmp_path, "requirements.txt", "app.py")) + "/app.py")


@pytest.mark.parametrize("value", ["pyweb_app:app", "shop.wsgi:application", "_a.b_2.c:App"])
def test_wsgi_entry_point_accepts(value):
    assert ok("wsgi_entry_point", value)


@pytest.mark.parametrize(
    "value", ["pyweb_app", "shop/wsgi:app", "shop.wsgi:create_app()", "1app:app", "a:b:c", ""]
)
def test_wsgi_entry_point_refuses(value):
    assert not ok("wsgi_entry_point", value)


def test_the_jinja_tests_are_the_vocabulary():
    tests = JinjaTests().tests()
    assert set(tests) == {"docker_tag", "image_name", "image_reference", "ip_address", "port"}
    assert tests["port"](443) and not tests["port"](70000)
    assert FilterModule().filters()["check_report"] is check_report


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


# --- the tags of the argument specifications --------------------------------


def _option(*lines: str, **keys: Any) -> dict[str, Any]:
    return {"type": "str", "description": ["What it is.", *lines], **keys}


def test_tags_read_formats_and_ranges():
    found = tags("x", _option("Format: nginx_time, port", "Range: 1..80"))
    assert found.formats == ("nginx_time", "port")
    assert found.bounds == Bounds(1, 80)
    assert tags("x", _option("Range: 1.. or -1")).bounds == Bounds(1, None, -1)
    assert tags("x", _option()).formats == ()


def test_tags_refuse_unknown_formats_and_empty_ranges():
    with pytest.raises(ValueError, match="x: unknown format"):
        tags("x", _option("Format: nginx_tiem"))
    with pytest.raises(ValueError, match="lower or an upper bound"):
        tags("x", _option("Range: .."))


@pytest.mark.parametrize(
    ("bounds", "said"),
    [
        (Bounds(1, 80), "a whole number from 1 to 80"),
        (Bounds(0, None), "0 or more"),
        (Bounds(2, None), "at least 2"),
        (Bounds(None, 9), "at most 9"),
        (Bounds(1, None, -1), "at least 1, or -1"),
    ],
)
def test_bounds_say_what_is_allowed(bounds, said):
    assert bounds.allowed() == said


def test_bounds_take_whole_numbers_only():
    assert Bounds(1, 80).allows(2) and Bounds(1, 80).allows("80")
    assert not any(Bounds(1, 80).allows(v) for v in (0, 81, "two", 2.5, True, None))
    assert Bounds(1, None, -1).allows(-1) and not Bounds(1, None, -1).allows(0)


def test_describe_puts_tags_in_words():
    assert describe("Format: nginx_time") == f"Format: {FORMATS['nginx_time'].allowed}."
    assert describe("Range: 0..") == "Allowed: 0 or more."
    assert describe("Range: 1..254 or empty") == "Allowed: a whole number from 1 to 254, or empty."
    assert describe("Format: port or empty") == f"Format: {FORMATS['port'].allowed}, or empty."
    assert describe("Plain words.") == "Plain words."


# --- the checker ------------------------------------------------------------


def test_a_float_is_not_a_tag_even_though_ansible_makes_it_a_string():
    failures = check_option("v", _option("Format: docker_tag"), 1.1, "1.1")
    assert [f["value"] for f in failures] == [1.1]
    assert "YAML reads 1.10 as the number 1.1" in failures[0]["allowed"]


def test_a_range_is_checked_on_the_typed_value():
    assert check_option("n", _option("Range: 1..80", type="int"), "2", 2) == []
    (failure,) = check_option("n", _option("Range: 1..80", type="int", default=2), 0, 0)
    assert failure["fix"].startswith("set n to e.g. 2,")


def test_empty_is_allowed_only_where_the_tag_says_so():
    option = _option("Format: ipv4_address or empty", default="")
    assert check_option("vip", option, "", "") == []
    assert check_option("vip", _option("Format: ipv4_address", default=""), "", "")[0]["value"] == ""
    assert check_option("prio", _option("Range: 1..254 or empty"), "", "") == []
    assert check_option("vip", option, "fd00::1", "fd00::1")[0]["value"] == "fd00::1"


def test_a_no_log_value_is_never_shown():
    option = _option("Format: vrrp_password or empty", default="", no_log=True)
    (failure,) = check_option("pw", option, "muchtoolong1", "muchtoolong1")
    assert failure["value"] == "(12 characters, not shown)"
    assert "ansible-vault encrypt_string" in failure["fix"]
    assert "muchtoolong1" not in str(failure)


def test_a_mapping_shows_the_names_of_its_bad_entries_only():
    option = _option("Format: env_names, env_one_line", type="dict", default={}, no_log=True)
    value = {"1BAD": "fine", "GOOD": "line one\nINJECTED=1"}
    names, values = check_option("secrets", option, value, value)
    assert (names["var"], names["value"]) == ("secrets (names)", ["1BAD"])
    assert (values["var"], values["value"]) == ("secrets (values)", ["GOOD"])
    assert "INJECTED" not in str([names, values])


def test_a_list_shows_its_bad_elements():
    option = _option("Format: image_references", type="list", default=[])
    (failure,) = check_option("extra", option, ["Bad Image", "pyweb/nginx:trixie"], None)
    assert failure["value"] == ["Bad Image"]


def test_only_options_with_a_value_are_checked():
    options = {"a": _option("Range: 1.."), "b": _option("Range: 1..")}
    assert [f["var"] for f in check_options(options, {"a": 0}, {"a": 0})] == ["a"]


# --- every role's specification, read through the checker -------------------


def _options(path: Path) -> dict[str, dict[str, Any]]:
    specs = yaml.safe_load(path.read_text())["argument_specs"]
    return {name: option for entry in specs.values() for name, option in (entry.get("options") or {}).items()}


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.parts[-3])
def test_every_tag_of_every_role_names_the_vocabulary(path):
    for name, option in _options(path).items():
        tags(name, option)  # raises on an unknown format or an empty range


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.parts[-3])
def test_the_documented_defaults_pass_their_own_checks(path):
    options = _options(path)
    values = {
        name: option["default"]
        for name, option in options.items()
        if "default" in option and "{{" not in str(option["default"])
    }
    assert check_options(options, values, values) == []


def test_the_tagged_variables_cover_every_role():
    tagged = {
        path.parts[-3]
        for path in SPECS
        for name, option in _options(path).items()
        if tags(name, option).formats or tags(name, option).bounds
    }
    assert {"docker", "image", "stack", "balancer", "rollout"} <= tagged


def test_role_defaults_are_what_the_role_publishes():
    stack = role_defaults("stack")
    assert stack["stack_http_port"] == 80
    for role in ("stack", "balancer"):
        generated = yaml.safe_load((REPO / "roles" / role / "defaults" / "main.yml").read_text())
        assert {k: generated[k] for k in role_defaults(role)} == role_defaults(role)
    with pytest.raises(ValueError, match="no role 'nope'"):
        role_defaults("nope")
