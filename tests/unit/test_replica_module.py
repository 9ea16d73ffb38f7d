"""Unit tests of the pure parts of the replica module (plugins/modules/replica.py);
the swap itself runs against real containers in the Molecule scenarios."""

from __future__ import annotations

import json
import os

import pytest

from plugins.modules.replica import (
    HostLock,
    SwapError,
    child_pids,
    container_summary,
    health_verdict,
    read_routes,
    routes_json,
    write_atomic,
)


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        ({"status": 200, "body": '{"status": "ok", "version": "2.0.0"}'}, ""),
        ({"status": 500, "body": '{"reason": "broken"}'}, "answered 500 (expected 200)"),
        ({"status": 0, "body": "ConnectionRefusedError()"}, "answered no answer"),
        ({"status": 200, "body": '{"version": "1.0.0"}'}, "reports version '1.0.0', expected '2.0.0'"),
        ({"status": 200, "body": "ok"}, "answer is not JSON"),
    ],
)
def test_health_verdict(answer, why):
    verdict = health_verdict(answer, 200, "version", "2.0.0")
    assert verdict.startswith(why) if why else verdict == ""


def test_health_verdict_without_version_check_needs_only_the_status():
    assert health_verdict({"status": 204, "body": ""}, 204, "", "2.0.0") == ""


def test_write_atomic_reports_a_change_only_when_the_content_differs(tmp_path):
    path = str(tmp_path / "f")
    assert write_atomic(path, "a\n") is True
    assert write_atomic(path, "a\n") is False
    assert write_atomic(path, "b\n") is True
    assert open(path).read() == "b\n"
    assert oct(os.stat(path).st_mode & 0o777) == "0o644"


def test_routes_round_trip_in_the_format_site_yml_writes(tmp_path):
    routes = {"app_2": {"version": "1", "slot": "a"}, "app_1": {"slot": "b", "version": "2"}}
    (tmp_path / "replicas.json").write_text(routes_json(routes))
    assert read_routes(str(tmp_path)) == routes
    # Ansible's to_nice_json(indent=2) plus a newline: the same bytes, so site.yml changes nothing.
    assert routes_json(routes) == json.dumps(routes, sort_keys=True, indent=2) + "\n"
    assert read_routes(str(tmp_path / "none")) == {}


def test_child_pids_reads_parents_from_proc(tmp_path):
    for pid, ppid, comm in [(10, 1, "nginx"), (11, 10, "nginx: worker (x) y"), (12, 10, "w"), (13, 2, "z")]:
        (tmp_path / str(pid)).mkdir()
        (tmp_path / str(pid) / "stat").write_text(f"{pid} ({comm}) S {ppid} 0 0\n")
    (tmp_path / "self").mkdir()
    assert child_pids(10, str(tmp_path)) == {11, 12}


def test_container_summary_never_carries_the_environment():
    info = {
        "Name": "/pyweb-app_1_b-1",
        "Config": {
            "Image": "pyweb/app:2.0.0",
            "Env": ["APP_SECRET_TOKEN=hunter2"],
            "Labels": {"com.docker.compose.service": "app_1_b", "pyweb.replica": "app_1", "pyweb.slot": "b"},
        },
        "State": {"Status": "running", "Health": {"Status": "healthy"}, "StartedAt": "T"},
        "NetworkSettings": {"Networks": {"backend": {"IPAddress": "172.30.0.131"}}},
    }
    summary = container_summary(info)
    assert "hunter2" not in json.dumps(summary)
    assert summary["version"] == "2.0.0"
    assert summary["replica"] == "app_1"
    assert summary["addresses"] == ["172.30.0.131"]


def test_host_lock_is_exclusive(tmp_path):
    with HostLock(str(tmp_path), 1), pytest.raises(SwapError, match="stayed taken"):  # noqa: SIM117
        with HostLock(str(tmp_path), 0.3):
            pass
    with HostLock(str(tmp_path), 0.3):
        pass
