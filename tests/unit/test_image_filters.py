"""image_content_key: the same image in Docker's classic store (controller,
Docker 20.10) and in containerd's store (a Docker 29 host) has other IDs but
the same key; any change of layers or run configuration changes it.
lacking_images: the names a host must receive, by content, whatever it
calls its images."""

from __future__ import annotations

import copy

from plugins.filter.image import image_content_key, image_id_of, image_info_of, lacking_images

CLASSIC = {
    "Id": "sha256:" + "a" * 64,
    "RepoTags": ["pyweb/app:1.0.0"],
    "RootFS": {"Type": "layers", "Layers": ["sha256:" + "1" * 64, "sha256:" + "2" * 64]},
    "Config": {
        "Cmd": ["gunicorn"],
        "Entrypoint": None,
        "Env": ["PATH=/usr/bin"],
        "Labels": {"pyweb.version": "1.0.0"},
        "ExposedPorts": {"8000/tcp": {}},
        "User": "app",
        "WorkingDir": "/app",
    },
}


def containerd_store(image: dict) -> dict:
    """The same image as a Docker 29 host with the containerd store shows it:
    another ID, extra and empty fields."""
    other = copy.deepcopy(image)
    other["Id"] = "sha256:" + "b" * 64
    other["Descriptor"] = {"mediaType": "application/vnd.oci.image.index.v1+json"}
    other["Config"]["Entrypoint"] = []
    other["Config"]["Volumes"] = None
    other["Config"]["StopSignal"] = ""
    return other


def test_the_same_image_in_either_store_has_one_key():
    assert image_content_key(CLASSIC) == image_content_key(containerd_store(CLASSIC))


def test_another_layer_or_command_changes_the_key():
    layer = copy.deepcopy(CLASSIC)
    layer["RootFS"]["Layers"][-1] = "sha256:" + "3" * 64
    command = copy.deepcopy(CLASSIC)
    command["Config"]["Cmd"] = ["uwsgi"]
    keys = {image_content_key(image) for image in (CLASSIC, layer, command)}
    assert len(keys) == 3


def test_an_image_without_layers_or_config_has_a_key():
    assert image_content_key({}).startswith("sha256:")


def test_a_host_lacks_what_it_holds_under_no_name_with_that_content():
    nginx = {"RepoTags": ["pyweb/nginx:trixie"], "RootFS": {"Layers": ["sha256:" + "9" * 64]}}
    renamed = containerd_store(CLASSIC) | {"RepoTags": ["old/name:1"]}
    refs = ["pyweb/app:1.0.0", "pyweb/nginx:trixie"]
    assert lacking_images([CLASSIC, nginx], [], refs) == refs
    assert lacking_images([CLASSIC, nginx], [renamed], refs) == ["pyweb/nginx:trixie"]
    assert lacking_images([CLASSIC, nginx], [renamed, nginx], refs) == []


def test_an_image_with_two_wanted_names_is_lacking_under_both():
    both = CLASSIC | {"RepoTags": ["pyweb/app:1.0.0", "pyweb/app:latest"]}
    assert lacking_images([both], [], ["pyweb/app:latest", "pyweb/app:1.0.0"]) == [
        "pyweb/app:latest",
        "pyweb/app:1.0.0",
    ]


def test_image_id_of_a_reference() -> None:
    images = [CLASSIC, {"Id": "sha256:" + "b" * 64, "RepoTags": ["localhost:5000/base:latest"]}]
    assert image_id_of("pyweb/app:1.0.0", images) == CLASSIC["Id"]
    # An untagged name is :latest, also behind a registry with a port.
    assert image_id_of("localhost:5000/base", images) == "sha256:" + "b" * 64
    assert image_id_of("pyweb/app:2.0.0", images) == ""
    assert image_id_of("pyweb/app:1.0.0", []) == ""


def test_image_info_of_a_reference() -> None:
    assert image_info_of("pyweb/app:1.0.0", [CLASSIC]) is CLASSIC
    assert image_info_of(CLASSIC["Id"], [CLASSIC]) is CLASSIC
    assert image_info_of("pyweb/app:2.0.0", [CLASSIC]) == {}
