# Copyright: (c) 2026, pyweb.ha maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Input checks of the roles, driven by their meta/argument_specs.yml.

Each variable is described once, in its role's argument specification: type
and choices as Ansible knows them, and two tags among its description lines
that this module reads:

    Format: nginx_time          (one or more names of FORMATS, comma-separated)
    Range: 1..80                (MIN..MAX, either side optional; "or -1" adds a value)
    Format: ipv4_address or empty   ("or empty": "" means not used, e.g. no pair)

FORMATS is the vocabulary (what a value must look like, said once for every
role); check_options() applies a specification to a host's values and
check_report() turns failures into one message that names the host, each
variable, its value, what is allowed and how to fix it."""

from __future__ import annotations

import copy
import functools
import ipaddress
import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

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

TAG_RE = re.compile(_TAG)
DOMAIN_RE = re.compile(_DOMAIN)
PATH_COMPONENT_RE = re.compile(_PATH_COMPONENT)
REFERENCE_RE = re.compile(rf"(?P<name>{_NAME})(?::{_TAG})?(?:@{_DIGEST})?")
COMPOSE_PROJECT_RE = re.compile(r"[a-z0-9][a-z0-9_-]*")
CONTAINER_NAME_RE = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*")
NGINX_TIME_RE = re.compile(r"[0-9]+(?:ms|s|m|h)?")
NGINX_SIZE_RE = re.compile(r"[0-9]+[kKmMgG]?")
COMPOSE_DURATION_RE = re.compile(r"(?:[0-9]+(?:\.[0-9]+)?(?:ns|us|ms|s|m|h))+")
DOCKER_SIZE_RE = re.compile(r"[0-9]+(?:\.[0-9]+)?(?:[kKmMgGtTpP][iI]?)?[bB]?")
LOG_SIZE_RE = re.compile(r"[0-9]+[kmg]?")
PORT_RE = re.compile(r"[0-9]{1,5}")
ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
URL_PATH_RE = re.compile(r"/[^ ]*")
INTERFACE_RE = re.compile(r"[A-Za-z0-9_.:@-]{1,15}")
VRRP_PASSWORD_RE = re.compile(r"[!-~]{1,8}")
PYTHON_VERSION_RE = re.compile(r"3[.][0-9]+")
BATCH_RE = re.compile(r"[1-9][0-9]*|(?:[1-9][0-9]?|100)%")
_IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_]*"
WSGI_ENTRY_POINT_RE = re.compile(rf"{_IDENTIFIER}(?:\.{_IDENTIFIER})*:{_IDENTIFIER}")

FORMAT_TAG = re.compile(r"Format: ([a-z0-9_]+(?:, *[a-z0-9_]+)*)( or empty)?\.?")
RANGE_TAG = re.compile(r"Range: (-?[0-9]+)?\.\.(-?[0-9]+)?(?: or (-?[0-9]+))?( or empty)?\.?")


def text(value: Any) -> str | None:
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


def full(pattern: re.Pattern[str], value: Any) -> bool:
    rendered = text(value)
    return rendered is not None and pattern.fullmatch(rendered) is not None


def matches(pattern: re.Pattern[str]) -> Callable[[Any], bool]:
    return lambda value: full(pattern, value)


def valid_name(name: str) -> bool:
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
    return full(TAG_RE, value)


def image_name(value: Any) -> bool:
    rendered = text(value)
    return rendered is not None and valid_name(rendered)


def image_reference(value: Any) -> bool:
    rendered = text(value)
    if rendered is None:
        return False
    match = REFERENCE_RE.fullmatch(rendered)
    return match is not None and valid_name(match.group("name"))


def registry_prefix(value: Any) -> bool:
    rendered = text(value)
    return rendered is not None and rendered != "" and image_name(rendered + "/x")


def ip_address(value: Any) -> bool:
    rendered = text(value)
    if rendered is None:
        return False
    try:
        ipaddress.ip_address(rendered)
    except ValueError:
        return False
    return True


def ipv4_address(value: Any) -> bool:
    return ip_address(value) and ":" not in str(value)


def port(value: Any) -> bool:
    rendered = text(value)
    return rendered is not None and PORT_RE.fullmatch(rendered) is not None and 1 <= int(rendered) <= 65535


def absolute_path(value: Any) -> bool:
    rendered = text(value)
    return rendered is not None and rendered.startswith("/")


def controller_dir(value: Any) -> bool:
    """Relative paths are found later, the Ansible way; absolute ones must exist."""
    rendered = text(value)
    return rendered is not None and (not rendered.startswith("/") or os.path.isdir(rendered))


def _python_module(directory: str) -> bool:
    """A .py file at the top of the directory, or a package (a directory with .py files) there."""
    with os.scandir(directory) as entries:
        for entry in entries:
            if entry.is_file() and entry.name.endswith(".py"):
                return True
            if entry.is_dir() and not entry.name.startswith("."):
                with os.scandir(entry.path) as inside:
                    if any(item.is_file() and item.name.endswith(".py") for item in inside):
                        return True
    return False


def app_source_dir(value: Any) -> bool:
    """An absolute directory with a requirements.txt, and either a Dockerfile
    (built as it is) or a Python module (built with the collection's Dockerfile)."""
    rendered = text(value)
    if rendered is None or not rendered.startswith("/") or not os.path.isdir(rendered):
        return False
    if not os.path.isfile(os.path.join(rendered, "requirements.txt")):
        return False
    return os.path.isfile(os.path.join(rendered, "Dockerfile")) or _python_module(rendered)


def python_version(value: Any) -> bool:
    """A string only: YAML reads 3.10 as the number 3.1."""
    return isinstance(value, str) and PYTHON_VERSION_RE.fullmatch(value) is not None


def batch(value: Any) -> bool:
    return full(BATCH_RE, value)


def _all(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda value: isinstance(value, list) and all(check(item) for item in value)


def _failing(check: Callable[[Any], bool]) -> Callable[[Any], Any]:
    return lambda value: [item for item in value if not check(item)] if isinstance(value, list) else value


def _env_name(name: Any) -> bool:
    return isinstance(name, str) and ENV_NAME_RE.fullmatch(name) is not None


def _bad_env_names(value: Any) -> Any:
    return [name for name in value if not _env_name(name)] if isinstance(value, Mapping) else value


def _multiline(value: Any) -> Any:
    """Names (never values: they may be secrets) of the entries on more than one line."""
    if not isinstance(value, Mapping):
        return value
    return [name for name, item in value.items() if isinstance(item, str) and ("\n" in item or "\r" in item)]


@dataclass(frozen=True)
class Format:
    """A named format: what it allows (said to the operator), an example for
    the fix and the check. For lists and mappings, `offending` picks the part
    to show (the bad elements or entry names) and `part` labels it."""

    allowed: str
    example: str
    accepts: Callable[[Any], bool]
    offending: Callable[[Any], Any] | None = None
    part: str = ""


_TAG_TEXT = (
    "a Docker image tag: 1 to 128 letters, digits, '_', '.' or '-', not starting with '.' or '-'"
    " (a quoted string: YAML reads 1.10 as the number 1.1)"
)
_NGINX_TIME = "an Nginx time (a number with an optional unit ms, s, m or h, e.g. 5s)"

FORMATS: dict[str, Format] = {
    "docker_tag": Format(_TAG_TEXT, '"1.0.0"', docker_tag),
    "image_name": Format(
        "an image repository without tag (e.g. pyweb/app or registry.example.com/team/app)",
        "pyweb/app",
        image_name,
    ),
    "image_reference": Format(
        "an image reference (NAME, NAME:TAG or NAME@DIGEST, e.g. pyweb/nginx:trixie)",
        "pyweb/nginx:trixie",
        image_reference,
    ),
    "image_references": Format(
        "a list of image references (NAME:TAG, e.g. pyweb/nginx:trixie); the listed ones are not",
        "[pyweb/nginx:trixie]",
        _all(image_reference),
        _failing(image_reference),
    ),
    "registry_prefix": Format(
        "a registry prefix (host[:port][/path], no scheme, no trailing '/')",
        "registry.example.com/team",
        registry_prefix,
    ),
    "compose_project": Format(
        "a Compose project name (lower-case letters, digits, '-' and '_', starting with a letter or digit)",
        "pyweb",
        matches(COMPOSE_PROJECT_RE),
    ),
    "container_name": Format(
        "a Docker container or volume name"
        " (letters, digits, '_', '.' and '-', starting with a letter or digit)",
        "pyweb-layers",
        matches(CONTAINER_NAME_RE),
    ),
    "absolute_path": Format("an absolute path on the host", "/opt/pyweb", absolute_path),
    "controller_dir": Format(
        "a directory on the controller (absolute, or relative to the playbook)",
        "files/static",
        controller_dir,
    ),
    "app_source_dir": Format(
        "an absolute directory on the controller with a requirements.txt, and either a Dockerfile"
        " or a WSGI module (a .py file or a package at its top, built with the collection's Dockerfile)",
        "/home/me/myapp",
        app_source_dir,
    ),
    "wsgi_entry_point": Format(
        "a WSGI entry point, module:callable (a dotted module name, e.g. shop.wsgi:application)",
        "shop.wsgi:application",
        matches(WSGI_ENTRY_POINT_RE),
    ),
    "nginx_time": Format(_NGINX_TIME, "5s", matches(NGINX_TIME_RE)),
    "nginx_size": Format(
        "an Nginx size (bytes, or a number with k, m or g, e.g. 1m)", "1m", matches(NGINX_SIZE_RE)
    ),
    "compose_duration": Format(
        "a duration with a unit (e.g. 500ms, 2s, 1m30s)", "2s", matches(COMPOSE_DURATION_RE)
    ),
    "docker_size": Format(
        "a size in bytes or with a unit (e.g. 256m, 1g, 512MiB)", "256m", matches(DOCKER_SIZE_RE)
    ),
    "log_size": Format(
        "a size: a number with an optional k, m or g suffix (e.g. 10m)", "10m", matches(LOG_SIZE_RE)
    ),
    "port": Format("a TCP port from 1 to 65535", "8080", port),
    "ip_address": Format("an IP address of the host (0.0.0.0 for every IPv4 address)", "0.0.0.0", ip_address),
    "ipv4_address": Format("an IPv4 address", "192.0.2.100", ipv4_address),
    "url_path": Format("a URL path starting with '/', without spaces", "/healthz", matches(URL_PATH_RE)),
    "interface_name": Format(
        "a network interface name (at most 15 characters)", "eth0", matches(INTERFACE_RE)
    ),
    "vrrp_password": Format(
        "1 to 8 printable characters without spaces (VRRP uses the first 8 only)",
        "",
        matches(VRRP_PASSWORD_RE),
    ),
    "python_version": Format(
        "a quoted Python 3 version, major.minor (YAML reads 3.10 as the number 3.1)", '"3.13"', python_version
    ),
    "batch": Format("a number of app hosts (1 or more) or a percentage from 1% to 100%", "1 (or 30%)", batch),
    "env_names": Format(
        "a mapping whose names are environment variable names"
        " (letters, digits and '_', not starting with a digit)",
        "",
        lambda v: isinstance(v, Mapping) and not _bad_env_names(v),
        _bad_env_names,
        part="names",
    ),
    "env_one_line": Format(
        "values on one line (an env file cannot carry a newline; encode them, e.g. base64)",
        "",
        lambda v: isinstance(v, Mapping) and not _multiline(v),
        _multiline,
        part="values",
    ),
}


@dataclass(frozen=True)
class Bounds:
    """Range: MIN..MAX (either side optional), plus one extra allowed value."""

    low: int | None
    high: int | None
    extra: int | None = None

    def allows(self, value: Any) -> bool:
        if isinstance(value, str) and re.fullmatch(r"-?[0-9]+", value.strip()):
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            return False
        if self.extra is not None and value == self.extra:
            return True
        return (self.low is None or value >= self.low) and (self.high is None or value <= self.high)

    def allowed(self) -> str:
        if self.low is not None and self.high is not None:
            said = f"a whole number from {self.low} to {self.high}"
        elif self.low is not None:
            said = "0 or more" if self.low == 0 else f"at least {self.low}"
        else:
            said = f"at most {self.high}"
        return said if self.extra is None else f"{said}, or {self.extra}"


@dataclass(frozen=True)
class Tags:
    formats: tuple[str, ...] = ()
    bounds: Bounds | None = None
    empty_ok: bool = False


def _lines(option: Mapping[str, Any]) -> list[str]:
    described = option.get("description") or []
    return [described] if isinstance(described, str) else [str(line) for line in described]


def tags(name: str, option: Mapping[str, Any]) -> Tags:
    """The Format and Range tags of one option; unknown formats are an error
    of the specification (found by the unit tests, not by users)."""
    formats: tuple[str, ...] = ()
    bounds = None
    empty_ok = False
    for line in _lines(option):
        found = FORMAT_TAG.fullmatch(line.strip())
        if found:
            formats = tuple(part.strip() for part in found.group(1).split(","))
            empty_ok = empty_ok or found.group(2) is not None
            unknown = [f for f in formats if f not in FORMATS]
            if unknown:
                known = ", ".join(sorted(FORMATS))
                raise ValueError(f"{name}: unknown format(s) {', '.join(unknown)}; known: {known}")
        ranged = RANGE_TAG.fullmatch(line.strip())
        if ranged:
            low, high, extra = (int(part) if part is not None else None for part in ranged.groups()[:3])
            if low is None and high is None:
                raise ValueError(f"{name}: a Range needs a lower or an upper bound")
            bounds = Bounds(low, high, extra)
            empty_ok = empty_ok or ranged.group(4) is not None
    return Tags(formats, bounds, empty_ok)


def describe(line: str) -> str:
    """A description line as the README shows it: tags in words."""
    found = FORMAT_TAG.fullmatch(line.strip())
    if found:
        said = "; ".join(FORMATS[part.strip()].allowed for part in found.group(1).split(","))
        return f"Format: {said}{', or empty' if found.group(2) else ''}."
    ranged = RANGE_TAG.fullmatch(line.strip())
    if ranged:
        low, high, extra = (int(part) if part is not None else None for part in ranged.groups()[:3])
        return f"Allowed: {Bounds(low, high, extra).allowed()}{', or empty' if ranged.group(4) else ''}."
    return line


def shown(value: Any, option: Mapping[str, Any]) -> Any:
    """What a message may show of a value: never a no_log one."""
    if option.get("no_log"):
        return f"({len(str(value))} characters, not shown)"
    return value


def example(option: Mapping[str, Any], fmt: Format | None) -> str:
    if "example" in option:
        given = option["example"]
        return given if isinstance(given, str) else json.dumps(given)
    default = option.get("default")
    if default not in (None, "", [], {}) and "{{" not in str(default) and not isinstance(default, bool):
        return json.dumps(default) if not isinstance(default, str) else default
    return fmt.example if fmt is not None else ""


def fix(name: str, option: Mapping[str, Any], fmt: Format | None) -> str:
    if fmt is not None and fmt.part:
        hidden = " (their values are not shown)" if option.get("no_log") else ""
        return f"correct or rename the listed entries of {name}{hidden}."
    if option.get("no_log"):
        return f"set {name} once for the group, vaulted: ansible-vault encrypt_string 'SECRET' --name {name}"
    said = example(option, fmt)
    where = "in the inventory (group_vars, host_vars) or with -e"
    return f"set {name} to e.g. {said}, {where}." if said else f"set {name} {where}."


def check_option(name: str, option: Mapping[str, Any], value: Any, coerced: Any) -> list[dict[str, Any]]:
    """Failures of one option: its formats on the value as given (a float is
    not a tag even though Ansible would turn it into a string), its range on
    the value of its type."""
    found = tags(name, option)
    if found.empty_ok and value == "":
        return []
    failures = []
    for format_name in found.formats:
        fmt = FORMATS[format_name]
        if not fmt.accepts(value):
            label = f"{name} ({fmt.part})" if fmt.part else name
            said = fmt.offending(value) if fmt.offending else shown(value, option)
            failures.append(failure(label, said, fmt.allowed, fix(name, option, fmt)))
    if found.bounds is not None and not found.bounds.allows(coerced):
        failures.append(failure(name, shown(value, option), found.bounds.allowed(), fix(name, option, None)))
    return failures


def failure(var: str, value: Any, allowed: str, how: str) -> dict[str, Any]:
    return {"var": var, "value": value, "ok": False, "allowed": allowed, "fix": how}


def check_options(
    options: Mapping[str, Mapping[str, Any]], values: Mapping[str, Any], coerced: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Failures of every option that has a value, in the specification's order."""
    failures: list[dict[str, Any]] = []
    for name, option in options.items():
        if name in values:
            failures.extend(check_option(name, option, values[name], coerced.get(name, values[name])))
    return failures


# --- the report -------------------------------------------------------------

FIELDS = ("var", "value", "ok", "allowed", "fix")


def passed(ok: Any) -> bool:
    if isinstance(ok, bool):
        return ok
    if isinstance(ok, str):
        return ok.strip().lower() in ("true", "yes", "1")
    raise TypeError(f"a check's 'ok' must be a boolean, got {ok!r}")


def _show(value: Any) -> str:
    try:
        return json.dumps(value, default=str, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)


def failed_checks(checks: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    failed = []
    for check in checks:
        missing = [f for f in FIELDS if f not in check]
        if missing:
            raise ValueError(f"check {check.get('var', '?')} lacks {', '.join(missing)}")
        if not passed(check["ok"]):
            failed.append(check)
    return failed


def check_report(checks: Sequence[Mapping[str, Any]], where: str) -> str:
    """'' when every check passed; otherwise one message with a line per
    failed check: `WHERE: VAR is VALUE, but it must be ALLOWED. Fix: FIX`.

    A check is a mapping with var, value, ok (a boolean), allowed and fix,
    and optionally `where` (hosts it is about) instead of the given one."""
    failed = failed_checks(checks)
    if not failed:
        return ""
    lines = [
        f"{check.get('where') or where}: {check['var']} is {_show(check['value'])}, "
        f"but it must be {str(check['allowed']).strip()}. Fix: {str(check['fix']).strip()}"
        for check in failed
    ]
    if len(lines) == 1:
        return lines[0]
    return f"{len(lines)} invalid settings:\n" + "\n".join(f"- {line}" for line in lines)


# --- the published defaults of a role -----------------------------------------

COLLECTION_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def load_argument_specs(path: str) -> dict[str, Any]:
    """The entry points of a role's meta/argument_specs.yml (a copy: callers
    may change it). Read once per process and file version, with LibYAML's
    loader when PyYAML has it (5 to 17 times faster here): the checks read the
    specifications per host and role, several times in one template."""
    stat = os.stat(path)
    return copy.deepcopy(_argument_specs(path, stat.st_mtime_ns, stat.st_size))


@functools.lru_cache(maxsize=32)
def _argument_specs(path: str, _mtime_ns: int, _size: int) -> dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        loaded = yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return loaded["argument_specs"]


def role_defaults(role: str, root: str = COLLECTION_ROOT) -> dict[str, Any]:
    """The defaults a role publishes in its argument specification (entry
    point main): what a cross-host rule compares for hosts that do not set a
    variable, read from the role's interface rather than its files."""
    path = os.path.join(root, "roles", role, "meta", "argument_specs.yml")
    if not os.path.isfile(path):
        raise ValueError(f"no role {role!r} in this collection ({path} does not exist)")
    options = load_argument_specs(path)["main"].get("options") or {}
    return {name: option["default"] for name, option in options.items() if "default" in option}
