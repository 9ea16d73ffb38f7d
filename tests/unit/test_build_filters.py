"""The build context of the app image (plugins/filter/build.py): an app
directory with its own Dockerfile is the context as it is; one without gets
the collection's Dockerfile and files, its requirements.txt at the top and
itself as src/, and the WSGI servers' requirements in its wheelhouse."""

from __future__ import annotations

from pathlib import Path

import pytest

from plugins.filter.build import (
    COLLECTION_FILES,
    FilterModule,
    image_build_context,
    image_build_inputs,
    requirements_digest,
    wsgi_module_files,
)

REPO = Path(__file__).resolve().parents[2]
APP = REPO / "app"


def test_a_directory_with_a_dockerfile_is_the_context_as_it_is():
    plan = image_build_context("/src/shop/", "/c/app", True)
    assert plan == {
        "shape": "own",
        "copies": [{"src": "/src/shop/", "dest": ""}],
        "requirements": ["/src/shop/requirements.txt"],
        "dockerfile": "/src/shop/Dockerfile",
    }


def test_a_directory_without_one_gets_the_collections_dockerfile():
    plan = image_build_context("/src/kiosk", "/c/app/", False)
    assert plan["shape"] == "collection"
    copies = {c["dest"]: c["src"] for c in plan["copies"]}
    assert copies == {
        **{name: f"/c/app/{name}" for name in COLLECTION_FILES},
        "requirements.txt": "/src/kiosk/requirements.txt",
        "src/": "/src/kiosk/",
    }
    # The app's requirements, then the WSGI servers: one wheelhouse.
    assert plan["requirements"] == ["/src/kiosk/requirements.txt", "/c/app/requirements-wsgi.txt"]


def test_the_collection_files_exist_and_the_dockerfile_copies_them():
    dockerfile = (APP / "Dockerfile").read_text()
    for name in COLLECTION_FILES:
        assert (APP / name).is_file(), name
        if name not in ("Dockerfile", ".dockerignore"):
            assert name in dockerfile, name
    assert "COPY src/ /app/src/" in dockerfile


def test_the_sample_app_includes_the_wsgi_servers_pinned_once():
    requirements = (APP / "requirements.txt").read_text().splitlines()
    wsgi = (APP / "requirements-wsgi.txt").read_text().splitlines()
    assert "-r requirements-wsgi.txt" in requirements
    pins = [line for line in wsgi if line and not line.startswith("#")]
    assert sorted(pin.split("==")[0] for pin in pins) == ["gunicorn", "pyuwsgi"]
    assert all("==" in pin for pin in pins)
    assert not [line for line in requirements if line.startswith(("gunicorn", "pyuwsgi"))]


def test_the_digest_follows_included_files(tmp_path):
    (tmp_path / "requirements.txt").write_text("flask==3.1.3\n-r more.txt\n")
    (tmp_path / "more.txt").write_text("gunicorn==27.0.1\n")
    first = requirements_digest([str(tmp_path / "requirements.txt")])
    (tmp_path / "more.txt").write_text("gunicorn==27.0.2\n")
    assert requirements_digest([str(tmp_path / "requirements.txt")]) != first


def test_the_digest_is_of_contents_not_of_places(tmp_path):
    for where in ("a", "b"):
        (tmp_path / where).mkdir()
        (tmp_path / where / "requirements.txt").write_text("flask==3.1.3\n--requirement=./wsgi.txt\n")
        (tmp_path / where / "wsgi.txt").write_text("gunicorn==27.0.1\n-c wsgi.txt\n")  # a loop is read once
    a, b = (requirements_digest([str(tmp_path / w / "requirements.txt")]) for w in ("a", "b"))
    assert a == b
    assert requirements_digest([str(APP / "requirements.txt")]) != requirements_digest(
        [str(APP / "requirements-wsgi.txt")]
    )


@pytest.mark.parametrize(
    ("entry_point", "files"),
    [
        ("pyweb_app:app", ["pyweb_app.py", "pyweb_app/__init__.py"]),
        ("shop.wsgi:application", ["shop/wsgi.py", "shop/wsgi/__init__.py"]),
        ("shop/wsgi:application", []),
        ("no_callable", []),
    ],
)
def test_wsgi_module_files(entry_point, files):
    assert wsgi_module_files(entry_point) == files


def test_the_filters_are_published():
    assert set(FilterModule().filters()) == {
        "image_build_context",
        "image_build_inputs",
        "requirements_digest",
        "wsgi_module_files",
    }


def _own_app(tmp_path: Path) -> dict:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "app.py").write_text("app = None\n")
    (tmp_path / "Dockerfile").write_text(
        "ARG BASE_IMAGE=pyweb/python:3-trixie\n"
        "FROM --platform=linux/amd64 ${BASE_IMAGE} AS builder\n"
        "FROM builder AS test\n"
        "FROM registry.example:5000/tools:1 AS tools\n"
        "FROM $BASE_IMAGE\n"
    )
    return image_build_context(str(tmp_path), str(APP), True)


def test_the_build_key_changes_with_a_file_or_an_argument_only(tmp_path: Path) -> None:
    plan = _own_app(tmp_path)
    first = image_build_inputs(plan, {"APP_VERSION": "1.0.0"})
    assert image_build_inputs(plan, {"APP_VERSION": "1.0.0"}) == first
    # Bytecode caches change nothing the image holds.
    (tmp_path / "pkg" / "__pycache__").mkdir()
    (tmp_path / "pkg" / "__pycache__" / "app.cpython-313.pyc").write_bytes(b"x")
    assert image_build_inputs(plan, {"APP_VERSION": "1.0.0"})["digest"] == first["digest"]
    assert image_build_inputs(plan, {"APP_VERSION": "1.0.1"})["digest"] != first["digest"]
    (tmp_path / "pkg" / "app.py").write_text("app = 1\n")
    assert image_build_inputs(plan, {"APP_VERSION": "1.0.0"})["digest"] != first["digest"]


def test_a_new_mode_changes_the_build_key(tmp_path: Path) -> None:
    plan = _own_app(tmp_path)
    before = image_build_inputs(plan, {})["digest"]
    (tmp_path / "pkg" / "app.py").chmod(0o755)
    assert image_build_inputs(plan, {})["digest"] != before


def test_the_base_images_are_read_from_the_dockerfile(tmp_path: Path) -> None:
    plan = _own_app(tmp_path)
    # ARG defaults, overridden by build args; stage names are not images.
    assert image_build_inputs(plan, {})["bases"] == [
        "pyweb/python:3-trixie",
        "registry.example:5000/tools:1",
    ]
    assert image_build_inputs(plan, {"BASE_IMAGE": "mine:1"})["bases"] == [
        "mine:1",
        "registry.example:5000/tools:1",
    ]


def test_the_collections_dockerfile_builds_from_the_base_image() -> None:
    plan = image_build_context(str(REPO / "tests/fixtures/kiosk"), str(APP), False)
    assert image_build_inputs(plan, {"BASE_IMAGE": "pyweb/python:3-trixie"})["bases"] == [
        "pyweb/python:3-trixie"
    ]
