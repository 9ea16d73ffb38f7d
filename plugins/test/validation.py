"""Jinja tests for the input checks of the roles (tasks/validate.yml): Docker
image tags and references, Compose project names, Nginx and Compose durations,
sizes and IP addresses. Each answers a plain yes or no; the roles' asserts say
what is allowed and how to fix it."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

# https://github.com/distribution/reference (grammar.go)
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|-+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[0-9A-Fa-f:]+\])(?::[0-9]+)?"
_NAME = rf"(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9A-Fa-f]{32,}"
NAME_MAX = 255
PORT_RE = re.compile(r"[0-9]{1,5}")

TAG_RE = re.compile(_TAG)
DOMAIN_RE = re.compile(_DOMAIN)
PATH_COMPONENT_RE = re.compile(_PATH_COMPONENT)
REFERENCE_RE = re.compile(rf"(?P<name>{_NAME})(?::{_TAG})?(?:@{_DIGEST})?")
# Compose project names (docker compose rejects anything else).
COMPOSE_PROJECT_RE = re.compile(r"[a-z0-9][a-z0-9_-]*")
# Nginx time: a number of seconds, or a number with a unit (ms, s, m, h).
NGINX_TIME_RE = re.compile(r"[0-9]+(?:ms|s|m|h)?")
# Nginx size: bytes, or a number with k, m or g (either case).
NGINX_SIZE_RE = re.compile(r"[0-9]+[kKmMgG]?")
# Compose durations (Go syntax, a unit is required): 2s, 500ms, 1m30s, 1.5s.
COMPOSE_DURATION_RE = re.compile(r"(?:[0-9]+(?:\.[0-9]+)?(?:ns|us|ms|s|m|h))+")
# Compose/Docker sizes (mem_limit): bytes, or a number with a unit: 256m, 1g, 512MiB, 1.5GB.
DOCKER_SIZE_RE = re.compile(r"[0-9]+(?:\.[0-9]+)?(?:[kKmMgGtTpP][iI]?)?[bB]?")


def _text(value: Any) -> str | None:
    """The string a template renders for value, for strings and integers only:
    a float such as 1.10 (YAML for 1.1) or a boolean is never a valid tag,
    size or duration, and is refused rather than guessed at."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return value
    return None


def _full(pattern: re.Pattern[str], value: Any) -> bool:
    text = _text(value)
    return text is not None and pattern.fullmatch(text) is not None


def _valid_name(name: str) -> bool:
    """Docker's rule: the first part is a registry host only when it has a
    '.' or a ':' or is localhost; every other part is lower-case."""
    if len(name) > NAME_MAX:
        return False
    parts = name.split("/")
    first = parts[0]
    if len(parts) > 1 and ("." in first or ":" in first or first == "localhost"):
        if DOMAIN_RE.fullmatch(first) is None:
            return False
        parts = parts[1:]
    return all(PATH_COMPONENT_RE.fullmatch(part) is not None for part in parts)


def docker_tag(value: Any) -> bool:
    """A Docker image tag: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}."""
    return _full(TAG_RE, value)


def image_name(value: Any) -> bool:
    """An image repository without tag, optionally with a registry host
    (pyweb/app, registry.example.com:5000/team/app)."""
    text = _text(value)
    return text is not None and _valid_name(text)


def image_reference(value: Any) -> bool:
    """An image reference: NAME, NAME:TAG, NAME@DIGEST or NAME:TAG@DIGEST."""
    text = _text(value)
    if text is None:
        return False
    match = REFERENCE_RE.fullmatch(text)
    return match is not None and _valid_name(match.group("name"))


def compose_project(value: Any) -> bool:
    """A Compose project name: lower-case letters, digits, '-' and '_',
    starting with a letter or digit."""
    return _full(COMPOSE_PROJECT_RE, value)


def nginx_time(value: Any) -> bool:
    """An Nginx time: 30, 500ms, 5s, 2m, 1h."""
    return _full(NGINX_TIME_RE, value)


def nginx_size(value: Any) -> bool:
    """An Nginx size: 1048576, 512k, 1m, 1g."""
    return _full(NGINX_SIZE_RE, value)


def compose_duration(value: Any) -> bool:
    """A Compose duration with a unit: 2s, 500ms, 1m30s."""
    return _full(COMPOSE_DURATION_RE, value)


def docker_size(value: Any) -> bool:
    """A Docker memory size: 268435456, 256m, 1g, 512MiB."""
    return _full(DOCKER_SIZE_RE, value)


def ip_address(value: Any) -> bool:
    """An IPv4 or IPv6 address (no network, no host name)."""
    text = _text(value)
    if text is None:
        return False
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def port(value: Any) -> bool:
    """A TCP port number, 1 to 65535 (an integer or a string of digits)."""
    text = _text(value)
    return text is not None and PORT_RE.fullmatch(text) is not None and 1 <= int(text) <= 65535


class TestModule:
    """pyweb.ha validation tests."""

    def tests(self) -> dict[str, Any]:
        return {
            "docker_tag": docker_tag,
            "image_name": image_name,
            "image_reference": image_reference,
            "compose_project": compose_project,
            "nginx_time": nginx_time,
            "nginx_size": nginx_size,
            "compose_duration": compose_duration,
            "docker_size": docker_size,
            "ip_address": ip_address,
            "port": port,
        }
