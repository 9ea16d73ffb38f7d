"""TLS termination at the balancers (self-signed for the lab): TLS 1.2 and 1.3
accepted, TLS 1.1 refused by the server, HTTP redirected, HSTS only on HTTPS,
on the floating address. Runs last: it re-runs site.yml with TLS on."""

from __future__ import annotations

import http.client
import json
import socket
import ssl

import pytest

from tests.lib import lab, playbook_output
from tests.lib.tls import pem_pair

BALANCERS = ["pyweb-cluster-lb", "pyweb-cluster-lb2"]
VIP = "172.31.250.100"  # group_vars/balancer.yml
TLS_VARS = '{"balancer_tls": true, "balancer_tls_self_signed": true}'


@pytest.fixture(scope="module")
def balancer_ip() -> str:
    result = lab.run_playbook("site.yml", "-e", TLS_VARS)
    assert result.returncode == 0, result.stdout[-3000:]
    # The change reaches the balancers one at a time (serial: 1): the
    # balancer play runs once per balancer, never both at the same moment.
    assert result.stdout.count("PLAY [Edge balancer in front of every app host]") == len(BALANCERS)
    return VIP


def context(version: ssl.TLSVersion) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the lab's certificate is self-signed
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")  # let the client offer old versions; the server must refuse
    ctx.minimum_version = version
    ctx.maximum_version = version
    return ctx


def https_get(ip: str, version: ssl.TLSVersion) -> tuple[int, dict[str, str], str]:
    conn = http.client.HTTPSConnection(ip, 443, timeout=5, context=context(version))
    try:
        conn.request("GET", "/")
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), conn.sock.version()
    finally:
        conn.close()


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_modern_tls_is_accepted_with_hsts(balancer_ip, version):
    status, headers, negotiated = https_get(balancer_ip, version)
    assert status == 200
    assert negotiated == version.name.replace("v1_", "v1.")
    assert headers["Strict-Transport-Security"].startswith("max-age=")
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Server"] == "nginx"


def test_tls_1_1_is_refused_by_the_server(balancer_ip):
    with (
        socket.create_connection((balancer_ip, 443), timeout=5) as raw,
        pytest.raises(ssl.SSLError) as refused,
    ):
        context(ssl.TLSVersion.TLSv1_1).wrap_socket(raw)
    assert (
        "PROTOCOL_VERSION" in str(refused.value).upper()
        or "UNSUPPORTED_PROTOCOL" in str(refused.value).upper()
    )


def test_http_redirects_to_https(balancer_ip):
    conn = http.client.HTTPConnection(balancer_ip, 80, timeout=5)
    conn.request("GET", "/some/path?q=1")
    resp = conn.getresponse()
    assert resp.status == 301
    assert resp.getheader("Location") == f"https://{balancer_ip}/some/path?q=1"
    assert resp.getheader("Strict-Transport-Security") is None


def self_signed(tmp_path, name: str, days: int) -> tuple[str, str]:
    """Files of a certificate (valid `days` from now; negative: already
    expired) and its key; their paths."""
    cert, key = pem_pair(days, name)
    cert_path, key_path = tmp_path / f"{name}.crt", tmp_path / f"{name}.key"
    cert_path.write_text(cert)
    key_path.write_text(key)
    return str(cert_path), str(key_path)


def balancer_tls_files() -> list[str]:
    return [
        lab.molecule_host(name).check_output(
            "sha256sum /opt/pyweb-balancer/nginx/tls/cert.pem /opt/pyweb-balancer/nginx/tls/key.pem"
        )
        for name in BALANCERS
    ]


def refused(tmp_path, cert: str, key: str, needle: str) -> None:
    """site.yml with a bad certificate stops in its validation, before any
    host changes (no deploy lease taken), and neither balancer's certificate
    changes."""
    before = balancer_tls_files()
    bad = json.dumps({"balancer_tls": True, "balancer_tls_cert": cert, "balancer_tls_key": key})
    result = lab.run_playbook("site.yml", "-e", bad)
    assert result.returncode != 0
    assert needle in result.stdout, result.stdout[-3000:]
    assert "Nothing was copied; the balancer keeps its certificate" in result.stdout
    assert "No host was contacted or changed" in result.stdout, result.stdout[-3000:]
    assert set(playbook_output.recap_changed(result.stdout).values()) == {0}, result.stdout[-3000:]
    assert balancer_tls_files() == before
    for app_host in ("pyweb-cluster-app1", "pyweb-cluster-app2"):
        assert not lab.molecule_host(app_host).file("/opt/pyweb/lease.json").exists, app_host
    for name in BALANCERS:
        status, _headers, _version = https_get(lab.container_ip(name), ssl.TLSVersion.TLSv1_3)
        assert status == 200, name


def test_a_garbage_certificate_is_refused_before_anything_is_copied(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_text("-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n")
    key.write_text("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
    refused(tmp_path, str(cert), str(key), "is not a PEM certificate and private key")


def test_a_key_of_another_certificate_is_refused(tmp_path):
    cert, _own_key = self_signed(tmp_path, "one", 30)
    _other_cert, other_key = self_signed(tmp_path, "two", 30)
    refused(tmp_path, cert, other_key, "is not the private key of balancer_tls_cert")


def test_an_expired_certificate_is_refused(tmp_path):
    cert, key = self_signed(tmp_path, "old", -1)
    refused(tmp_path, cert, key, "expired on")
