"""The parsing of pyweb.ha.host_state (plugins/modules/host_state.py): what
dpkg-query and systemctl show print, turned into what is missing or down."""

from __future__ import annotations

from plugins.modules.host_state import installed_packages, is_up, unit_states


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
