"""Output rules never let a named field or a forbidden text through a container they cannot see into.

Issue 11 items 5, 6 and 15: namedtuples are walked as mappings; an Enum holding a mapping, a set of
records, generators, iterators, coroutines, opaque objects and cycles refuse the result, for field
rules and global rules alike.
"""

from __future__ import annotations

import dataclasses
import enum
import typing
from collections import namedtuple
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import d2

from .conftest import Box, deadline

SECRET = "123-45-6789"

POLICY = r"""
policies:
  - role: r
    permissions:
      - tool: rows.filter
        conditions: {output: {ssn: {action: filter}}}
      - tool: rows.redact
        conditions: {output: {"**.ssn": {action: redact}}}
      - tool: rows.absent
        conditions: {output: {require_fields_absent: [ssn]}}
      - tool: rows.patterns
        conditions: {output: {deny_if_patterns: ['\d{3}-\d{2}-\d{4}']}}
      - tool: rows.size
        conditions: {output: {max_bytes: 200}}
      - tool: rows.validate
        conditions: {output: {ssn: {matches: 'x+'}}}
"""

FIELD_TOOLS = ("rows.filter", "rows.redact", "rows.absent")
ALL_TOOLS = (*FIELD_TOOLS, "rows.patterns")


@pytest.fixture(autouse=True)
def _policy(load: Callable[[str], Path]) -> None:
    load(POLICY)


class Row(typing.NamedTuple):
    name: str
    ssn: str


RawRow = namedtuple("RawRow", ["name", "ssn"])  # a DB-API style row on purpose


def _leaks(result: Any) -> bool:
    return SECRET in repr(result)


@pytest.mark.parametrize("row_type", [Row, RawRow])
@pytest.mark.parametrize("tool", FIELD_TOOLS)
def test_namedtuple_row_never_leaks_the_named_field(box: Box, tool: str, row_type: Any) -> None:
    row = row_type("alice", SECRET)
    values: list[Any] = [row, [row, row_type("bob", SECRET)]]
    if tool != "rows.filter":  # 'ssn' names a root field; '**.ssn' and require_fields_absent reach anywhere
        values.append({"rows": [row]})
    for value in values:
        try:
            result = box.returns(tool, value)
        except d2.PermissionDeniedError:
            continue
        assert not _leaks(result), (tool, result)


def test_namedtuple_filter_keeps_the_other_fields(box: Box) -> None:
    result = box.returns("rows.filter", [Row("alice", SECRET)])
    assert result == [{"name": "alice"}]


def test_namedtuple_redact_keeps_the_shape_of_a_row(box: Box) -> None:
    result = box.returns("rows.redact", {"rows": [Row("alice", SECRET)]})
    assert result["rows"][0]["name"] == "alice"
    assert result["rows"][0]["ssn"] == "[REDACTED]"


def test_namedtuple_fails_a_validation_rule_on_its_field(box: Box) -> None:
    err = box.refused("rows.validate", Row("alice", SECRET))
    assert err.reason == d2.Reason.OUTPUT_VALIDATION


def test_require_fields_absent_sees_a_namedtuple_field(box: Box) -> None:
    box.refused("rows.absent", [Row("alice", SECRET)])


class Holder(enum.Enum):
    RECORD = {"name": "alice", "ssn": SECRET}  # noqa: RUF012 (an Enum member, not a class attribute)


class Plain(enum.Enum):
    SSN = SECRET


@pytest.mark.parametrize("tool", ALL_TOOLS)
def test_enum_holding_a_mapping_refuses(box: Box, tool: str) -> None:
    box.refused(tool, Holder.RECORD if tool == "rows.filter" else {"result": Holder.RECORD})


def test_enum_with_a_secret_value_is_scanned_by_deny_if_patterns(box: Box) -> None:
    box.refused("rows.patterns", {"code": Plain.SSN})


