"""Unit tests of the pure parts of the replica module and of module_utils/netns.py;
the swap itself runs against real containers in the Molecule scenarios."""

from __future__ import annotations

import json
import os

import pytest

from plugins.filter.layout import FilterModule as LayoutFilters
from plugins.module_utils.netns import (
    HostLock,
    NetnsError,
    connections_in,
    dnat_restore,
    dnat_rule_lines,
    write_atomic,
)
from plugins.modules.replica import (
    container_summary,
    health_verdict,
    read_routes,
    recreated_containers,
    routes_json,
    settled,
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
    assert (tmp_path / "f").read_text() == "b\n"
    assert oct(os.stat(path).st_mode & 0o777) == "0o644"


def test_routes_round_trip_in_the_format_site_yml_writes(tmp_path):
    routes = {"app_2": {"version": "1", "slot": "a"}, "app_1": {"slot": "b", "version": "2"}}
    (tmp_path / "replicas.json").write_text(routes_json(routes))
    assert read_routes(str(tmp_path)) == routes
    # What earlier releases wrote (Ansible's to_nice_json(indent=2) plus a
    # newline): the same bytes, so site.yml after an upgrade changes nothing.
    assert routes_json(routes) == json.dumps(routes, sort_keys=True, indent=2) + "\n"
    # The stack role writes the record through the same function (filter pyweb.ha.routes_json).
    assert LayoutFilters().filters()["routes_json"] is routes_json
    assert read_routes(str(tmp_path / "none")) == {}


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
    with HostLock(str(tmp_path), 1), pytest.raises(NetnsError, match="stayed taken"):  # noqa: SIM117
        with HostLock(str(tmp_path), 0.3):
            pass
    with HostLock(str(tmp_path), 0.3):
        pass


def test_dnat_restore_replaces_the_chain_in_one_commit():
    dnat = [{"name": "app_1", "vip": "172.30.0.171", "address": "172.30.0.91", "port": 8000}]
    text = dnat_restore(dnat, add_jump=True)
    assert text.splitlines() == [
        "*nat",
        ":PYWEB - [0:0]",
        "-A OUTPUT -j PYWEB",
        "-A PYWEB -d 172.30.0.171/32 -p tcp -m tcp --dport 8000 -j DNAT --to-destination 172.30.0.91:8000",
        "COMMIT",
    ]
    assert "-A OUTPUT" not in dnat_restore(dnat, add_jump=False)
    assert dnat_rule_lines(dnat) == text.splitlines()[3:4]


TCP = """  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:1F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000 10001 0 1
   1: 5B001EAC:1F40 02001EAC:D2F0 01 00000000:00000000 00:00000000 00000000 10001 0 2
   2: 0100007F:1F40 0100007F:A000 01 00000000:00000000 00:00000000 00000000 10001 0 3
   3: 5B001EAC:1F40 02001EAC:D2F2 08 00000000:00000000 00:00000000 00000000 10001 0 4
   4: 5B001EAC:D000 02001EAC:0050 01 00000000:00000000 00:00000000 00000000 10001 0 5
"""


def test_connections_in_counts_only_outside_connections_in_flight_to_the_port():
    # listen socket, one from Nginx (counted), the container's own health check,
    # one Nginx already closed (CLOSE_WAIT), and one outgoing: 1 in flight.
    assert connections_in([TCP], 8000) == 1
    assert connections_in([TCP], 9000) == 0


def test_connections_in_to_a_remote_endpoint():
    # from the balancer's namespace: connections to an app host's Nginx at 172.30.0.2:80
    assert connections_in([TCP], 0, remote="172.30.0.2:80") == 1  # the outgoing one
    table = TCP.replace("02001EAC:D2F0", "02001EAC:0050")
    assert connections_in([table], 0, remote="172.30.0.2:80") == 2


def test_recreated_containers_reads_what_compose_dry_run_would_recreate():
    # Output of `docker compose --dry-run up` (Compose 2.26) after app.env changed.
    output = """ DRY-RUN MODE -  Container pyweb-app_1_b-1  Recreate
 DRY-RUN MODE -  Container pyweb-net-1  Running
 DRY-RUN MODE -  Container pyweb-app_2_a-1  Recreate
 DRY-RUN MODE -  Container pyweb-app_1_b-1  Recreated
 DRY-RUN MODE -  Container 7eae59b9cf96_pyweb-app_1_b-1  Starting
"""
    assert recreated_containers(output) == {"pyweb-app_1_b-1", "pyweb-app_2_a-1"}
    assert recreated_containers(" DRY-RUN MODE -  Container pyweb-net-1  Running\n") == set()


def container(status: str = "running", health: str | None = None) -> dict:
    state: dict = {"Status": status}
    if health:
        state["Health"] = {"Status": health}
    return {"State": state}


def test_settled_when_every_container_runs_healthy_or_without_a_health_check():
    assert settled([container(), container(health="healthy")]) is True


@pytest.mark.parametrize(
    ("found", "why"),
    [
        ([], "no container at all"),
        ([container(), container("exited")], "a stopped container"),
        ([container(), container(health="starting")], "not healthy yet"),
        ([container(), container(health="unhealthy")], "unhealthy"),
    ],
)
def test_not_settled(found, why):
    assert settled(found) is False, why
