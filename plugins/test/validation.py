"""Jinja tests for the cross-variable rules of the roles (tasks/validate.yml)
and preflight: the formats of plugins/plugin_utils/input_check.py, the
vocabulary that the `Format:` tags of the argument specifications name. Each
answers a plain yes or no."""

from __future__ import annotations

from typing import Any

from ansible_collections.pyweb.ha.plugins.plugin_utils import input_check as formats


class TestModule:
    """pyweb.ha validation tests."""

    def tests(self) -> dict[str, Any]:
        return {
            "docker_tag": formats.docker_tag,
            "image_name": formats.image_name,
            "image_reference": formats.image_reference,
            "ip_address": formats.ip_address,
            "port": formats.port,
        }
