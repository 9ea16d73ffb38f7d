"""Files the docker role writes from a mapping: the CA certificate of each
registry with a private CA, where Docker reads it at each pull
(/etc/docker/certs.d/HOST[:PORT]/ca.crt)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

CERTS_D = "/etc/docker/certs.d"


def registry_ca_files(certs: Mapping[str, str]) -> dict[str, list[dict[str, str]]]:
    """pyweb.ha.files directories and files for {registry: PEM}."""
    directories = [{"path": f"{CERTS_D}/{registry}"} for registry in sorted(certs)]
    files = [
        {"dest": f"{CERTS_D}/{registry}/ca.crt", "content": certs[registry]} for registry in sorted(certs)
    ]
    return {"directories": directories, "files": files}


class FilterModule:
    """pyweb.ha docker filters."""

    def filters(self) -> dict[str, Any]:
        return {"registry_ca_files": registry_ca_files}
