"""Rolling upgrades under load, cluster shape (balancer pair + 2 app hosts x 2
replicas): v1 -> v2 with no failed request while both hosts stay in the
balancer and every replica keeps serving; a broken v3 stopped at its first
successor, which never answers a client; a rollback to v1; status and a
later site.yml that changes nothing.

Two loads run across each playbook, at full speed with half keep-alive
clients and a quarter POSTs: 16 clients through the balancers' floating
address (held by whichever balancer the failovers left it on), and 8 straight
to app1's Nginx (bypassing the balancer, so the per-replica switch itself is
what is measured)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.lib import lab, playbook_output
from tests.lib.underload import (
    answered_per_second,
    assert_no_failed_request,
    load,
    run_steps_under_load,
    run_under_load,
    versions_answered,
)

APP_HOSTS = ["pyweb-cluster-app1", "pyweb-cluster-app2"]
BALANCERS = ["pyweb-cluster-lb", "pyweb-cluster-lb2"]
VIP = "172.31.250.100"  # group_vars/balancer.yml
PASSWORD_FILE = Path(os.environ["HOME"]) / ".cache/pyweb-ha/lab-vrrp-password"
REPLICAS = 2
RESULTS = Path(__file__).resolve().parent / "results"
PAIRS = {(h, f"app_{i}") for h in APP_HOSTS for i in range(1, REPLICAS + 1)}


@pytest.fixture(scope="module")
def lb_url() -> str:
    return f"http://{VIP}:80"


@pytest.fixture(scope="module")
def app1_url() -> str:
    return f"http://{lab.container_ip(APP_HOSTS[0])}:80"


def rollout(lb_url: str, app1_url: str, playbook: str, *args: str):
    return run_under_load(
        {"balancer": load(lb_url, 16), "app1-direct": load(app1_url, 8)}, playbook, *args, results=RESULTS
    )


def versions_served(url: str, count: int = 60) -> dict[tuple[str, str], set[str]]:
    seen: dict[tuple[str, str], set[str]] = {}
    for _attempt in range(count):
        answer = lab.http(f"{url}/")
        assert answer.status == 200, answer
        seen.setdefault((answer.body["host"], answer.body["replica"]), set()).add(answer.body["version"])
    return seen


def assert_fleet_serves(url: str, version: str) -> None:
    """Every replica of both hosts answers through url, all on version."""
    seen = versions_served(url)
    assert set(seen) == PAIRS
    assert all(v == {version} for v in seen.values()), seen


def agents_said(run, seconds: list[int]) -> str:
    """What the health agents of the balancers and app hosts logged around
    these seconds of the run: why a host or replica left, if one did."""
    since, until = run.wall(min(seconds)) - 4, run.wall(max(seconds)) + 2
    lines = []
    for name in (*BALANCERS, *APP_HOSTS):
        window = f"-o short-precise --no-pager -q --since @{since:.0f} --until @{until:.0f}"
        journal = lab.molecule_host(name).run(f"journalctl -u 'pyweb-agent@*' {window}")
        lines += [f"{name}: {line}" for line in journal.stdout.splitlines()]
    return "\n".join(lines) or "(the agents logged nothing then)"


def assert_capacity_held(run) -> None:
    """Both app hosts answered through the balancer in every second of the
    playbook, and both replicas of app1 answered its direct load in every
    second. When not, what the health agents said then is printed first
    (pytest shows it with the failure)."""
    window = (run.started, run.started + run.seconds)
    hosts = answered_per_second(run.records["balancer"], "host", *window)
    replicas = answered_per_second(run.records["app1-direct"], "replica", *window)
    wanted = {f"app_{i}" for i in range(1, REPLICAS + 1)}
    short_hosts = {s: h for s, h in hosts.items() if h != set(APP_HOSTS)}
    short_replicas = {s: r for s, r in replicas.items() if r != wanted}
    if short_hosts or short_replicas:
        print(agents_said(run, [*short_hosts, *short_replicas]))
    assert not short_hosts, short_hosts
    assert not short_replicas, short_replicas


def test_v1_runs_everywhere(lb_url):
    assert_fleet_serves(lb_url, "1.0.0")


def test_upgrade_to_v2_under_load_fails_no_request_and_keeps_capacity(lb_url, app1_url):
    run = rollout(lb_url, app1_url, "upgrade.yml", "-e", "app_version=2.0.0")
    assert run.result.returncode == 0, run.log()[-3000:]
    assert_no_failed_request(run)
    assert_capacity_held(run)
    assert_fleet_serves(lb_url, "2.0.0")
    # The deploy summary: every replica swapped, with its seconds.
    assert "swaps: 4, median" in run.log()
    for host in APP_HOSTS:
        assert f"{host}: 1.0.0 -> 2.0.0, ok, 2 swap(s)" in run.log()


def test_upgrade_is_not_repeated():
    result = lab.run_playbook("upgrade.yml", "-e", "app_version=2.0.0")
    assert result.returncode == 0, result.stdout[-3000:]
    assert set(playbook_output.recap_changed(result.stdout).values()) == {0}, result.stdout[-2000:]


def test_broken_v3_is_stopped_at_its_first_successor_which_no_client_sees(lb_url, app1_url):
    run = rollout(
        lb_url,
        app1_url,
        "upgrade.yml",
        "-e",
        "app_version=3.0.0",
        "-e",
        '{"image_build_args": {"APP_RELEASE_BROKEN": "1"}}',
    )
    assert run.result.returncode != 0
    message = run.log()
    assert (
        "Rollout stopped on pyweb-cluster-app1: replica app_1 failed its health gate on version 3.0.0"
        in message
    )
    assert "release built with APP_RELEASE_BROKEN" in message  # the failing health output
    assert "Its predecessor never stopped serving" in message
    assert_no_failed_request(run)
    assert_capacity_held(run)
    assert "3.0.0" not in versions_answered(run), "a client was answered by the broken release"
    assert_fleet_serves(lb_url, "2.0.0")
    # The successor is gone, and the second host was never touched.
    for host_name in APP_HOSTS:
        host = lab.molecule_host(host_name)
        images = {lab.inspect(host, c)["Config"]["Image"] for c in lab.replica_containers(host)}
        assert images == {"pyweb/app:2.0.0"}, (host_name, images)
        assert len(lab.replica_containers(host)) == REPLICAS


def test_rollback_to_v1_under_load_fails_no_request(lb_url, app1_url):
    run = rollout(lb_url, app1_url, "rollback.yml")
    assert run.result.returncode == 0, run.log()[-3000:]
    assert_no_failed_request(run)
    assert_capacity_held(run)
    assert_fleet_serves(lb_url, "1.0.0")


def test_a_second_rollback_changes_nothing():
    result = lab.run_playbook("rollback.yml")
    assert result.returncode == 0, result.stdout[-3000:]
    assert "rolled back to 1.0.0 already" in result.stdout
    assert set(playbook_output.recap_changed(result.stdout).values()) == {0}, result.stdout[-2000:]


def test_status_reports_every_replica():
    result = lab.run_playbook("status.yml")
    assert result.returncode == 0, result.stdout[-3000:]
    assert result.stdout.count("release: 1.0.0 (previous: 2.0.0") == len(APP_HOSTS)
    assert result.stdout.count("pyweb/app:1.0.0, running, healthy") == len(APP_HOSTS) * REPLICAS
    assert result.stdout.count(", serving)") == len(APP_HOSTS) * REPLICAS


class Background:
    """upgrade.yml running in the background, its output in a file."""

    def __init__(self, *args: str) -> None:
        RESULTS.mkdir(exist_ok=True)
        self.log = RESULTS / f"background-{time.monotonic_ns()}.log"
        env = {
            **os.environ,
            "ANSIBLE_COLLECTIONS_PATH": str(lab.REPO / ".collections"),
            "ANSIBLE_NOCOLOR": "1",
        }
        inventory = os.path.dirname(os.environ["MOLECULE_INVENTORY_FILE"])
        cmd = ["ansible-playbook", "-i", inventory, str(lab.REPO / "playbooks" / "upgrade.yml"), *args]
        with self.log.open("w") as out:
            self.process = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=lab.REPO)

    def output(self) -> str:
        return self.log.read_text()

    def reached(self, text: str, timeout: float = 180) -> None:
        lab.wait_for(lambda: text in self.output(), timeout=timeout)


def test_a_second_upgrade_or_a_site_run_while_one_runs_is_refused_and_names_the_holder(lb_url):
    first = Background("-e", "app_version=2.1.0")
    try:
        first.reached("Take or give back the lease")
        time.sleep(5)
        second = lab.run_playbook("upgrade.yml", "-e", "app_version=2.2.0")
        site = lab.run_playbook("site.yml")
    finally:
        first.process.wait(timeout=900)
    for refused in (second, site):
        assert refused.returncode != 0
        assert "another run holds the deploy lease of this host" in refused.stdout, refused.stdout[-3000:]
        assert "running upgrade.yml (target 2.1.0)" in refused.stdout
        assert set(playbook_output.recap_changed(refused.stdout).values()) == {0}, refused.stdout[-2000:]
    assert first.process.returncode == 0, first.output()[-3000:]
    seen = versions_served(lb_url)
    assert all(v == {"2.1.0"} for v in seen.values()), seen


def test_hosts_with_different_histories_roll_back_to_one_version(lb_url):
    # app1 alone on to 2.2.0: app1 ... 2.1.0 -> 2.2.0, app2 ... 1.0.0 -> 2.1.0.
    # Each host's own previous would split the fleet (2.1.0 and 1.0.0); the fleet goes to 2.1.0.
    result = lab.run_playbook("upgrade.yml", "--limit", APP_HOSTS[0], "-e", "app_version=2.2.0")
    assert result.returncode == 0, result.stdout[-3000:]
    result = lab.run_playbook("rollback.yml")
    assert result.returncode == 0, result.stdout[-3000:]
    assert "Rolling the fleet back to 2.1.0" in result.stdout
    assert_fleet_serves(lb_url, "2.1.0")


def killed(run: Background, text: str, count: int = 1, delay: float = 0.0) -> str:
    """SIGKILL ansible-playbook once its output shows text count times (and delay
    seconds more); its output."""
    lab.wait_for(lambda: run.output().count(text) >= count, timeout=600)
    time.sleep(delay)
    run.process.send_signal(signal.SIGKILL)
    run.process.wait(timeout=30)
    return run.output()


def test_an_upgrade_killed_at_three_points_under_load_converges_when_run_again(lb_url, app1_url):
    """upgrade.yml to 2.3.0 SIGKILLed while it ships, in the middle of a
    replica switch, and between hosts, each time run again; the last run
    converges: 2.3.0 on every replica, both hosts serving, no failed request
    over the whole sequence. The first kill's lease expires and is taken over;
    the others are broken the documented way."""
    upgrade = ("-e", "app_version=2.3.0", "-e", "stack_lease_ttl=12")
    outputs: list[str] = []

    def sequence():
        outputs.append(killed(Background(*upgrade), "Pull the layers this host lacks", delay=1))
        time.sleep(13)  # the killed run's lease expires
        outputs.append(killed(Background(*upgrade), "Swap a replica to its new version", delay=2))
        broken = (*upgrade, "-e", "pyweb_lease_break=true")
        outputs.append(killed(Background(*broken), "PLAY [Replace the replicas", count=2))
        return lab.run_playbook("upgrade.yml", *broken)

    run = run_steps_under_load({"balancer": load(lb_url, 16), "app1-direct": load(app1_url, 8)}, sequence)
    (RESULTS / "upgrade-killed-3-times.log").write_text("\n\n".join([*outputs, run.log()]))
    assert run.result.returncode == 0, run.log()[-3000:]
    assert "took over the deploy lease of a run that expired" in outputs[1]
    assert "took over the deploy lease of a run that was broken" in run.log()
    assert_no_failed_request(run)
    assert_fleet_serves(lb_url, "2.3.0")
    for host_name in APP_HOSTS:
        host = lab.molecule_host(host_name)
        assert len(lab.replica_containers(host)) == REPLICAS, host_name
        assert all(lab.health(host, name) == "healthy" for name in lab.replica_containers(host))
        # The broken 3.0.0 was shipped but never recorded: pruned; the history's images stay.
        history = json.loads(host.file("/opt/pyweb/release.json").content_string)["history"]
        tags = set(host.check_output("docker image ls pyweb/app --format '{{.Tag}}'").split())
        assert "3.0.0" not in tags and set(history) <= tags, (host_name, history, tags)


def test_site_after_rollouts_changes_nothing_and_never_prints_the_vrrp_password():
    """After the faults, failovers and rollouts, site.yml at its most verbose
    with --diff changes nothing on any host of either distribution (whichever
    balancer holds the address), reaches every host over SSH as the sudo user
    deploy, prints no VRRP password, and both balancers route alike (the same
    Nginx configuration and virtual addresses). The password file is root's
    only."""
    password = PASSWORD_FILE.read_text().strip()
    assert len(password) == 8
    result = lab.run_playbook("site.yml", "-vvv", "--diff")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    changed = playbook_output.recap_changed(output)
    assert set(changed) == {*APP_HOSTS, *BALANCERS} and set(changed.values()) == {0}, output[-3000:]
    assert password not in output
    # Over SSH, as deploy (not root), to every host's address; root through sudo.
    assert set(re.findall(r"ESTABLISH SSH CONNECTION FOR USER: (\S+)", output)) == {"deploy"}
    assert set(re.findall(r"<([0-9.]+)> ESTABLISH SSH CONNECTION", output)) == {
        lab.container_ip(name) for name in [*APP_HOSTS, *BALANCERS]
    }
    assert "ESTABLISH DOCKER" not in output and re.search(r"sudo -H -S -n +-u root ", output)
    systems = {
        name: lab.molecule_host(name).check_output(". /etc/os-release && echo $ID $VERSION_ID")
        for name in [*APP_HOSTS, *BALANCERS]
    }
    assert sorted(set(systems.values())) == ["debian 13", "ubuntu 24.04"], systems
    configs = set()
    for name in BALANCERS:
        balancer = lab.molecule_host(name)
        assert balancer.check_output("stat -c '%a %U' /etc/keepalived/pyweb-vrrp-auth.conf") == "600 root"
        assert password not in balancer.check_output("journalctl --no-pager -q -u keepalived")
        # The routing: Nginx's configuration (but its first line, which names
        # the host) and the app hosts' virtual addresses (drains move them).
        configs.add(
            balancer.check_output(
                "grep -v '^# Edge balancer ' /opt/pyweb-balancer/nginx/nginx.conf"
                " | cat - /opt/pyweb-balancer/dnat.json | sha256sum"
            )
        )
    assert len(configs) == 1, configs
