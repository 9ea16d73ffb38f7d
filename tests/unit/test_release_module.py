"""Unit tests of the release record logic (plugins/modules/release.py)."""

from __future__ import annotations

import json

import pytest

from plugins.module_utils.release import EMPTY, read_record, read_release
from plugins.modules.release import next_record, write_record


def test_missing_record_reads_empty(tmp_path):
    assert read_record(str(tmp_path / "none.json")) == EMPTY


def test_next_record_moves_version_to_previous():
    first = next_record(dict(EMPTY), "1.0.0", 10, "t1")
    second = next_record(first, "2.0.0", 10, "t2")
    assert second == {
        "version": "2.0.0",
        "previous": "1.0.0",
        "history": ["1.0.0", "2.0.0"],
        "updated": "t2",
        "rolled_back": False,
    }


def test_same_version_is_no_change():
    record = next_record(dict(EMPTY), "1.0.0", 10, "t1")
    assert next_record(record, "1.0.0", 10, "t9") is record


def test_history_is_bounded():
    record = dict(EMPTY)
    for i in range(5):
        record = next_record(record, str(i), 3, "t")
    assert record["history"] == ["2", "3", "4"]


def test_write_then_read_round_trips(tmp_path):
    path = str(tmp_path / "release.json")
    record = next_record(dict(EMPTY), "1.0.0", 10, "t1")
    write_record(path, record)
    assert read_record(path) == record
    assert (tmp_path / "release.json").stat().st_mode & 0o777 == 0o644


def test_corrupt_record_is_an_error(tmp_path):
    path = tmp_path / "release.json"
    path.write_text(json.dumps(["not", "an", "object"]))
    with pytest.raises(ValueError, match="JSON object"):
        read_record(str(path))


def test_the_project_record_is_what_the_release_module_wrote(tmp_path):
    """pyweb.ha.replica (action info) reads the record pyweb.ha.release writes, in the project's directory."""
    assert read_release(str(tmp_path)) == EMPTY
    record = next_record(dict(EMPTY), "2.0.0", 10, "t1")
    write_record(str(tmp_path / "release.json"), record)
    assert read_release(str(tmp_path)) == record


def test_an_unreadable_project_record_says_which_file_and_what_to_do(tmp_path):
    (tmp_path / "release.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"release record .*release.json: .*; fix or remove it"):
        read_release(str(tmp_path))


def test_a_rollback_is_marked_and_keeps_the_history():
    record = dict(EMPTY)
    for version in ("1", "A", "B"):
        record = next_record(record, version, 10, "t")
    back = next_record(record, "A", 10, "t", rollback=True)
    assert back["version"] == "A" and back["rolled_back"] is True
    assert back["history"] == ["1", "A", "B"] and back["previous"] == "B"
    assert next_record(back, "A", 10, "t9", rollback=True) is back  # a second rollback changes nothing
    assert next_record(back, "A", 10, "t9") is back  # nor does site.yml recording the running version
    again = next_record(back, "C", 10, "t")
    assert again["history"] == ["1", "A", "B", "C"] and again["rolled_back"] is False


def test_the_fleet_rollback_target_is_decided_once():
    from plugins.filter.release import rollback_target

    first = {"version": "B", "previous": "A", "history": ["1", "A", "B"], "rolled_back": False}
    other = {"version": "B", "previous": "1", "history": ["1", "B"], "rolled_back": False}
    assert rollback_target([first, other])[0] == "A"  # hosts with different histories end on one version
    assert rollback_target([{**first, "version": "A", "rolled_back": True}, other])[0] == "A"
    assert rollback_target([first, other], "1")[0] == "1"
    assert rollback_target([first], "9")[0] == ""
    assert "not in the release history" in rollback_target([first], "9")[1]
    assert rollback_target([{"version": None}])[0] == ""
    assert rollback_target([{"version": "1", "previous": None, "history": ["1"]}])[0] == ""


def test_images_outside_the_history_and_unused_are_prunable():
    from plugins.filter.release import prunable_images

    images = [
        {"RepoTags": ["pyweb/app:1.0.0"]},
        {"RepoTags": ["pyweb/app:2.0.0", "pyweb/app:latest"]},
        {"RepoTags": ["pyweb/app:3.0.0"]},  # a broken release, never recorded
        {"RepoTags": ["pyweb/app:4.0.0"]},  # in use by a stopped container
        {"RepoTags": ["pyweb/nginx:trixie", "pyweb/application:1.0.0"]},
        {"RepoTags": None},  # dangling
    ]
    containers = [{"Image": "pyweb/app:4.0.0"}, {"Image": "pyweb/nginx:trixie"}]
    keep = ["2.0.0", "5.0.0"]
    assert prunable_images(images, containers, "pyweb/app", keep) == [
        "pyweb/app:1.0.0",
        "pyweb/app:3.0.0",
        "pyweb/app:latest",
    ]
    assert prunable_images(images, containers, "pyweb/app", ["1.0.0", "2.0.0", "3.0.0", "latest"]) == []
