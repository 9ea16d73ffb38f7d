"""registry_ca_files: each registry's CA where Docker reads it at each pull;
docker_verdict: what `docker info` says of a host."""

from __future__ import annotations

import pytest

from plugins.filter.docker import docker_verdict, registry_ca_files


def test_each_registry_gets_its_directory_and_ca_crt():
    pem = "-----BEGIN CERTIFICATE-----\nMII\n-----END CERTIFICATE-----\n"
    wanted = registry_ca_files({"reg.example:5443": pem, "a.example": "A"})
    assert wanted == {
        "directories": [
            {"path": "/etc/docker/certs.d/a.example"},
            {"path": "/etc/docker/certs.d/reg.example:5443"},
        ],
        "files": [
            {"dest": "/etc/docker/certs.d/a.example/ca.crt", "content": "A"},
            {"dest": "/etc/docker/certs.d/reg.example:5443/ca.crt", "content": pem},
        ],
    }


def test_no_registry_no_file():
    assert registry_ca_files({}) == {"directories": [], "files": []}


COMPOSE = {"Name": "compose", "Version": "2.26.1", "Err": ""}


def info(rc: int = 0, stderr: str = "", **data: object) -> dict:
    base = {"ServerVersion": "26.1.5", "LiveRestoreEnabled": True, "ClientInfo": {"Plugins": [COMPOSE]}}
    return {"rc": rc, "stderr": stderr, "data": base | data if rc == 0 else {}}


def test_a_daemon_that_answers_as_configured_has_no_problem():
    verdict = docker_verdict(info(), "app1", True)
    assert verdict == {"summary": "Docker 26.1.5, Compose 2.26.1", "problems": []}


def test_a_daemon_that_does_not_answer_says_where_to_look():
    verdict = docker_verdict(info(1, "Cannot connect to the Docker daemon"), "app1", True)
    assert verdict["problems"] == [
        "`docker info` failed on app1 (rc=1): Cannot connect to the Docker daemon . "
        "See `journalctl -u docker` on the host."
    ]
    assert docker_verdict(info(ServerErrors=["boom"]), "app1", True)["problems"][0].endswith(
        " boom. See `journalctl -u docker` on the host."
    )


def test_another_live_restore_than_daemon_json_is_a_problem_except_in_a_dry_run():
    assert docker_verdict(info(LiveRestoreEnabled=False), "app1", True)["problems"] == [
        "dockerd on app1 reports LiveRestoreEnabled=False but /etc/docker/daemon.json sets "
        "live-restore=True; the daemon was not restarted with the new configuration."
    ]
    assert docker_verdict(info(LiveRestoreEnabled=False), "app1", True, check_mode=True)["problems"] == []


@pytest.mark.parametrize(
    "plugins",
    [[], [{"Name": "compose", "Version": "v1.29.2"}], [{"Name": "compose", "Version": "2.26.1", "Err": "x"}]],
)
def test_no_working_compose_v2_plugin_is_a_problem(plugins):
    (problem,) = docker_verdict(info(ClientInfo={"Plugins": plugins}), "app1", True)["problems"]
    assert problem.startswith("`docker info` on app1 lists no working Compose v2 plugin (")
    assert problem.endswith(
        "Install docker-compose-v2 (distribution) or docker-compose-plugin (Docker's repository)."
    )
