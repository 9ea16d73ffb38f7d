"""Release decisions made once for the whole fleet (rollback.yml)."""

from __future__ import annotations

from typing import Any


def rollback_target(records: list[dict[str, Any]], requested: str = "") -> tuple[str, str]:
    """(target, why) of a fleet rollback, decided once for every host: the
    requested version (it must be in a host's history), else the first
    recorded host's: where it is when it was rolled back already (a second
    rollback changes nothing), else its previous version. ('', why) when
    there is nothing to roll back to."""
    recorded = [r for r in records if r and r.get("version")]
    if not recorded:
        return "", "no release is recorded on any app host; deploy with playbooks/site.yml first"
    if requested:
        known = {v for r in recorded for v in r.get("history", [])}
        if requested not in known:
            return (
                "",
                f"{requested} is not in the release history of any app host ({', '.join(sorted(known))})",
            )
        return requested, f"requested with -e rollback_to={requested}"
    first = recorded[0]
    if first.get("rolled_back"):
        return str(first["version"]), f"the fleet was rolled back to {first['version']} already"
    if not first.get("previous"):
        return "", "no previous release is recorded; there is nothing to roll back to"
    return str(first["previous"]), f"the release before {first['version']}"


def prunable_images(
    images: list[dict[str, Any]], containers: list[dict[str, Any]], name: str, keep: list[str]
) -> list[str]:
    """Tags of repository name on a host (community.docker.docker_host_info
    images and containers) that are neither a kept version nor the image of a
    container, running or not: what pruning may remove."""
    kept = {f"{name}:{version}" for version in keep}
    in_use = {str(c.get("Image", "")) for c in containers}
    tags = {tag for image in images for tag in image.get("RepoTags") or [] if tag.startswith(f"{name}:")}
    return sorted(tags - kept - in_use)


class FilterModule:
    """pyweb.ha release filters."""

    def filters(self) -> dict[str, Any]:
        return {"rollback_target": rollback_target, "prunable_images": prunable_images}