@pytest.mark.parametrize("tool", ALL_TOOLS)
def test_set_of_records_refuses(box: Box, tool: str) -> None:
    def wrap(value: Any) -> Any:
        return value if tool == "rows.filter" else {"rows": value}

    box.refused(tool, wrap(frozenset({Row("alice", SECRET)})))
    box.refused(tool, wrap({("alice", SECRET)}))


def test_set_of_scalars_is_fine(box: Box) -> None:
    assert box.returns("rows.filter", {"tags": {"a", "b"}, "ssn": SECRET}) == {"tags": {"a", "b"}}


class Opaque:
    def __init__(self) -> None:
        self.ssn = SECRET

    def __str__(self) -> str:
        return "nothing to see"

    __repr__ = __str__


@dataclasses.dataclass
class Person:
    name: str
    ssn: str


def _generator() -> Any:
    yield {"ssn": SECRET}


async def _coroutine() -> str:  # pragma: no cover (never awaited: the guard must refuse it)
    return SECRET


OPAQUE: dict[str, Callable[[], Any]] = {
    "generator": _generator,
    "map": lambda: map(str, [SECRET]),
    "iterator": lambda: iter([SECRET]),
    "object": Opaque,
}
DEEP_TOOLS = ("rows.redact", "rows.absent", "rows.patterns", "rows.size")


@pytest.mark.parametrize("make", OPAQUE.values(), ids=list(OPAQUE))
@pytest.mark.parametrize("tool", [*ALL_TOOLS, "rows.size"])
def test_uninspectable_results_refuse_for_every_rule(box: Box, tool: str, make: Callable[[], Any]) -> None:
    err = box.refused(tool, make())
    assert err.reason in (d2.Reason.OUTPUT_SANITIZATION, d2.Reason.OUTPUT_VALIDATION)


@pytest.mark.parametrize("tool", DEEP_TOOLS)
def test_an_opaque_object_anywhere_refuses_rules_that_reach_everywhere(box: Box, tool: str) -> None:
    box.refused(tool, {"x": [{"y": Opaque()}]})


def test_a_root_field_rule_does_not_need_to_see_unrelated_branches(box: Box) -> None:
    assert box.returns("rows.filter", {"x": "ok", "ssn": SECRET}) == {"x": "ok"}


@pytest.mark.parametrize("tool", [*ALL_TOOLS, "rows.size"])
def test_coroutine_result_refuses(box: Box, tool: str) -> None:
    coro = _coroutine()
    try:
        box.refused(tool, coro)
    finally:
        coro.close()


def test_dataclass_is_walked_as_a_mapping(box: Box) -> None:
    assert box.returns("rows.filter", [Person("alice", SECRET)]) == [{"name": "alice"}]
    box.refused("rows.patterns", Person("alice", SECRET))
    box.refused("rows.absent", Person("alice", SECRET))


def _cycle() -> Any:
    row: dict[str, Any] = {"name": "alice"}
    row["self"] = [row]
    return row


@pytest.mark.parametrize("tool", DEEP_TOOLS)
def test_cyclic_result_refuses_instead_of_hanging(box: Box, tool: str) -> None:
    with deadline(5):
        box.refused(tool, _cycle())


def test_a_cycle_on_the_path_of_a_field_rule_refuses(box: Box) -> None:
    rows: list[Any] = [{"ssn": SECRET}]
    rows.append(rows)
    with deadline(5):
        box.refused("rows.filter", rows)


def test_shared_rows_are_fine_and_scanned_once(box: Box) -> None:
    row = {"name": "alice"}
    level: Any = row
    for _ in range(64):  # 2**64 paths, 65 distinct containers
        level = [level, level]
    with deadline(5):
        assert box.returns("rows.patterns", level) is level
        assert box.returns("rows.absent", level) is level
        assert box.returns("rows.redact", level) is level
        box.refused("rows.size", level)  # 2**64 rows of JSON: far over 200 bytes, and no hang
