"""registry_ca_files: each registry's CA where Docker reads it at each pull."""

from __future__ import annotations

from plugins.filter.docker import registry_ca_files


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
