"""The parsing of pyweb.ha.host_state (plugins/modules/host_state.py): what
dpkg-query and systemctl show print, turned into what is missing or down."""

from __future__ import annotations

import grp

from plugins.module_utils.systemd import is_up, unit_states
from plugins.modules.host_state import group_members, installed_packages, user_exists


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
