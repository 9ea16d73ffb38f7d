"""Unit tests of the under-load helpers the rollout scenarios share."""

from __future__ import annotations

from tests.lib.loadgen import RequestRecord
from tests.lib.underload import answered_per_second


def record(end: float, host: str | None, replica: str | None, ok: bool = True) -> RequestRecord:
    return RequestRecord(0, 0, "GET", "/", end - 0.01, 0.01, 200 if ok else 502, host=host, replica=replica)


def test_answers_per_second_skip_answers_that_do_not_name_the_key():
    records = [
        record(1.5, "h1", "app_1"),
        record(1.6, None, "app_2"),  # a POST /echo answer: no host
        record(1.7, "h2", "app_1", ok=False),  # failed: does not count
        record(2.5, "h2", "app_2"),
    ]
    assert answered_per_second(records, "host", 0.0, 3.0) == {1: {"h1"}, 2: {"h2"}}
    assert answered_per_second(records, "replica", 0.0, 3.0) == {1: {"app_1", "app_2"}, 2: {"app_2"}}
