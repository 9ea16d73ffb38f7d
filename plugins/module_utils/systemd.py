# Copyright: (c) 2026, pyweb.ha maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The state of systemd units, read with one `systemctl show` (pyweb.ha.host_state,
and pyweb.ha.files after it wrote a unit's files)."""

from __future__ import annotations

from typing import Any


def unit_states(show_output: str, units: list[str]) -> dict[str, dict[str, str]]:
    """Per unit, the properties of `systemctl show -p UnitFileState -p ActiveState U1 U2 ...`
    (blocks separated by empty lines, in the order asked)."""
    blocks = show_output.strip().split("\n\n")
    states: dict[str, dict[str, str]] = {}
    for index, unit in enumerate(units):
        block = blocks[index] if index < len(blocks) else ""
        states[unit] = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
    return states


def is_up(properties: dict[str, str]) -> bool:
    """Enabled and active (a unit that does not exist is neither)."""
    return properties.get("UnitFileState") == "enabled" and properties.get("ActiveState") == "active"


def read_units(module: Any, units: list[str]) -> dict[str, Any]:
    """{'units': properties per unit, 'units_down': those not both enabled and active};
    fails the module when systemctl does."""
    if not units:
        return {"units": {}, "units_down": []}
    services = [unit if "." in unit else f"{unit}.service" for unit in units]
    rc, out, err = module.run_command(
        ["systemctl", "show", "-p", "UnitFileState", "-p", "ActiveState", *services]
    )
    if rc != 0:
        module.fail_json(msg=f"systemctl show failed (rc={rc}): {err.strip()}")
    states = unit_states(out, units)
    return {"units": states, "units_down": [unit for unit in units if not is_up(states[unit])]}
