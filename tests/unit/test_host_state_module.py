"""The parsing of pyweb.ha.host_state (plugins/modules/host_state.py): what
dpkg-query and systemctl show print, turned into what is missing or down."""

from __future__ import annotations

import grp

import pytest

from plugins.module_utils.host_report import group_members, installed_packages, user_exists
from plugins.module_utils.systemd import is_up, read_units, unit_states


def test_only_installed_packages_count() -> None:
    out = "docker.io ii \npython3-requests ii \nkeepalived rc \niputils-ping un \nlibc6:amd64 ii \n"
    assert installed_packages(out) == {"docker.io", "python3-requests", "libc6"}


def test_units_are_read_in_the_order_asked() -> None:
    out = "ActiveState=active\nUnitFileState=enabled\n\nActiveState=inactive\nUnitFileState=disabled\n"
    states = unit_states(out, ["containerd", "docker"])
    assert states == {
        "containerd": {"ActiveState": "active", "UnitFileState": "enabled"},
        "docker": {"ActiveState": "inactive", "UnitFileState": "disabled"},
    }
    assert is_up(states["containerd"]) and not is_up(states["docker"])


def test_a_missing_unit_is_down() -> None:
    states = unit_states("ActiveState=inactive\nUnitFileState=\n", ["keepalived", "other"])
    assert not is_up(states["keepalived"]) and not is_up(states["other"])


def test_group_members_count_the_primary_group() -> None:
    root_group = grp.getgrgid(0).gr_name
    members = group_members(root_group)
    assert members is not None and "root" in members


def test_a_group_that_does_not_exist_has_no_members() -> None:
    assert group_members("pyweb-no-such-group") is None
    assert not user_exists("pyweb-no-such-user") and user_exists("root")


class RecordingModule:
    """What read_units needs of AnsibleModule: run_command (answered with
    what systemctl printed) and fail_json."""

    def __init__(self, rc: int, out: str, err: str = "") -> None:
        self.answer = (rc, out, err)
        self.commands: list[list[str]] = []

    def run_command(self, argv: list[str]) -> tuple[int, str, str]:
        self.commands.append(argv)
        return self.answer

    def fail_json(self, msg: str) -> None:
        raise AssertionError(msg)


def test_units_are_read_with_one_systemctl_show() -> None:
    module = RecordingModule(
        0, "ActiveState=active\nUnitFileState=enabled\n\nActiveState=failed\nUnitFileState=enabled\n"
    )
    found = read_units(module, ["pyweb-agent@pyweb", "keepalived.service"])
    show = ["systemctl", "show", "-p", "UnitFileState", "-p", "ActiveState"]
    assert module.commands == [[*show, "pyweb-agent@pyweb.service", "keepalived.service"]]
    assert found["units_down"] == ["keepalived.service"]
    assert found["units"]["pyweb-agent@pyweb"] == {"ActiveState": "active", "UnitFileState": "enabled"}


def test_no_units_ask_systemctl_nothing() -> None:
    module = RecordingModule(1, "")
    assert read_units(module, []) == {"units": {}, "units_down": []}
    assert module.commands == []


def test_a_failing_systemctl_fails_the_module() -> None:
    module = RecordingModule(1, "", "Failed to connect to bus")
    with pytest.raises(AssertionError, match=r"systemctl show failed \(rc=1\): Failed to connect to bus"):
        read_units(module, ["docker"])
