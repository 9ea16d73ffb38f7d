"""Unit tests of the env file quoting (plugins/filter/env.py); the quoting
rules were checked against Compose v2 on a lab host (what `env` shows inside
the container)."""

from __future__ import annotations

import pytest

from plugins.filter.env import env_multiline, env_quote


@pytest.mark.parametrize(
    ("value", "line"),
    [
        ("plain", "'plain'"),
        ('$HOME ${X} "dq" back\\slash', "'$HOME ${X} \"dq\" back\\slash'"),
        ('it\'s $HOME "q" \\', '"it\'s \\$HOME \\"q\\" \\\\"'),
        (42, "'42'"),
        ("", "''"),
    ],
)
def test_env_quote(value, line):
    assert env_quote(value) == line


def test_a_newline_cannot_be_written():
    with pytest.raises(ValueError, match="newline"):
        env_quote("a\nINJECTED=1")


def test_env_multiline_names_only():
    assert env_multiline({"A": "x", "B": "y\nZ=1", "C": "carriage\r"}) == ["B", "C"]
    assert env_multiline({}) == []
