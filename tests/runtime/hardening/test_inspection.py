"""What the guard can see inside a value: the cases mutation testing of ``_lang/inspection.py`` found untested.

Output rules must walk every value they can see (an Enum holding a plain value, a set of scalars, a plain
tuple) and refuse what hides content (a tuple whose ``_fields`` do not name each item). Input conditions
hand the tool a faithful snapshot: shared parts stay shared, a namedtuple keeps its class, sets, frozensets,
bytearrays and float subclasses are copied as exact built-in values, and objects the snapshot does not
rebuild are passed as they are.
"""

from __future__ import annotations

import enum
import typing
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import d2
from d2._lang.inspection import opaque, snapshot

from .conftest import Box

SECRET = "123-45-6789"

POLICY = r"""
policies:
  - role: r
    permissions:
      - tool: out.filter
        conditions: {output: {"**.ssn": {action: filter}}}
      - tool: out.patterns
        conditions: {output: {deny_if_patterns: ['\d{3}-\d{2}-\d{4}']}}
      - tool: snap.tool
        conditions:
          input:
            data: {max_bytes: 10000}
            items: {maxLength: 5}
            ratio: {max: 100}
"""

SEEN: dict[str, Any] = {}


@pytest.fixture(autouse=True)
def _policy(load: Callable[[str], Path]) -> None:
    load(POLICY)
    SEEN.clear()


@d2.d2_guard("snap.tool")
def snap(data: Any = (), items: Any = (), ratio: Any = 1) -> str:
    SEEN.update(data=data, items=items, ratio=ratio)
    return "ran"


def _call(**kwargs: Any) -> None:
    with d2.set_user_context("u", ["r"]):
        assert snap(**kwargs) == "ran"


class Color(enum.Enum):
    RED = "red"


class Point(typing.NamedTuple):
    x: int
    y: int


class Pair(tuple):  # type: ignore[type-arg]
    """A plain tuple subclass: no field names."""


class ShortFields(tuple):  # type: ignore[type-arg]
    """A tuple that names fewer items than it holds: the unnamed ones must not go unseen."""

    _fields = ("name",)


# -- outputs --------------------------------------------------------------------------------------


def test_an_enum_holding_a_plain_value_is_read_as_that_value(box: Box) -> None:
    assert box.returns("out.patterns", {"code": Color.RED}) == {"code": Color.RED}
    value = {"code": Color.RED, "ssn": SECRET}
    assert box.returns("out.filter", value) == {"code": Color.RED}


def test_a_set_of_scalars_is_walked_by_a_rule_that_reaches_inside_it(box: Box) -> None:
    value = {"rows": [{"tags": {"a", "b"}, "ssn": SECRET}]}
    assert box.returns("out.filter", value) == {"rows": [{"tags": {"a", "b"}}]}
    assert box.returns("out.filter", {"tags": frozenset({1, 2})}) == {"tags": frozenset({1, 2})}


def test_a_plain_tuple_is_walked_as_a_list_not_as_a_record(box: Box) -> None:
    assert box.returns("out.filter", ({"name": "a", "ssn": SECRET},)) == ({"name": "a"},)
    assert box.returns("out.filter", Pair(({"ssn": SECRET},))) == ({},)


@pytest.mark.parametrize("tool", ["out.filter", "out.patterns"])
def test_a_tuple_whose_fields_do_not_name_every_item_refuses(box: Box, tool: str) -> None:
    box.refused(tool, ShortFields(("alice", SECRET)))
    box.refused(tool, {"row": ShortFields(("alice", {"ssn": SECRET}))})


class Code(int, enum.Enum):
    """An int-based Enum: ``repr()`` of a member whose value is not an int raises TypeError."""

    ONE = 1


@pytest.mark.parametrize("tool", ["out.filter", "out.patterns"])
def test_an_int_enum_holding_a_record_refuses_with_its_name_not_an_internal_error(
    box: Box, tool: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Code.ONE, "_value_", {"ssn": SECRET})
    err = box.refused(tool, {"code": Code.ONE})
    assert err.reason != d2.Reason.INTERNAL_ERROR
    assert "Code.ONE" in str(err)


def test_an_opaque_iterator_says_how_to_materialise_it(box: Box) -> None:
    err = box.refused("out.patterns", iter(["x"]))  # has __next__, no send
    assert "materialise" in str(err)


def test_the_materialise_hint_names_any_lazy_value() -> None:
    async def coro() -> None:
        return None

    pending = coro()  # has send, no __next__
    try:
        assert "materialise" in opaque(pending).message
    finally:
        pending.close()

    def gen() -> Iterator[int]:
        yield 1

    assert "materialise" in opaque(gen()).message
    assert "materialise" not in opaque(object()).message


# -- input snapshots ------------------------------------------------------------------------------


def test_shared_parts_of_a_checked_argument_stay_shared() -> None:
    shared = ["a", "b"]
    _call(data=[shared, shared, {"k": shared}])
    got = SEEN["data"]
    assert got == [["a", "b"], ["a", "b"], {"k": ["a", "b"]}]
    assert got[0] is got[1] is got[2]["k"]
    assert got[0] is not shared


def test_a_namedtuple_argument_keeps_its_class() -> None:
    _call(data=[Point(1, 2)])
    assert type(SEEN["data"][0]) is Point and SEEN["data"][0] == Point(1, 2)


def test_a_tuple_subclass_argument_arrives_as_its_items() -> None:
    _call(data=Pair((1, "x")))
    assert SEEN["data"] == (1, "x")


@pytest.mark.parametrize("value", [{"a", 1}, frozenset({"a", 1}), bytearray(b"ab")], ids=repr)
def test_sets_and_bytearrays_arrive_as_equal_copies_of_their_type(value: Any) -> None:
    _call(data=value)
    got = SEEN["data"]
    assert type(got) is type(value) and got == value and got is not value


def test_a_float_subclass_arrives_as_a_plain_float() -> None:
    class Ratio(float):
        pass

    _call(ratio=Ratio(2.5))
    assert type(SEEN["ratio"]) is float and SEEN["ratio"] == 2.5


def test_objects_the_snapshot_does_not_rebuild_pass_as_they_are() -> None:
    marker = object()
    _call(items=["a", marker])
    assert SEEN["items"][1] is marker


def test_snapshot_returns_exact_values_themselves() -> None:
    # The guard checks exact values without a snapshot; the function still keeps its contract.
    for value in ("x", 5, 2.5, True, None):
        assert snapshot(value) is value
