"""Value comparison and sizing, pinned where mutation testing of ``_lang/values.py`` found gaps.

``eq`` with a list operand refuses a plain value; a value whose ``==`` raises is not equal to anything
(never allowed by the error); and ``max_bytes`` counts ``null``, ``true`` and ``false`` as compact
JSON writes them.
"""

from __future__ import annotations

import enum
import json
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import d2
from d2._lang.values import byte_size, same

POLICY = """
policies:
  - role: r
    permissions:
      - tool: pick.list
        conditions: {input: {value: {eq: [a, b]}}}
      - tool: pick.one
        conditions: {input: {value: {eq: a}}}
"""


@pytest.fixture(autouse=True)
def _policy(write_policy: Callable[[str], Path]) -> None:
    d2.configure_rbac_sync(write_policy(textwrap.dedent(POLICY)))


def _allowed(tool_id: str, value: Any) -> bool:
    tool = d2.d2_guard(tool_id)(lambda value: "ran")
    with d2.set_user_context("u", ["r"]):
        try:
            tool(value)
        except d2.PermissionDeniedError:
            return False
    return True


def test_eq_with_a_list_operand_refuses_a_plain_value() -> None:
    assert _allowed("pick.list", ["a", "b"])
    for value in ("a", "a, b", 1, None):
        assert not _allowed("pick.list", value), value


class Raising:
    def __eq__(self, other: object) -> bool:
        raise RuntimeError("no comparison")

    __hash__ = object.__hash__


def test_a_value_whose_comparison_raises_equals_nothing() -> None:
    assert _allowed("pick.one", "a")
    assert not _allowed("pick.one", Raising())
    assert same(Raising(), "a") is False and same(Raising(), 1) is False


class Color(enum.Enum):
    RED = "red"


def test_byte_size_reads_an_enum_as_its_value() -> None:
    assert byte_size({"c": Color.RED}) == len('{"c":"red"}')
    assert byte_size([Color.RED], limit=100) == len('["red"]')


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        False,
        [],
        {},
        [1],
        {"a": 1},
        {"a": None, "b": True, "c": False},
        [None, False, True, 1, 2.5, "x"],
    ],
    ids=repr,
)
def test_byte_size_counts_json_literals_as_compact_json(value: Any) -> None:
    assert byte_size(value) == len(json.dumps(value, separators=(",", ":")).encode())


@pytest.mark.parametrize(
    "value",
    [
        {None: 1, True: 2, False: 3, 5: "x", -12: "y", 2.5: "z"},
        [float("nan"), float("inf"), float("-inf"), 1e300, -0.5],
        ["é", 'quote " and \\ backslash', "tab\there", "日本", ""],
        {'k"ey': "v", "ключ": [1, {"é": None}]},
    ],
    ids=["keys", "floats", "texts", "escaped-keys"],
)
def test_byte_size_matches_compact_json_for_unusual_keys_numbers_and_text(value: Any) -> None:
    expected = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
    assert byte_size(value) == expected
    assert byte_size(value, limit=expected) == expected
    assert byte_size(value, limit=expected - 1) == expected
