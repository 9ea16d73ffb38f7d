"""What a playbook's output says, read the way an operator reads it: the
changes per host in the PLAY RECAP, how a task ended. Used by the Molecule
tests and the benchmark scripts."""

from __future__ import annotations

import re

RECAP_LINE = re.compile(r"^(\S+)\s+:\s+ok=\d+\s+changed=(\d+)", re.M)
OUTCOME = re.compile(r"^(ok|changed|skipping|fatal):", re.M)


def recap_changed(output: str) -> dict[str, int]:
    """changed= count per host from a PLAY RECAP."""
    return {m.group(1): int(m.group(2)) for m in RECAP_LINE.finditer(output)}


def first_outcome(output: str, task: str) -> str:
    """How a task ended on its first host (ok, changed, skipping, fatal)."""
    after = output.split(f"TASK [{task}]", 1)
    if len(after) != 2:
        raise AssertionError(f"task {task!r} not in the output")
    found = OUTCOME.search(after[1])
    if not found:
        raise AssertionError(after[1][:500])
    return found.group(1)
