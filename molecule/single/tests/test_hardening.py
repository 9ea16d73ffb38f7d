"""What is hardened by default, as a user would check it: `docker inspect` of
every container, the daemon's settings, and the HTTP answers of the host Nginx."""

from __future__ import annotations

import json

import pytest

from tests.lib import lab

testinfra_hosts = ["ansible://app"]
HOST = "pyweb-single-app1"


@pytest.fixture(scope="module")
def url() -> str:
    return f"http://{lab.container_ip(HOST)}:80"


def containers(host) -> list[str]:
    return [*lab.replica_containers(host), "pyweb-nginx-1", "pyweb-net-1"]


def test_replicas_run_unprivileged_and_read_only(host):
    for name in lab.replica_containers(host):
        c = lab.inspect(host, name)
        hc = c["HostConfig"]
        assert c["Config"]["User"] not in ("", "root", "0", "0:0"), name
        assert hc["ReadonlyRootfs"] is True, name
        assert hc["CapDrop"] == ["ALL"], name
        assert not hc["CapAdd"], name
        assert "no-new-privileges:true" in hc["SecurityOpt"], name
        assert hc["Memory"] > 0 and hc["PidsLimit"] > 0, name
        assert not hc["PortBindings"], name
        assert hc["Privileged"] is False, name
        assert "/tmp" in hc["Tmpfs"], name


def test_nginx_is_minimal_too(host):
    c = lab.inspect(host, "pyweb-nginx-1")
    hc = c["HostConfig"]
    assert c["Config"]["User"] == "33:33"
    assert hc["ReadonlyRootfs"] is True
    assert hc["CapDrop"] == ["ALL"] and not hc["CapAdd"]
    assert "no-new-privileges:true" in hc["SecurityOpt"]
    assert hc["Memory"] > 0 and hc["PidsLimit"] > 0


def test_network_holder_runs_nothing_but_sleep_unprivileged(host):
    c = lab.inspect(host, "pyweb-net-1")
    hc = c["HostConfig"]
    assert c["Config"]["Cmd"] == ["sleep", "infinity"]
    assert c["Config"]["User"] == "65534:65534"
    assert hc["ReadonlyRootfs"] is True
    assert hc["CapDrop"] == ["ALL"] and not hc["CapAdd"]
    assert "no-new-privileges:true" in hc["SecurityOpt"]


def test_no_container_mounts_the_docker_socket(host):
    for name in containers(host):
        mounts = lab.inspect(host, name)["Mounts"]
        assert not [m for m in mounts if "docker.sock" in m.get("Source", "")], name


def test_replicas_answer_from_a_non_root_process(host):
    out = host.check_output("docker exec pyweb-app_1_a-1 id -u")
    assert out.strip() == "10001"


def test_daemon_is_hardened(host):
    info = json.loads(host.check_output("docker info --format '{{json .}}'"))
    assert info["LiveRestoreEnabled"] is True
    assert info["LoggingDriver"] == "json-file"
    daemon = json.loads(host.file("/etc/docker/daemon.json").content_string)
    assert daemon["log-opts"]["max-size"] and daemon["log-opts"]["max-file"]
    assert daemon["no-new-privileges"] is True
    assert daemon["icc"] is False
    assert not [h for h in daemon.get("hosts", []) if h.startswith("tcp://")]
    listening = host.check_output("ss -ltnH")
    assert ":2375 " not in listening and ":2376 " not in listening
    bridge = json.loads(host.check_output("docker network inspect bridge"))[0]
    assert bridge["Options"].get("com.docker.network.bridge.enable_icc") == "false"


def test_app_env_file_is_root_only(host):
    env = host.file("/opt/pyweb/app.env")
    assert env.user == "root" and env.group == "root"
    assert env.mode == 0o600


SECURITY_HEADERS = ("X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy", "X-Request-ID")


@pytest.mark.parametrize(("path", "status"), [("/", 200), ("/nope", 404), ("/healthz", 200)])
def test_nginx_hides_its_version_and_sends_security_headers(url, path, status):
    answer = lab.http(f"{url}{path}")
    assert answer.status == status
    assert answer.headers["Server"] == "nginx"
    for header in SECURITY_HEADERS:
        assert header in answer.headers, (path, header)
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert "Strict-Transport-Security" not in answer.headers


def test_large_bodies_get_413_with_headers(url):
    answer = lab.http(f"{url}/echo", method="POST", data=b"x" * (2 * 1024 * 1024))
    assert answer.status == 413
    assert answer.headers["X-Frame-Options"] == "DENY"
    assert answer.headers["Server"] == "nginx"
