"""What an image is, independent of the Docker that stores it: its layers
(uncompressed digests) and the run configuration. The image ID is not: a
Docker that keeps images in containerd's store (the default of Docker 29,
Ubuntu 24.04's noble-updates) gives a loaded image another ID than the
controller's Docker does, so comparing IDs would ship it again on every run."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

CONFIG_FIELDS = ("Cmd", "Entrypoint", "Env", "Labels", "User", "WorkingDir", "StopSignal", "Healthcheck")
KEYED_FIELDS = ("ExposedPorts", "Volumes")


def image_content_key(info: Mapping[str, Any]) -> str:
    """sha256 of the layers and run configuration of an image, as pyweb.ha.images
    returns it (the Engine API's image inspect)."""
    config = info.get("Config") or {}
    content = {
        "layers": list((info.get("RootFS") or {}).get("Layers") or []),
        **{field: config.get(field) or None for field in CONFIG_FIELDS},
        **{field: sorted(config.get(field) or {}) for field in KEYED_FIELDS},
    }
    return "sha256:" + hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def lacking_images(
    controller: list[Mapping[str, Any]], host: list[Mapping[str, Any]], refs: list[str]
) -> list[str]:
    """The names of `refs` whose image (as pyweb.ha.images returned it on the controller)
    the host holds under no name with the same content, in `refs`' order."""
    held = {image_content_key(image) for image in host}
    lacking = set()
    for image in controller:
        if image_content_key(image) not in held:
            lacking.update(set(image.get("RepoTags") or []) & set(refs))
    return [ref for ref in refs if ref in lacking]


def image_info_of(ref: str, images: list[Mapping[str, Any]]) -> Mapping[str, Any]:
    """The image that a reference names (NAME[:TAG], :latest when untagged, or
    an ID), among what pyweb.ha.images returned; {} when none is there."""
    name = str(ref)
    last = name.rsplit("/", 1)[-1]
    tagged = name if (":" in last or "@" in last) else f"{name}:latest"
    for info in images:
        if tagged in (info.get("RepoTags") or []) or name == info.get("Id"):
            return info
    return {}


def image_id_of(ref: str, images: list[Mapping[str, Any]]) -> str:
    """The ID of the image that a reference names (image_info_of); '' when none is there."""
    return str(image_info_of(ref, images).get("Id", ""))


class FilterModule:
    """pyweb.ha image filters."""

    def filters(self) -> dict[str, Any]:
        return {
            "image_content_key": image_content_key,
            "image_id_of": image_id_of,
            "image_info_of": image_info_of,
            "lacking_images": lacking_images,
        }
