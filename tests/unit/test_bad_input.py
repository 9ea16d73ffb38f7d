"""Bad input stops site.yml, upgrade.yml and rollback.yml in their first play,
before Ansible contacts or changes any host, with a message that names the
host and the variable.

Fast: the inventories point at containers that do not exist
(pyweb-badinput-*), so a run that got past the input checks would fail to
connect. Every case is one ansible-playbook run; the runs are started together
(the module fixture) and each test reads its own result."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.lib.ansible_cli import ansible_command, ansible_env
from tests.lib.tls import pem_pair

REPO = Path(__file__).resolve().parents[2]
VALIDATION_PLAY = "Validate the inventory before any change"
APP1, APP2, LB = "pyweb-badinput-app1", "pyweb-badinput-app2", "pyweb-badinput-lb"
Inventory = dict[str, Any]


def base_inventory() -> Inventory:
    """An app host and a balancer, valid as they are (few hosts: fast runs)."""
    return {
        "all": {
            "children": {
                "app": {"hosts": {APP1: {}}},
                "balancer": {"hosts": {LB: {}}},
            },
            # The Docker connection ships archives (layers ride on SSH).
            "vars": {
                "ansible_connection": "community.docker.docker",
                "app_version": "1.0.0",
                "image_transfer": "archive",
            },
        }
    }


def group_vars(group: str, **values: Any) -> Callable[[Inventory], None]:
    def change(inventory: Inventory) -> None:
        target = inventory["all"] if group == "all" else inventory["all"]["children"][group]
        target.setdefault("vars", {}).update(values)

    return change


def host_vars(host: str, **values: Any) -> Callable[[Inventory], None]:
    def change(inventory: Inventory) -> None:
        for child in inventory["all"]["children"].values():
            if host in child["hosts"]:
                child["hosts"][host] = {**(child["hosts"][host] or {}), **values}

    return change


def second_app_host(inventory: Inventory) -> None:
    inventory["all"]["children"]["app"]["hosts"][APP2] = {}


def also_in_app(host: str) -> Callable[[Inventory], None]:
    def change(inventory: Inventory) -> None:
        inventory["all"]["children"]["app"]["hosts"][host] = {}

    return change


LB2 = "pyweb-badinput-lb2"


def second_balancer(inventory: Inventory) -> None:
    inventory["all"]["children"]["balancer"]["hosts"][LB2] = {}


def no_app_hosts(inventory: Inventory) -> None:
    inventory["all"]["children"]["app"]["hosts"] = {}


@dataclass(frozen=True)
class Case:
    id: str
    changes: tuple[Callable[[Inventory], None], ...] = ()
    expect: tuple[str, ...] = ()
    playbook: str = "site.yml"
    extra: tuple[str, ...] = ()
    ok: bool = False
    files: dict[str, str] = field(default_factory=dict)
    # Hosts whose own input is fine: they may only fail at the final stop.
    clean: tuple[str, ...] = ()
    # Text that must not appear in the output (a secret).
    absent: tuple[str, ...] = ()


CURRENT, OTHER, EXPIRED = pem_pair(30), pem_pair(30), pem_pair(-1)


def tls_files(cert: str, key: str) -> dict[str, str]:
    return {"cert.pem": cert, "key.pem": key}


def tls_on(inventory: Inventory) -> None:
    group_vars(
        "balancer", balancer_tls=True, balancer_tls_cert="{tmp}/cert.pem", balancer_tls_key="{tmp}/key.pem"
    )(inventory)


# `{tmp}` in a value is the case's own directory (files for TLS cases live there).
CASES = [
    Case(
        "secret-with-a-newline",
        (group_vars("app", stack_app_secrets={"APP_SECRET_TOKEN": "line one\nINJECTED=1"}),),
        (APP1, "stack_app_secrets (values)", "APP_SECRET_TOKEN", "on one line"),
    ),
    Case(
        "rollout-batch-bad",
        extra=("-e", "app_version=2.0.0", "-e", "rollout_batch=0"),
        playbook="upgrade.yml",
        expect=(APP1, 'rollout_batch is "0"', "percentage"),
    ),
    Case("replicas-zero", (group_vars("app", stack_replicas=0),), (APP1, "stack_replicas is 0", "1 to 80")),
    Case(
        "release-history-too-short",
        (group_vars("app", stack_release_history=1),),
        (APP1, "stack_release_history is 1", "at least 2", "stack_release_history to e.g. 5"),
    ),
    Case(
        "replicas-not-a-number",
        (second_app_host, host_vars(APP2, stack_replicas="two")),
        (APP2, "stack_replicas", "two", "int"),
        clean=(APP1, LB),
    ),
    Case("port-out-of-range", (host_vars(APP1, stack_http_port=70000),), (APP1, "stack_http_port is 70000")),
    Case(
        "colocated-port-clash",
        (also_in_app(LB), group_vars("all", preflight_allow_colocated=True)),
        (LB, "stack_http_port is 80", "balancer_http_port", "stack_http_port: 8081"),
    ),
    Case(
        "version-tag-with-space",
        (group_vars("all", app_version="v1 beta"),),
        ("app_version", '"v1 beta"', "Docker image tag"),
    ),
    Case("version-yaml-float", (group_vars("all", app_version=1.10),), ("app_version is 1.1", "quoted")),
    Case(
        "wsgi-server-unknown",
        (group_vars("app", stack_wsgi_server="waitress"),),
        (APP1, "stack_wsgi_server", "waitress", "gunicorn, uwsgi"),
    ),
    Case(
        "tls-without-cert",
        (group_vars("balancer", balancer_tls=True),),
        (LB, 'balancer_tls_cert is ""', 'balancer_tls_key is ""', "balancer_tls_self_signed"),
    ),
    Case(
        "tls-cert-missing",
        (
            second_app_host,
            group_vars(
                "balancer",
                balancer_tls=True,
                balancer_tls_cert="{tmp}/missing/cert.pem",
                balancer_tls_key="{tmp}/key.pem",
            ),
        ),
        (LB, "balancer_tls_cert", "missing/cert.pem", "it does not exist"),
        files={"key.pem": "not checked here\n"},
    ),
    # The certificate and key are read on the controller: refused before any
    # host changes, not when the balancer play reaches them.
    Case(
        "tls-not-pem",
        (second_app_host, tls_on),
        (LB, "is not a PEM certificate and private key", "Nothing was copied"),
        files=tls_files("-----BEGIN CERTIFICATE-----\nnot one\n-----END CERTIFICATE-----\n", CURRENT[1]),
    ),
    Case(
        "tls-key-of-another-certificate",
        (second_app_host, tls_on),
        (LB, "balancer_tls_key", "is not the private key of balancer_tls_cert", "Nothing was copied"),
        files=tls_files(CURRENT[0], OTHER[1]),
        absent=(OTHER[1].splitlines()[1],),
    ),
    Case(
        "tls-expired",
        (second_app_host, tls_on),
        (LB, "balancer_tls_cert", "expired on", "Fix: give a current certificate and its own key"),
        files=tls_files(*EXPIRED),
    ),
    Case("empty-app-group", (no_app_hosts,), ("group app", "at least one app host")),
    Case(
        "balancer-colocated-without-flag",
        (also_in_app(LB),),
        (LB, "hosts in both app and balancer", "preflight_allow_colocated: true"),
    ),
    Case(
        "subnet-host-bits",
        (group_vars("app", stack_network_subnet="10.20.30.1/24"),),
        (APP1, "stack_network_subnet", "has host bits set"),
    ),
    Case(
        "subnet-too-small",
        (group_vars("app", stack_network_subnet="10.20.30.0/28", stack_replicas=8),),
        (APP1, "stack_network_subnet", "8 replicas in two slots need at least"),
    ),
    Case(
        "grace-period-not-above-graceful-timeout",
        (host_vars(APP1, stack_stop_grace_period=20, stack_app_graceful_timeout=20),),
        (APP1, "stack_stop_grace_period is 20", "more than stack_app_graceful_timeout (20)"),
    ),
    Case(
        "registry-mode-without-registry",
        (group_vars("all", image_transfer="registry"),),
        (APP1, 'image_registry is ""', "image_transfer: layers"),
    ),
    Case(
        "layers-without-ssh",
        (group_vars("all", image_transfer="layers"),),
        (APP1, "layers only over the ssh connection", "community.docker.docker", "image_transfer: archive"),
    ),
    Case(
        "docker-install-from-unknown",
        (group_vars("all", docker_install_from="foo"),),
        (APP1, "docker_install_from", "foo", "distribution, docker"),
    ),
    Case(
        "docker-api-on-tcp",
        (group_vars("all", docker_daemon_options={"hosts": ["fd://", "tcp://0.0.0.0:2375"]}),),
        (APP1, LB, "tcp://0.0.0.0:2375", "docker_allow_tcp_socket: true"),
    ),
    Case(
        "duration-with-words",
        (
            group_vars("app", stack_nginx_fail_timeout="5 sec"),
            group_vars("balancer", balancer_read_timeout="30 secs"),
        ),
        (APP1, 'stack_nginx_fail_timeout is "5 sec"', LB, 'balancer_read_timeout is "30 secs"', "Nginx time"),
    ),
    Case(
        "https-port-equals-http-port",
        (group_vars("balancer", balancer_tls=True, balancer_tls_self_signed=True, balancer_https_port=80),),
        (LB, "balancer_https_port is 80", "other than balancer_http_port"),
    ),
    # A value is checked even where the current settings do not use it: the
    # mistake would otherwise surface the day TLS is turned on.
    Case(
        "https-port-out-of-range-while-tls-off",
        (group_vars("balancer", balancer_https_port=70000),),
        (LB, "balancer_https_port is 70000", "a TCP port from 1 to 65535", "balancer_https_port to e.g. 443"),
    ),
    Case(
        "base-image-invalid-while-not-building",
        (group_vars("all", image_build=False, image_base_image="Python 3"),),
        (APP1, 'image_base_image is "Python 3"', "an image reference"),
    ),
    # Every invalid setting of a role on a host comes in one message.
    Case(
        "three-settings-one-message",
        (host_vars(APP1, stack_replicas=81, stack_app_memory_limit="lots", stack_health_path="healthz"),),
        (
            APP1,
            "3 invalid settings",
            "stack_replicas is 81",
            'stack_app_memory_limit is "lots"',
            'stack_health_path is "healthz"',
        ),
    ),
    Case(
        "rate-limit-negative",
        (group_vars("balancer", balancer_rate_limit=-1),),
        (LB, "balancer_rate_limit is -1", "0 or more"),
    ),
    Case(
        "upgrade-bad-target-version",
        playbook="upgrade.yml",
        extra=("-e", '{"rollout_version": "2.0 beta"}'),
        expect=(APP1, 'rollout_version is "2.0 beta"', "Docker image tag"),
    ),
    Case(
        "rollback-replicas-zero",
        (group_vars("app", stack_replicas=0),),
        playbook="rollback.yml",
        expect=(APP1, "stack_replicas is 0"),
    ),
    Case(
        "balancer-pair-without-floating-address",
        (second_balancer,),
        (LB, LB2, "balancer_vip", "one floating address", "balancer_vip: 192.0.2.100"),
    ),
    Case(
        # The password is never shown, only its length.
        "vrrp-password-too-long",
        (
            second_balancer,
            group_vars("balancer", balancer_vip="10.9.9.100", balancer_vrrp_password="muchtoolong1"),
        ),
        (
            LB,
            'balancer_vrrp_password is "(12 characters, not shown)"',
            "1 to 8",
            "ansible-vault encrypt_string",
        ),
        absent=("muchtoolong1",),
    ),
    Case(
        "floating-address-not-ipv4",
        (group_vars("balancer", balancer_vip="fd00::100", balancer_vrrp_password="pw123456"),),
        (LB, 'balancer_vip is "fd00::100"', "IPv4 address"),
    ),
    Case(
        "balancer-pair-with-two-passwords",
        (
            second_balancer,
            group_vars("balancer", balancer_vip="10.9.9.100", balancer_vrrp_password="pw123456"),
            host_vars(LB2, balancer_vrrp_password="other123"),
        ),
        ("balancer_vrrp_router_id and balancer_vrrp_password", "2 different password(s)"),
        absent=("pw123456", "other123"),
    ),
    # A valid inventory passes. Its hosts do not exist, so only the checks
    # that need no connection run (offline).
    Case(
        "valid-inventory",
        (
            second_app_host,
            group_vars(
                "balancer",
                balancer_tls=True,
                balancer_tls_cert="{tmp}/cert.pem",
                balancer_tls_key="{tmp}/key.pem",
                balancer_rate_limit=50,
            ),
            group_vars("app", stack_replicas=3, stack_app_memory_limit="512m"),
        ),
        playbook="validate.yml",
        extra=("-e", "pyweb_validate_offline=true"),
        ok=True,
        files=tls_files(*CURRENT),
    ),
    Case(
        "valid-balancer-pair",
        (
            second_balancer,
            group_vars("balancer", balancer_vip="10.9.9.100", balancer_vrrp_password="pw123456"),
        ),
        playbook="validate.yml",
        extra=("-e", "pyweb_validate_offline=true"),
        ok=True,
    ),
    Case(
        "valid-colocated-inventory",
        (
            also_in_app(LB),
            group_vars("all", preflight_allow_colocated=True),
            host_vars(LB, stack_http_port=8081),
        ),
        playbook="validate.yml",
        extra=("-e", "pyweb_validate_offline=true"),
        ok=True,
    ),
]


@dataclass
class Run:
    returncode: int
    output: str


def _fill(value: Any, tmp: Path) -> Any:
    if isinstance(value, str):
        return value.replace("{tmp}", str(tmp))
    if isinstance(value, dict):
        return {k: _fill(v, tmp) for k, v in value.items()}
    return value


def _run(case: Case, tmp: Path, command: str) -> Run:
    tmp.mkdir(parents=True, exist_ok=True)
    for name, text in case.files.items():
        (tmp / name).write_text(text)
    inventory = base_inventory()
    for change in case.changes:
        change(inventory)
    (tmp / "hosts.yml").write_text(yaml.safe_dump(_fill(inventory, tmp), sort_keys=False))
    env = ansible_env(tmp, ANSIBLE_GATHERING="explicit", ANSIBLE_RETRY_FILES_ENABLED="0")
    args = [command, "-i", str(tmp / "hosts.yml"), str(REPO / "playbooks" / case.playbook), *case.extra]
    done = subprocess.run(args, capture_output=True, text=True, env=env, cwd=REPO, timeout=300, check=False)
    (tmp / "output.log").write_text(done.stdout + done.stderr)
    return Run(done.returncode, done.stdout + done.stderr)


@pytest.fixture(scope="module")
def runs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    """Run the selected cases at the same time (each run is mostly waiting
    on its own Python start-up and templating)."""
    selected = {
        item.callspec.params["case"].id
        for item in request.session.items
        if hasattr(item, "callspec") and isinstance(item.callspec.params.get("case"), Case)
    }
    cases = [case for case in CASES if case.id in selected]
    command = ansible_command()
    root = tmp_path_factory.mktemp("badinput")
    workers = max(2, min(len(cases), (os.cpu_count() or 1)))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {case.id: pool.submit(_run, case, root / case.id, command) for case in cases}
        return {name: future.result() for name, future in futures.items()}


def plays(output: str) -> list[str]:
    return re.findall(r"^PLAY \[(.*)\] \*+$", output, re.M)


def recap(output: str) -> dict[str, dict[str, int]]:
    """Counters per host from the PLAY RECAP."""
    rows = re.findall(r"^(\S+)\s+:\s+((?:\w+=\d+\s*)+)$", output, re.M)
    return {host: {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", counters)} for host, counters in rows}


def failures(output: str) -> list[tuple[str, str]]:
    """(task, host) of every fatal/failed line."""
    found, task = [], "?"
    for line in output.splitlines():
        header = re.match(r"^TASK \[(.*)\] \*+$", line)
        if header:
            task = header.group(1)
            continue
        failed = re.match(r"^(?:fatal|failed): \[([^\]]+)\]", line)
        if failed:
            found.append((task, failed.group(1)))
    return found


@pytest.mark.parametrize("case", [c for c in CASES if not c.ok], ids=lambda c: c.id)
def test_bad_input_stops_before_any_change(case: Case, runs: dict[str, Run]) -> None:
    run = runs[case.id]
    tail = run.output[-4000:]
    assert run.returncode != 0, tail
    # Only the validation play ran: no later play started, no host was contacted.
    assert plays(run.output) == [VALIDATION_PLAY], tail
    assert "UNREACHABLE" not in run.output, tail
    assert "Gathering Facts" not in run.output, tail
    counters = recap(run.output)
    assert counters, tail
    assert all(c["changed"] == 0 for c in counters.values()), counters
    assert any(c["failed"] > 0 for c in counters.values()), counters
    # Every failure comes from a check of the validation play.
    found = failures(run.output)
    assert found, tail
    for task, host in found:
        assert re.search(r"(^|: )(Check|Refuse|Stop) ", task), task
        if host in case.clean:
            assert task.startswith("Stop "), (task, host)
    for text in case.expect:
        assert text in run.output, f"{text!r} not in output:\n{tail}"
    for text in case.absent:
        assert text not in run.output, f"{text!r} shown in the output"


@pytest.mark.parametrize("case", [c for c in CASES if c.ok], ids=lambda c: c.id)
def test_valid_inventory_passes(case: Case, runs: dict[str, Run]) -> None:
    run = runs[case.id]
    tail = run.output[-4000:]
    assert run.returncode == 0, tail
    assert plays(run.output) == [VALIDATION_PLAY], tail
    counters = recap(run.output)
    assert set(counters) >= {APP1, LB}, counters
    assert all(c["changed"] == 0 and c["failed"] == 0 for c in counters.values()), counters


def test_the_example_inventory_validates_offline(tmp_path: Path) -> None:
    """inventories/example as a user copies it: with their certificate files
    in files/ and their vaulted VRRP password, the validation passes without
    contacting any host; the connection settings are the SSH ones."""
    example = tmp_path / "prod"
    shutil.copytree(REPO / "inventories" / "example", example)
    (example / "files").mkdir()
    cert, key = CURRENT
    (example / "files" / "fullchain.pem").write_text(cert)
    (example / "files" / "privkey.pem").write_text(key)
    env = ansible_env(tmp_path)
    done = subprocess.run(
        [
            ansible_command(),
            "-i",
            str(example / "hosts.yml"),
            str(REPO / "playbooks" / "validate.yml"),
            "-e",
            "pyweb_validate_offline=true",
            "-e",
            "vault_balancer_vrrp_password=pw123456",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert recap(done.stdout).keys() == {
        "web1.example.com",
        "web2.example.com",
        "lb1.example.com",
        "lb2.example.com",
    }
    ansible_inventory = ansible_command("ansible-inventory")
    inventory = subprocess.run(
        [ansible_inventory, "-i", str(example / "hosts.yml"), "--list"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    hostvars = yaml.safe_load(inventory.stdout)["_meta"]["hostvars"]
    for name, values in hostvars.items():
        assert values.get("ansible_connection", "ssh") == "ssh", name
        assert (values["ansible_user"], values["ansible_become"]) == ("deploy", True), name
