"""Input conditions compare exact built-in values and hand the tool what they checked.

Issue 11 items 13, 14 and 15: a negative operator refuses a value of a type no operand has; a
``str``/``int`` subclass with lying comparisons is normalised before it is compared; a container a
condition inspected reaches the tool as the snapshot that was checked; a cyclic argument refuses.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import d2

from .conftest import deadline

POLICY = r"""
policies:
  - role: r
    permissions:
      - tool: admin.grant
        conditions:
          input:
            role: {not_in: [admin, root]}
      - tool: notes.write
        conditions:
          input:
            status: {ne: closed}
            tags: {not_contains: secret}
      - tool: db.query
        conditions:
          input:
            table: {in: [analytics]}
            sql: {not_matches: '(?i)drop'}
            limit: {type: int, max: 100}
      - tool: kw.tool
        conditions:
          input:
            table: {in: [analytics]}
      - tool: mixed.tool
        conditions:
          input:
            value: {not_in: [admin, 1, true]}
            other: {ne: null}
      - tool: out.tool
        conditions:
          output:
            role: {not_in: [admin]}
"""

SEEN: dict[str, Any] = {}


@pytest.fixture(autouse=True)
def _policy(load: Callable[[str], Path]) -> None:
    load(POLICY)
    SEEN.clear()


@d2.d2_guard("admin.grant")
def grant(role: Any) -> str:
    SEEN["role"] = role
    return "granted"


@d2.d2_guard("notes.write")
def write_note(status: Any = "open", tags: Any = ()) -> str:
    SEEN["status"], SEEN["tags"] = status, tags
    return "written"


@d2.d2_guard("db.query")
def query(table: Any, sql: Any = "select 1", limit: Any = 10) -> Any:
    SEEN["table"], SEEN["sql"], SEEN["limit"] = table, sql, limit
    return "rows"


@d2.d2_guard("kw.tool")
def loose(**kwargs: Any) -> Any:
    SEEN.update(kwargs)
    return "ran"


@d2.d2_guard("mixed.tool")
def mixed(value: Any = "x", other: Any = "y") -> str:
    return "ran"


def _allowed(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> bool:
    with d2.set_user_context("u", ["r"]):
        try:
            fn(*args, **kwargs)
        except d2.PermissionDeniedError as exc:
            assert exc.reason == d2.Reason.INPUT_VALIDATION, exc
            return False
    return True


# -- item 13: negative operators --------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [["admin"], ("admin",), {"admin"}, frozenset({"admin"}), b"admin", bytearray(b"admin"), 5, 1.5, None],
    ids=repr,
)
def test_not_in_refuses_a_value_of_a_type_no_operand_has(value: Any) -> None:
    assert not _allowed(grant, value)


def test_not_in_refuses_an_iterator() -> None:
    assert not _allowed(grant, iter(["admin"]))
    assert "role" not in SEEN


def test_not_in_still_allows_a_value_of_the_operands_type() -> None:
    assert _allowed(grant, "viewer")
    assert not _allowed(grant, "admin")


@pytest.mark.parametrize("value", [["closed"], ("closed",), b"closed", 3, {"closed": 1}], ids=repr)
def test_ne_refuses_a_value_of_another_type(value: Any) -> None:
    assert not _allowed(write_note, status=value)
    assert _allowed(write_note, status="open")


@pytest.mark.parametrize(
    "value", [{"secret"}, frozenset({"secret"}), b"secret", iter(["secret"]), 7], ids=repr
)
def test_not_contains_refuses_values_it_cannot_look_into(value: Any) -> None:
    assert not _allowed(write_note, tags=value)


def test_not_contains_still_reads_lists_strings_and_dicts() -> None:
    assert _allowed(write_note, tags=["a", "b"])
    assert _allowed(write_note, tags="public")
    assert _allowed(write_note, tags={"a": 1})
    assert not _allowed(write_note, tags=["a", "secret"])
    assert not _allowed(write_note, tags="top secret")
    assert not _allowed(write_note, tags={"secret": 1})


def test_not_in_accepts_every_type_its_operands_have() -> None:
    for value in ("x", 5, 2.5, False):
        assert _allowed(mixed, value), value
    for value in ("admin", 1, 1.0, True, None, [1], b"x", {"a": 1}):
        assert not _allowed(mixed, value), value


def test_ne_null_forbids_only_none() -> None:
    for other in ("x", 0, False, [None], {}):
        assert _allowed(mixed, other=other), other
    assert not _allowed(mixed, other=None)


def test_output_not_in_compares_a_str_subclass_as_its_text() -> None:
    class Role(str):
        pass

    value: dict[str, Any] = {}
    tool = d2.d2_guard("out.tool")(lambda: value)
    with d2.set_user_context("u", ["r"]):
        value["role"] = Role("viewer")
        assert tool() == {"role": "viewer"}
        value["role"] = Role("admin")
        with pytest.raises(d2.PermissionDeniedError):
            tool()
        value["role"] = ["viewer"]
        with pytest.raises(d2.PermissionDeniedError):
            tool()


# -- item 14: exact built-in values -------------------------------------------------------------


class Liar(str):
    """A string that claims to equal everything and hashes like an allowed value."""

    def __eq__(self, other: object) -> bool:
        return True

    def __ne__(self, other: object) -> bool:
        return False

    def __hash__(self) -> int:
        return hash("analytics")


class Huge(int):
    """An int that claims to be small."""

    def __le__(self, other: object) -> bool:
        return True

    def __lt__(self, other: object) -> bool:
        return True

    def __ge__(self, other: object) -> bool:
        return True

    def __gt__(self, other: object) -> bool:
        return True


def test_str_subclass_with_lying_eq_does_not_pass_in() -> None:
    assert not _allowed(query, Liar("users"))


def test_str_subclass_with_lying_eq_does_not_pass_in_through_kwargs() -> None:
    assert not _allowed(loose, table=Liar("users"))


def test_str_subclass_with_lying_eq_does_not_pass_ne() -> None:
    assert not _allowed(write_note, status=Liar("closed"))


def test_int_subclass_with_lying_comparisons_does_not_pass_max() -> None:
    assert not _allowed(query, "analytics", limit=Huge(10**9))


def test_a_subclass_that_passes_reaches_the_tool_as_the_exact_value_checked() -> None:
    class Tagged(str):
        pass

    assert _allowed(query, Tagged("analytics"), limit=Huge(50))
    assert type(SEEN["table"]) is str and SEEN["table"] == "analytics"
    assert type(SEEN["limit"]) is int and SEEN["limit"] == 50


def test_kwargs_entries_reach_the_tool_as_checked() -> None:
    class Tagged(str):
        pass

    assert _allowed(loose, table=Tagged("analytics"), other=Tagged("x"))
    assert type(SEEN["table"]) is str
    assert type(SEEN["other"]) is Tagged  # not inspected by any condition: untouched


def test_the_tool_gets_the_container_that_was_checked() -> None:
    tags = ["a", "b"]

    @d2.d2_guard("notes.write")
    def racing(status: str = "open", tags: Any = ()) -> list[str]:
        original.append("secret")  # another thread changing the caller's list after the check
        return list(tags)

    original = tags
    with d2.set_user_context("u", ["r"]):
        assert racing(tags=tags) == ["a", "b"]


def test_unchecked_arguments_are_passed_as_they_are() -> None:
    payload = {"big": list(range(10))}
    with d2.set_user_context("u", ["r"]):
        query("analytics", "select 1", 5)
        assert SEEN["table"] == "analytics"
    sentinel = object()

    @d2.d2_guard("kw.tool")
    def passthrough(table: str, extra: Any = None) -> Any:
        return extra

    with d2.set_user_context("u", ["r"]):
        assert passthrough("analytics", extra=payload) is payload
        assert passthrough("analytics", sentinel) is sentinel


# -- item 15: cycles ----------------------------------------------------------------------------


def test_cyclic_argument_refuses_instead_of_hanging() -> None:
    loop: list[Any] = ["select 1"]
    loop.append(loop)
    with deadline(5):
        assert not _allowed(query, "analytics", loop)


def test_cyclic_dict_argument_refuses() -> None:
    loop: dict[str, Any] = {}
    loop["self"] = loop
    with deadline(5):
        assert not _allowed(write_note, tags=loop)
