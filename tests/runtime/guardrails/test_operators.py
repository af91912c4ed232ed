"""The operator table: each operator's semantics, and property tests against a plain reference."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from d2._base.diagnostics import Location
from d2._lang.fuse import fuse
from d2._lang.operators import OPERATORS, Check, operand_test

HERE = Location("test", 1, 1)


def compiled(op: str, operand: Any) -> Any:
    test, _expect, _prepared = operand_test(OPERATORS[op], operand)
    return lambda value: test(value, None)


# -- a straightforward reference implementation of the documented semantics ----------------------


def ref_number(v: Any) -> bool:
    return type(v) in (int, float)


def ref_same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is bool and type(b) is bool and a == b
    if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
        return (
            isinstance(a, (list, tuple))
            and isinstance(b, (list, tuple))
            and len(a) == len(b)
            and all(ref_same(x, y) for x, y in zip(a, b, strict=True))
        )
    if isinstance(a, dict) or isinstance(b, dict):
        return (
            isinstance(a, dict)
            and isinstance(b, dict)
            and a.keys() == b.keys()
            and all(ref_same(a[k], b[k]) for k in a)
        )
    return bool(a == b)


REF_TYPES = {
    "string": lambda v: isinstance(v, str), "str": lambda v: isinstance(v, str),
    "int": lambda v: type(v) is int, "integer": lambda v: type(v) is int,
    "float": ref_number, "number": ref_number,
    "bool": lambda v: type(v) is bool, "boolean": lambda v: type(v) is bool,
    "list": lambda v: isinstance(v, (list, tuple)), "array": lambda v: isinstance(v, (list, tuple)),
    "dict": lambda v: isinstance(v, dict), "object": lambda v: isinstance(v, dict),
    "null": lambda v: v is None,
}  # fmt: skip


def ref_texts(v: Any) -> list[str]:
    if isinstance(v, str):
        return [v]
    if isinstance(v, bool) or v is None:
        return []
    if isinstance(v, int):
        return [str(v)]
    if isinstance(v, float):
        return [repr(v)]
    if isinstance(v, dict):
        return [t for k, x in v.items() for t in [k, *ref_texts(x)]]
    return [t for x in v for t in ref_texts(x)]


def ref_contains(v: Any, item: Any) -> bool:
    if isinstance(v, str):
        return isinstance(item, str) and item in v
    if isinstance(v, (list, tuple)):
        return any(ref_same(x, item) for x in v)
    if isinstance(v, dict):
        return any(ref_same(k, item) for k in v)
    return False


def ref_kind(v: Any) -> str | None:
    """The operand type of a value, as negative operators compare types."""
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "str"
    if v is None:
        return "null"
    if isinstance(v, (list, tuple)):
        return "list"
    return "dict" if isinstance(v, dict) else None


def ref_size(v: Any) -> int:
    if isinstance(v, str):
        return len(v.encode("utf-8"))
    return len(json.dumps(v, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


def reference(op: str, operand: Any, v: Any) -> bool:
    sized = isinstance(v, (str, list, tuple, dict))
    table = {
        "type": lambda: any(REF_TYPES[n](v) for n in ([operand] if isinstance(operand, str) else operand)),
        "eq": lambda: ref_same(v, operand),
        # Negative operators refuse a value of a type none of their operands has (issue 11, item 13).
        "ne": lambda: (operand is None or ref_kind(v) == ref_kind(operand)) and not ref_same(v, operand),
        "min": lambda: ref_number(v) and v >= operand,
        "max": lambda: ref_number(v) and v <= operand,
        "gt": lambda: ref_number(v) and v > operand,
        "lt": lambda: ref_number(v) and v < operand,
        "in": lambda: any(ref_same(v, x) for x in operand),
        "not_in": lambda: (
            (not operand or ref_kind(v) in {ref_kind(x) for x in operand})
            and not any(ref_same(v, x) for x in operand)
        ),
        "minLength": lambda: sized and len(v) >= operand,
        "maxLength": lambda: sized and len(v) <= operand,
        "matches": lambda: isinstance(v, str) and re.fullmatch(operand, v) is not None,
        "not_matches": lambda: not any(re.search(operand, t) for t in ref_texts(v)),
        "contains": lambda: ref_contains(v, operand),
        "not_contains": lambda: ref_kind(v) in ("str", "list", "dict") and not ref_contains(v, operand),
        "startsWith": lambda: isinstance(v, str) and v.startswith(operand),
        "endsWith": lambda: isinstance(v, str) and v.endswith(operand),
        "max_bytes": lambda: ref_size(v) <= operand,
    }
    return bool(table[op]())


# -- strategies --------------------------------------------------------------------------------------

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 5), st.integers(),
    st.floats(allow_nan=False, allow_infinity=False), st.sampled_from(["", "a", "ab", "abc", "é", "1"]), st.text(max_size=8),
)  # fmt: skip
# Scalars drawn directly as well as inside containers: st.recursive alone rarely yields a bare scalar.
values = st.one_of(
    scalars,
    st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=3), inner, max_size=4)
        ),
        max_leaves=12,
    ),
)
numbers = st.one_of(st.integers(-10, 10), st.floats(-10, 10, allow_nan=False))
counts = st.integers(0, 6)
# Patterns both engines read the same way on any text (no \d \w \s, no (?i)): literal, subset, RE2-only.
patterns = st.sampled_from(
    [
        "a",
        "ab",
        "^[a-c_]+$",
        "a.c",
        "[^a]b?",
        "x|yz",
        "(ab)+",
        "a{2,3}",
        "[0-9]{2}-[0-9]",
        ".*@ex\\.com",
        "é+",
    ]
)
type_names = st.sampled_from(sorted(REF_TYPES))
operands = {
    "type": st.one_of(type_names, st.lists(type_names, min_size=1, max_size=3)),
    "eq": values, "ne": values, "min": numbers, "max": numbers, "gt": numbers, "lt": numbers,
    "in": st.lists(scalars, min_size=1, max_size=4), "not_in": st.lists(scalars, max_size=4),
    "minLength": counts, "maxLength": counts, "matches": patterns,
    "not_matches": patterns.filter(lambda p: re.search(p, "") is None),
    "contains": scalars, "not_contains": scalars, "startsWith": st.text(max_size=2),
    "endsWith": st.text(max_size=2), "max_bytes": st.integers(0, 40),
}  # fmt: skip


@pytest.mark.parametrize("op", sorted(OPERATORS))
@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_operator_agrees_with_the_reference(op: str, data: st.DataObject) -> None:
    operand = data.draw(operands[op], label="operand")
    value = data.draw(values, label="value")
    assert compiled(op, operand)(value) == reference(op, operand, value)


@settings(max_examples=400, deadline=None)
@given(data=st.data())
def test_fused_predicate_is_the_conjunction_of_its_checks(data: st.DataObject) -> None:
    ops = data.draw(st.lists(st.sampled_from(sorted(OPERATORS)), min_size=1, max_size=5, unique=True))
    checks = []
    for op in ops:
        test, expect, prepared = operand_test(OPERATORS[op], data.draw(operands[op]))
        checks.append(Check(op, test, HERE, expect, prepared))
    value = data.draw(values)
    fused = fuse(tuple(checks))
    assert fused(value, None) == all(c.test(value, None) for c in checks)


# -- explicit semantics --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "operand", "passing", "failing"),
    [
        ("type", "int", [1, -3, 10**30], [True, 1.0, "1", None]),
        ("type", "float", [1, 1.5, Decimal("2.5")], [True, "1.5", None]),
        ("type", ["string", None], ["x", None], [1, False]),
        ("type", "list", [[1], (1,)], [{"a": 1}, "ab"]),
        ("type", "dict", [{}, {"a": 1}], [[], None]),
        ("eq", 1, [1, 1.0], [True, "1"]),
        ("eq", True, [True], [1, "true"]),
        ("eq", "admin", ["admin"], ["Admin", ["admin"]]),
        ("eq", [1, {"a": True}], [[1, {"a": True}], (1, {"a": True})], [[1, {"a": 1}]]),
        ("ne", "guest", ["admin"], ["guest", None, ["admin"], 1]),
        ("ne", None, ["x", 0, [1]], [None]),
        ("min", 1, [1, 2.5, Decimal(3)], [0, True, "5", None, float("nan")]),
        ("lt", 100, [99.9, -1], [100, float("inf")]),
        ("in", ["sales", "marketing", 1], ["sales", 1, 1.0], [True, "Sales", ["sales"], None]),
        ("not_in", ["sms", "push", False], ["email", True], ["sms", False, 0, None, ["email"], b"email"]),
        ("not_in", [], ["x", 1, None, [1]], []),
        ("minLength", 3, ["abc", [1, 2, 3], {"a": 1, "b": 2, "c": 3}], ["ab", 123, None]),
        ("maxLength", 2, ["ab", "", (1, 2)], ["abc", 12]),
        ("matches", "^[a-z_]+$", ["weekly_summary"], ["Ad-Hoc", "", "abc\n", 5]),
        (
            "not_matches",
            "(?i)password",
            ["fine", 5, {"k": ["ok"]}],
            ["my PASSWORD", {"x": ["password"]}, {"Password": 1}],
        ),
        ("contains", "@example.com", ["a@example.com"], ["a@other.com", 5]),
        ("contains", 2, [[1, 2], {2: "x"}], [[1, True], "12"]),
        ("not_contains", "../", ["a/b", ["a/../b"]], ["../etc/passwd", ["../"], {"../"}, b"../", 5]),
        ("startsWith", "https://", ["https://x"], ["http://x", None]),
        ("endsWith", ".com", ["x.com"], ["x.org", [".com"]]),
        ("max_bytes", 4, ["abcd", "éé", [1], 1234], ["abcde", "ééé", [1, 2], 12345]),
    ],
)
def test_operator_semantics(op: str, operand: Any, passing: list[Any], failing: list[Any]) -> None:
    test = compiled(op, operand)
    assert [test(v) for v in passing] == [True] * len(passing)
    assert [test(v) for v in failing] == [False] * len(failing)


def test_max_bytes_counts_utf8_bytes_of_long_strings() -> None:
    test = compiled("max_bytes", 10)
    assert test("a" * 10) and not test("a" * 11)
    assert test("é" * 5) and not test("é" * 6)
    assert not test("\U0001f600" * 3)


def test_yaml_null_names_the_null_type(kit: Any) -> None:
    check = kit.input_rules("note: {type: [string, null]}")
    assert check.check({"note": None}, kit.state) is None
    assert check.check({"note": 3}, kit.state).operator == "type"
