"""The readers of a playbook's output that the Molecule tests and the
benchmark scripts share."""

from __future__ import annotations

import pytest

from tests.lib.playbook_output import first_outcome, recap_changed

OUTPUT = """
TASK [pyweb.ha.image : Build the app image shop:1.0.1] *************************
skipping: [pyweb-single-app1]

TASK [pyweb.ha.stack : Roll the replicas] **************************************
changed: [pyweb-single-app1]
ok: [pyweb-single-app2]

PLAY RECAP *********************************************************************
pyweb-single-app1          : ok=54   changed=1    unreachable=0    failed=0    skipped=37
pyweb-single-app2          : ok=48   changed=0    unreachable=0    failed=0    skipped=22
"""


def test_recap_changed_reads_every_host():
    assert recap_changed(OUTPUT) == {"pyweb-single-app1": 1, "pyweb-single-app2": 0}


def test_recap_changed_of_an_output_without_recap_is_empty():
    assert recap_changed("ERROR! the playbook could not be found") == {}


def test_first_outcome_is_the_first_host_line_after_the_task():
    assert first_outcome(OUTPUT, "pyweb.ha.image : Build the app image shop:1.0.1") == "skipping"
    assert first_outcome(OUTPUT, "pyweb.ha.stack : Roll the replicas") == "changed"


def test_first_outcome_of_a_task_that_did_not_run_says_so():
    with pytest.raises(AssertionError, match="not in the output"):
        first_outcome(OUTPUT, "pyweb.ha.stack : Nothing like this")
