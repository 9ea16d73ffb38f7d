"""A user's own app, deployed as the README says, on the same host beside the
sample app: tests/fixtures/shop (its own Dockerfile, module
shop.wsgi:application, port 9000, health at /ready reporting its release
under "release"), as a second stack (project shop, port 8081). The image
goes through a private registry with TLS (its own CA) and basic auth, in a
container on the lab's network (tests/lib/registry.py): pushed once by the
controller, pulled by the host; the registry password is vaulted and never
printed. Then the app is upgraded under load, one replica at a time, with
no failed request."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.lib import lab, playbook_output
from tests.lib import registry as private_registry
from tests.lib.underload import assert_no_failed_request, load, run_under_load

HOST = "pyweb-single-app1"
REGISTRY_NAME = "pyweb-single-registry"
REGISTRY_IP = "172.31.248.30"
PORT = 8081
RESULTS = Path(__file__).resolve().parent / "results"
SHOP = lab.REPO / "tests" / "fixtures" / "shop"
BUILD_TASK = "pyweb.ha.image : Build the app image shop:1.0.1"
# The steps of a build, included only when the image is missing or out of date.
BUILD_STEPS = "pyweb.ha.image : Build the image once on the controller"


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory):
    started = private_registry.start(
        REGISTRY_NAME, "pyweb-molecule", REGISTRY_IP, tmp_path_factory.mktemp("registry")
    )
    yield started
    started.stop()


@pytest.fixture(scope="module")
def shop(registry, vault, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, ...]:
    """The flags of every playbook run of the shop: its variables, with the
    registry password vaulted with the scenario's vault password."""
    directory = tmp_path_factory.mktemp("shop")
    password_file = vault.flags[vault.flags.index("--vault-password-file") + 1]
    encrypted = subprocess.run(
        ["ansible-vault", "encrypt_string", "--vault-password-file", password_file,
         "--name", "image_registry_password", registry.password],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    ca = "\n".join("    " + line for line in registry.ca_pem.strip().splitlines())
    variables = directory / "shop.yml"
    variables.write_text(
        f"""app_source_dir: {SHOP}
app_image: shop
app_version: "1.0.0"
app_port: 9000
app_health_path: /ready
app_health_version_key: release
stack_project_name: shop
stack_project_dir: /opt/shop
stack_http_port: {PORT}
stack_network_subnet: 172.30.1.0/24
image_transfer: registry
image_registry: {registry.prefix}
image_registry_username: {registry.username}
docker_registry_ca_certs:
  "{registry.address}": |
{ca}
{encrypted}"""
    )
    return ("--vault-password-file", password_file, "-e", f"@{variables}")


@pytest.fixture(scope="module")
def url() -> str:
    return f"http://{lab.container_ip(HOST)}:{PORT}"


def shop_versions(url: str, count: int = 24) -> dict[str, set[str]]:
    """Versions each replica of the shop answers with."""
    seen: dict[str, set[str]] = {}
    for _attempt in range(count):
        answer = lab.http(f"{url}/")
        assert answer.status == 200, answer
        assert answer.body["service"] == "shop", answer.body
        seen.setdefault(answer.body["replica"], set()).add(answer.body["version"])
    return seen


def host_docker(*args: str) -> str:
    return subprocess.run(
        ["docker", "exec", HOST, "docker", *args], check=True, capture_output=True, text=True
    ).stdout


def test_your_app_goes_through_a_private_registry_and_serves_beside_the_sample(registry, shop, url):
    result = lab.run_playbook("site.yml", "-v", *shop)
    assert result.returncode == 0, result.stdout[-3000:]
    assert registry.password not in result.stdout + result.stderr
    assert registry.anonymous_status() == "401"
    assert '"team/shop"' in registry.catalog()
    assert shop_versions(url) == {"app_1": {"1.0.0"}, "app_2": {"1.0.0"}}
    ready = lab.http(f"{url}/ready")
    assert ready.status == 200 and ready.body["release"] == "1.0.0", ready
    images = host_docker("images", "--format", "{{.Repository}}:{{.Tag}}").split()
    assert "shop:1.0.0" in images
    assert not [image for image in images if image.startswith(registry.address)], images
    # The sample app on port 80 still serves.
    assert lab.http(f"http://{lab.container_ip(HOST)}:80/").body.get("version")


def test_your_app_upgrades_under_load_with_no_failed_request(shop, url):
    run = run_under_load(
        {"shop": load(url, 16)}, "upgrade.yml", *shop, "-e", "app_version=1.0.1", results=RESULTS
    )
    assert run.result.returncode == 0, run.log()[-3000:]
    assert_no_failed_request(run)
    assert shop_versions(url) == {"app_1": {"1.0.1"}, "app_2": {"1.0.1"}}


def test_a_source_changed_under_the_same_version_is_built_shipped_and_rolled(shop, url, tmp_path):
    """README "Deploy your own app": the image is built again when something
    it is made of changed (label pyweb.ha.build-key). A changed source under
    the version already deployed is built, pushed over the registry's tag of
    that version, pulled, and rolled out one replica at a time under load; the
    next run builds nothing and changes nothing."""
    source = tmp_path / "shop"
    shutil.copytree(SHOP, source)
    wsgi = source / "shop" / "wsgi.py"
    # identity()'s first field (the module's docstring names the fields too).
    field = '        "service": "shop",\n'
    patched_source = wsgi.read_text().replace(field, field + '        "patched": "yes",\n')
    assert patched_source.count('"patched": "yes"') == 1, "identity() of the fixture changed"
    wsgi.write_text(patched_source)
    flags = (*shop, "-e", f"app_source_dir={source}", "-e", "app_version=1.0.1")
    run = run_under_load({"shop": load(url, 16)}, "site.yml", *flags)
    assert run.result.returncode == 0, run.log()[-3000:]
    assert playbook_output.first_outcome(run.result.stdout, BUILD_TASK) == "changed"
    assert_no_failed_request(run)
    patched: dict[str, str] = {}
    for _attempt in range(24):
        answer = lab.http(f"{url}/")
        assert answer.status == 200 and answer.body["version"] == "1.0.1", answer
        patched[answer.body["replica"]] = answer.body.get("patched", "no")
    assert patched == {"app_1": "yes", "app_2": "yes"}
    again = lab.run_playbook("site.yml", *flags)
    assert again.returncode == 0, again.stdout[-3000:]
    assert playbook_output.first_outcome(again.stdout, BUILD_STEPS) == "skipping"
    assert f"TASK [{BUILD_TASK}]" not in again.stdout
    assert playbook_output.recap_changed(again.stdout)[HOST] == 0, again.stdout[-3000:]
