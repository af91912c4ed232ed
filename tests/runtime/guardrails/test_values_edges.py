"""Value comparison and sizing, pinned where mutation testing of ``_lang/values.py`` found gaps.

``eq`` with a list operand refuses a plain value; a value whose ``==`` raises is not equal to anything
(never allowed by the error); and ``max_bytes`` counts ``null``, ``true`` and ``false`` as compact
JSON writes them.
"""

from __future__ import annotations

import datetime
import enum
import json
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import d2
from d2._lang.inspection import Opaque
from d2._lang.values import byte_size, same, texts

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


@pytest.mark.parametrize(("key", "text"), [(None, '"null"'), (True, '"true"'), (False, '"false"')])
def test_byte_size_counts_each_literal_key_alone(key: Any, text: str) -> None:
    # One key per dict: a mix of the three can hide two wrong sizes that add up to the right total.
    assert byte_size({key: 1}) == len("{" + text + ":1}")


class Count(int):
    pass


class Ratio(float):
    pass


class Name(str):
    pass


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ([Count(42)], "[42]"),
        ([Ratio(2.5)], "[2.5]"),
        (Count(7), "7"),
        ([Name("ab")], '["ab"]'),
        ([b"ab"], '["ab"]'),
        ([bytearray(b"xy")], '["xy"]'),
        ([datetime.date(2020, 1, 2)], '["2020-01-02"]'),
        (["C:\\dir"], '["C:\\\\dir"]'),
    ],
    ids=[
        "int-subclass",
        "float-subclass",
        "bare-int-subclass",
        "str-subclass",
        "bytes",
        "bytearray",
        "date",
        "backslash",
    ],
)
def test_byte_size_of_subclassed_and_non_json_leaves(value: Any, expected: str) -> None:
    # Subclasses skip the exact-class fast paths; bytes and dates are sized as the text they hold.
    assert byte_size(value) == len(expected)
    assert byte_size(value, limit=100) == len(expected)


def test_texts_reads_every_item_of_a_list_in_order() -> None:
    assert list(texts(["a", "b", "c", "d"])) == [((0,), "a"), ((1,), "b"), ((2,), "c"), ((3,), "d")]


def test_texts_reads_scalar_keys_as_text_and_refuses_other_keys() -> None:
    assert list(texts({5: "x", 2.5: "y"})) == [
        (("5",), "5"),
        (("2.5",), "2.5"),
        (("5",), "x"),
        (("2.5",), "y"),
    ]
    with pytest.raises(Opaque):
        list(texts({object(): "x"}))
    with pytest.raises(Opaque):
        list(texts({Color.RED: "x"}))


class Flag(enum.Enum):
    ON = True
    NOTHING = None


def test_texts_skips_none_and_booleans_and_reads_bytes_and_dates() -> None:
    assert list(texts([None, True, False, Flag.ON, Flag.NOTHING])) == []
    value = [b"ab", bytearray(b"cd"), datetime.date(2020, 1, 2), Name("ef")]
    assert list(texts(value)) == [((0,), "ab"), ((1,), "cd"), ((2,), "2020-01-02"), ((3,), "ef")]
