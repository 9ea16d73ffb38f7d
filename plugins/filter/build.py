"""The build context of the app image (roles/image/tasks/build.yml): what is
copied into it, which requirement files fill its wheelhouse, and the key that
tells when the wheelhouse must be downloaded again.

An app directory comes in one of two shapes:

- with its own Dockerfile (the collection's sample app/ is one): the
  directory is the build context, as it is;
- without one, a WSGI module and a requirements.txt: the context gets the
  collection's Dockerfile and the files it needs from the collection's app/
  directory, the app's requirements.txt at its top, and the app's directory as
  src/ (the Dockerfile's COPY src/, importable from there). The WSGI servers
  come from the collection's requirements-wsgi.txt, downloaded into the same
  wheelhouse, so the app's requirements.txt need not name them."""

from __future__ import annotations

import hashlib
import json
import os
import re
from typing import Any

from ansible_collections.pyweb.ha.plugins.plugin_utils.input_check import WSGI_ENTRY_POINT_RE

# What the collection's Dockerfile needs beside the app, from its app/ directory.
COLLECTION_FILES = (
    "Dockerfile",
    ".dockerignore",
    "docker-entrypoint.sh",
    "gunicorn.conf.py",
    "uwsgi.ini",
    "requirements-wsgi.txt",
)
WSGI_REQUIREMENTS = "requirements-wsgi.txt"
# Lines of a requirements file that name another file (pip's options).
_INCLUDE_RE = re.compile(r"^\s*(?:-r|-c|--requirement|--constraint)(?:\s*=\s*|\s+)(\S+)")


def _dir(path: str) -> str:
    return str(path).rstrip("/") or "/"


def image_build_context(source_dir: str, collection_app_dir: str, own_dockerfile: bool) -> dict[str, Any]:
    """The plan of a build context: `copies` ({src, dest}; dest relative to
    the context, '' its top; a src ending in '/' copies a directory's
    content), `requirements` (the files pip downloads the wheelhouse from)
    and `shape` ('own' Dockerfile or the 'collection''s)."""
    source, collection = _dir(source_dir), _dir(collection_app_dir)
    if own_dockerfile:
        return {
            "shape": "own",
            "copies": [{"src": f"{source}/", "dest": ""}],
            "requirements": [f"{source}/requirements.txt"],
            "dockerfile": f"{source}/Dockerfile",
        }
    return {
        "shape": "collection",
        "dockerfile": f"{collection}/Dockerfile",
        "copies": [{"src": f"{collection}/{name}", "dest": name} for name in COLLECTION_FILES]
        + [
            {"src": f"{source}/requirements.txt", "dest": "requirements.txt"},
            {"src": f"{source}/", "dest": "src/"},
        ],
        "requirements": [f"{source}/requirements.txt", f"{collection}/{WSGI_REQUIREMENTS}"],
    }


def _included(path: str) -> list[str]:
    """The files a requirements file names with -r/-c, relative to it."""
    found = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            match = _INCLUDE_RE.match(line)
            if match:
                name = match.group(1).strip("'\"")
                if name and "://" not in name:
                    found.append(name if os.path.isabs(name) else os.path.join(os.path.dirname(path), name))
    return found


def requirements_digest(paths: list[str]) -> str:
    """SHA-1 of the contents of the requirement files and of every file they
    include (-r, -c): the wheelhouse is downloaded again when any of them
    changes (not when the same files lie elsewhere)."""
    digest = hashlib.sha1(usedforsecurity=False)
    seen: set[str] = set()
    pending = [str(p) for p in paths]
    while pending:
        path = os.path.normpath(pending.pop(0))
        if path in seen:
            continue
        seen.add(path)
        with open(path, "rb") as handle:
            digest.update(handle.read() + b"\0")
        pending.extend(_included(path))
    return digest.hexdigest()


# FROM lines of a Dockerfile: the image, after any --platform=... option.
_FROM_RE = re.compile(r"^\s*FROM\s+(?:--\S+\s+)*(\S+)", re.IGNORECASE | re.MULTILINE)
# Files that never change what an image holds: Python's bytecode caches.
_SKIPPED_DIRS = {"__pycache__", ".pytest_cache", ".ruff_cache", ".git"}


def _context_files(copies: list[dict[str, str]]) -> list[tuple[str, str]]:
    """(path on the controller, path in the build context) of every file the context gets."""
    pairs = []
    for copy in copies:
        src, dest = str(copy["src"]), str(copy["dest"])
        if not src.endswith("/"):
            pairs.append((src, dest))
            continue
        for root, dirs, names in os.walk(src):
            dirs[:] = sorted(d for d in dirs if d not in _SKIPPED_DIRS)
            for name in sorted(names):
                if name.endswith(".pyc"):
                    continue
                path = os.path.join(root, name)
                pairs.append((path, os.path.join(dest, os.path.relpath(path, src))))
    return pairs


def _expand(ref: str, build_args: dict[str, Any], defaults: dict[str, str]) -> str:
    """A FROM image with its ${ARG} / $ARG references filled in (build args first, then ARG defaults)."""
    values = {**defaults, **{str(k): str(v) for k, v in build_args.items()}}
    return re.sub(r"\$\{?(\w+)\}?", lambda m: values.get(m.group(1), ""), ref)


def image_build_inputs(plan: dict[str, Any], build_args: dict[str, Any]) -> dict[str, Any]:
    """What an image build depends on, read on the controller: `digest`, the
    SHA-256 of every file of the build context (its path there, its mode and
    its content; bytecode caches left out) and of the build arguments; and
    `bases`, the images its Dockerfile builds FROM (their IDs are looked up by
    the role and belong to the build's key too). Stage names are not images."""
    digest = hashlib.sha256()
    for path, dest in _context_files(plan["copies"]):
        with open(path, "rb") as handle:
            content = handle.read()
        mode = os.stat(path).st_mode & 0o777
        digest.update(f"{dest}\0{mode:o}\0{len(content)}\0".encode() + content)
    digest.update(json.dumps(build_args, sort_keys=True, default=str).encode())
    with open(plan["dockerfile"], encoding="utf-8") as handle:
        text = handle.read()
    defaults = dict(re.findall(r"^\s*ARG\s+(\w+)=(\S+)", text, re.IGNORECASE | re.MULTILINE))
    stages = {m.lower() for m in re.findall(r"^\s*FROM\s+.*\sAS\s+(\S+)", text, re.IGNORECASE | re.MULTILINE)}
    bases = []
    for ref in _FROM_RE.findall(text):
        image = _expand(ref, build_args, defaults)
        if image and image.lower() not in stages and image != "scratch" and image not in bases:
            bases.append(image)
    return {"digest": digest.hexdigest(), "bases": bases}


def wsgi_module_files(entry_point: str) -> list[str]:
    """Where the module of a WSGI entry point (module:callable) lies in an app
    directory: pkg/mod.py or pkg/mod/__init__.py; [] when it is not one."""
    text = str(entry_point)
    if WSGI_ENTRY_POINT_RE.fullmatch(text) is None:
        return []
    path = text.split(":", 1)[0].replace(".", "/")
    return [f"{path}.py", f"{path}/__init__.py"]


class FilterModule:
    """pyweb.ha image build filters."""

    def filters(self) -> dict[str, Any]:
        return {
            "image_build_context": image_build_context,
            "image_build_inputs": image_build_inputs,
            "requirements_digest": requirements_digest,
            "wsgi_module_files": wsgi_module_files,
        }
