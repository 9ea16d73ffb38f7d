"""Filters of the docker role: the files it writes from a mapping (the CA
certificate of each registry with a private CA, where Docker reads it at each
pull: /etc/docker/certs.d/HOST[:PORT]/ca.crt), and its verdict on what
`docker info` reports."""

from __future__ import annotations

import re
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


def _compose_plugin(data: Mapping[str, Any]) -> Mapping[str, Any]:
    plugins = (data.get("ClientInfo") or {}).get("Plugins") or []
    return next((plugin for plugin in plugins if plugin.get("Name") == "compose"), {})


def docker_verdict(
    info: Mapping[str, Any], host: str, live_restore: bool, check_mode: bool = False
) -> dict[str, Any]:
    """What `docker info` says of a host (pyweb.ha.host_state's docker_info:
    rc, stderr, data): `problems`, one message per problem (the daemon does not
    answer; it runs with another live-restore than daemon.json sets, which a
    dry run does not restart it to apply; no working Compose v2 plugin), and
    `summary`, the Docker and Compose versions."""
    data: Mapping[str, Any] = info.get("data") or {}
    compose = _compose_plugin(data)
    summary = f"Docker {data.get('ServerVersion') or '?'}, Compose {compose.get('Version') or '?'}"
    server_errors = data.get("ServerErrors") or []
    if info.get("rc") != 0 or server_errors or not data.get("ServerVersion"):
        return {
            "summary": summary,
            "problems": [
                f"`docker info` failed on {host} (rc={info.get('rc')}): {info.get('stderr') or ''} "
                f"{' '.join(server_errors)}. See `journalctl -u docker` on the host."
            ],
        }
    problems = []
    if not check_mode and data.get("LiveRestoreEnabled") != live_restore:
        problems.append(
            f"dockerd on {host} reports LiveRestoreEnabled={data.get('LiveRestoreEnabled')} but "
            f"/etc/docker/daemon.json sets live-restore={live_restore}; the daemon was not restarted "
            "with the new configuration."
        )
    if not re.match(r"v?2[.]", str(compose.get("Version") or "")) or compose.get("Err"):
        problems.append(
            f"`docker info` on {host} lists no working Compose v2 plugin ({dict(compose) or 'none'}). "
            "Install docker-compose-v2 (distribution) or docker-compose-plugin (Docker's repository)."
        )
    return {"summary": summary, "problems": problems}


class FilterModule:
    """pyweb.ha docker filters."""

    def filters(self) -> dict[str, Any]:
        return {"docker_verdict": docker_verdict, "registry_ca_files": registry_ca_files}
