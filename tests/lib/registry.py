"""A private registry as users run one: the distribution registry (Debian's
docker-registry, image pyweb/registry) with TLS from its own CA and basic
auth, on a lab's network. The controller trusts the CA as an operator's
machine would (/etc/docker/certs.d/ADDRESS/ca.crt); the hosts are told by
the docker role (docker_registry_ca_certs). Used by the single scenario's
own-app test and by scripts/bench_shipping.py."""

from __future__ import annotations

import secrets
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

IMAGE = "pyweb/registry:trixie"
PORT = 5443
CERTS_D = Path("/etc/docker/certs.d")


@dataclass(frozen=True)
class Registry:
    name: str
    address: str  # host:port, as image names carry it
    ca_pem: str
    username: str
    password: str
    workdir: Path

    @property
    def prefix(self) -> str:
        return f"{self.address}/team"

    def stop(self) -> None:
        subprocess.run(["docker", "rm", "-f", "-v", self.name], capture_output=True, check=False)
        shutil.rmtree(CERTS_D / self.address, ignore_errors=True)

    def catalog(self) -> str:
        """The registry's repositories, asked with the credentials (curl on the controller)."""
        return _run(
            "curl", "-sS", "--cacert", str(self.workdir / "ca.crt"), "-u", f"{self.username}:{self.password}",
            f"https://{self.address}/v2/_catalog",
        )  # fmt: skip

    def anonymous_status(self) -> str:
        """The HTTP status of an anonymous request: 401 when auth is on (000: no answer)."""
        return _answer(
            "curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", str(self.workdir / "ca.crt"),
            f"https://{self.address}/v2/",
        )  # fmt: skip


def _run(*argv: str) -> str:
    return subprocess.run(argv, check=True, capture_output=True, text=True).stdout


def _answer(*argv: str) -> str:
    return subprocess.run(argv, check=False, capture_output=True, text=True).stdout


def _certificates(workdir: Path, ip: str) -> None:
    """A CA, and a server certificate for `ip` signed by it."""
    ca_key, ca_crt = workdir / "ca.key", workdir / "ca.crt"
    key, csr, crt = workdir / "registry.key", workdir / "registry.csr", workdir / "registry.crt"
    _run(
        "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-subj", "/CN=pyweb test CA", "-keyout", str(ca_key), "-out", str(ca_crt),
    )  # fmt: skip
    _run(
        "openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={ip}",
        "-keyout", str(key), "-out", str(csr),
    )  # fmt: skip
    extensions = workdir / "san.cnf"
    extensions.write_text(f"subjectAltName=IP:{ip}\nextendedKeyUsage=serverAuth\n")
    _run(
        "openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca_crt), "-CAkey", str(ca_key),
        "-CAcreateserial", "-days", "2", "-extfile", str(extensions), "-out", str(crt),
    )  # fmt: skip
    key.chmod(0o644)  # read by the registry's own user, in this test-only directory


def start(name: str, network: str, ip: str, workdir: Path) -> Registry:
    """Run the registry at ip:5443 on `network`, with TLS and a random password."""
    workdir.mkdir(parents=True, exist_ok=True)
    workdir.chmod(0o755)
    _certificates(workdir, ip)
    username, password = "deployer", secrets.token_urlsafe(18)
    line = _run("docker", "run", "--rm", "--entrypoint", "htpasswd", IMAGE, "-Bbn", username, password)
    (workdir / "htpasswd").write_text(line.strip() + "\n")
    (workdir / "htpasswd").chmod(0o644)
    subprocess.run(["docker", "rm", "-f", "-v", name], capture_output=True, check=False)
    _run(
        "docker", "run", "-d", "--name", name, "--network", network, "--ip", ip,
        "-v", f"{workdir}:/certs:ro",
        "-e", f"REGISTRY_HTTP_ADDR=0.0.0.0:{PORT}",
        "-e", "REGISTRY_HTTP_TLS_CERTIFICATE=/certs/registry.crt",
        "-e", "REGISTRY_HTTP_TLS_KEY=/certs/registry.key",
        "-e", "REGISTRY_AUTH=htpasswd",
        "-e", "REGISTRY_AUTH_HTPASSWD_REALM=pyweb",
        "-e", "REGISTRY_AUTH_HTPASSWD_PATH=/certs/htpasswd",
        IMAGE,
    )  # fmt: skip
    address = f"{ip}:{PORT}"
    (CERTS_D / address).mkdir(parents=True, exist_ok=True)
    shutil.copy(workdir / "ca.crt", CERTS_D / address / "ca.crt")
    registry = Registry(name, address, (workdir / "ca.crt").read_text(), username, password, workdir)
    deadline = time.monotonic() + 20
    while registry.anonymous_status() != "401":
        if time.monotonic() > deadline:
            raise RuntimeError(f"the registry {name} does not answer at https://{address}/v2/")
        time.sleep(0.25)
    return registry
