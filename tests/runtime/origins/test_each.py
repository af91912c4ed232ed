"""List-valued arguments: ``each`` with every operator, and what every operator means on a whole list."""

from __future__ import annotations

import json
from typing import Any

import pytest

import d2

from .conftest import Agent, errors, grant

# (operator, operand, items that pass, items that fail): each row runs through `each` on a list.
EACH_ROWS: list[tuple[str, Any, list[Any], list[Any]]] = [
    ("type", "string", ["a", ""], [1, None, ["a"]]),
    ("eq", "a", ["a"], ["b", 1]),
    ("ne", "a", ["b"], ["a"]),
    ("min", 1, [1, 2.5], [0, "5", True]),
    ("max", 10, [10, -1], [11, "1"]),
    ("gt", 1, [2], [1, None]),
    ("lt", 1, [0], [1, "0"]),
    ("in", ["bob@corp.example", "carol@corp.example"], ["bob@corp.example"], ["eve@evil.example", 1]),
    ("not_in", ["eve@evil.example"], ["bob@corp.example"], ["eve@evil.example"]),
    ("minLength", 2, ["ab", [1, 2]], ["a", 5]),
    ("maxLength", 2, ["ab", ""], ["abc", 5]),
    ("matches", "[a-z]+@corp\\.example", ["bob@corp.example"], ["bob@corp.example.evil", 5]),
    ("not_matches", "(?i)evil", ["bob@corp.example"], ["eve@EVIL.example"]),
    ("contains", "@", ["a@b"], ["ab", 5]),
    ("not_contains", "..", ["a/b"], ["a/../b"]),
    ("startsWith", "https://", ["https://x"], ["http://x", 5]),
    ("endsWith", "@corp.example", ["bob@corp.example"], ["bob@evil.example"]),
    ("max_bytes", 3, ["abc", 12], ["abcd", 1234]),
]


def _each(op: str, operand: Any) -> str:
    return f"x: {{each: {{{op}: {json.dumps(operand)}}}}}"


@pytest.mark.parametrize(("op", "operand", "good", "bad"), EACH_ROWS, ids=[r[0] for r in EACH_ROWS])
def test_each_applies_every_operator_to_every_item(
    agent: Agent, op: str, operand: Any, good: list[Any], bad: list[Any]
) -> None:
    agent.load_input(_each(op, operand))
    assert agent.passes(list(good)), f"{op}: {good} should pass"
    assert agent.passes(tuple(good)), "a tuple is a list too"
    for item in bad:
        assert not agent.passes([*good, item]), f"{op}: {item!r} among good items should fail"
        assert not agent.passes([item]), f"{op}: {item!r} alone should fail"


def test_each_covers_every_plain_operator() -> None:
    from d2._lang.operators import OPERATORS

    assert {row[0] for row in EACH_ROWS} == set(OPERATORS)


def test_each_needs_a_list_and_passes_an_empty_one(agent: Agent) -> None:
    agent.load_input("x: {each: {in: [a]}}")
    assert agent.passes([])
    for value in ("a", None, {"a": 1}, {"a"}, 5, (x for x in ["a"])):
        assert not agent.passes(value), value


def test_min_length_beside_each_requires_items(agent: Agent) -> None:
    agent.load_input("x: {type: list, minLength: 1, maxLength: 3, each: {in: [a, b]}}")
    assert agent.passes(["a", "b"])
    assert not agent.passes([])
    assert not agent.passes(["a", "b", "a", "b"])


def test_nested_each_checks_lists_of_lists(agent: Agent) -> None:
    agent.load_input("x: {each: {maxLength: 2, each: {type: int, min: 0}}}")
    assert agent.passes([[1, 2], [], [3]])
    assert not agent.passes([[1, -1]])
    assert not agent.passes([[1, 2, 3]])
    assert not agent.passes([1])


def test_each_with_an_attribute_operand(agent: Agent) -> None:
    agent.load_input("x: {each: {in: {$attr: user.contacts}}}")
    with d2.set_user_context("u", ["r"], attributes={"contacts": ["bob@corp.example", "ann@corp.example"]}):
        assert agent.verdict(["bob@corp.example", "ann@corp.example"]) is None
        refused = agent.verdict(["bob@corp.example", "eve@evil.example"])
    assert refused is not None and refused.reason == "input_validation"
    with d2.set_user_context("u", ["r"]):
        missing = agent.verdict(["bob@corp.example"])
    assert missing is not None and missing.reason == "missing_attribute"


def test_refusal_names_the_item_and_the_inner_operator(agent: Agent) -> None:
    agent.load_input("x: {each: {each: {in: [a, b]}}}")
    with d2.set_user_context("u", ["r"]):
        exc = agent.verdict([["a"], ["b", "zzz"]])
    assert exc is not None
    assert exc.detail == "parameter 'x' item [1][1] failed 'in': must be one of [\"a\", \"b\"]"
    assert exc.location is not None and exc.location.endswith(":7:31")  # the inner 'in'
    assert "zzz" not in str(exc)


def test_a_non_list_fails_each_with_its_own_message(agent: Agent) -> None:
    agent.load_input("x: {each: {in: [a]}}")
    with d2.set_user_context("u", ["r"]):
        exc = agent.verdict("a")
    assert exc is not None
    assert "failed 'each': must be a list whose every item passes its rules" in (exc.detail or "")


# -- operators on a whole list (no `each`) ------------------------------------------------------

WHOLE_LIST: list[tuple[str, str, list[Any], list[Any]]] = [
    # operator, operand, lists that pass, lists that fail
    ("type", "list", [["a"], []], []),
    ("eq", '["a", "b"]', [["a", "b"], ("a", "b")], [["b", "a"], ["a"]]),
    ("ne", '["a"]', [["b"]], [["a"]]),
    ("min", "1", [], [[5]]),
    ("in", "[a, b]", [], [["a"], []]),
    ("not_in", "[eve]", [], [["eve"], ["bob"]]),
    ("minLength", "2", [["a", "b"]], [["a"]]),
    ("maxLength", "1", [["a"], []], [["a", "b"]]),
    ("matches", "a", [], [["a"]]),
    ("not_matches", "eve", [["bob"]], [["bob", "eve@x"]]),
    ("contains", "bob", [["bob", "ann"]], [["bobby"]]),
    ("not_contains", "eve", [["bob"]], [["eve"]]),
    ("startsWith", "a", [], [["a"]]),
    ("max_bytes", "9", [["abc"]], [["abcdefgh"]]),
]


@pytest.mark.parametrize(("op", "operand", "good", "bad"), WHOLE_LIST, ids=[r[0] for r in WHOLE_LIST])
def test_operators_see_the_whole_list_without_each(
    agent: Agent, op: str, operand: str, good: list[Any], bad: list[Any]
) -> None:
    agent.load_input(f"x: {{{op}: {operand}}}")
    for value in good:
        assert agent.passes(value), value
    for value in bad:
        assert not agent.passes(value), value


def test_a_scalar_operator_failing_on_a_list_hints_at_each(agent: Agent) -> None:
    agent.load_input("x: {in: [bob]}")
    with d2.set_user_context("u", ["r"]):
        exc = agent.verdict(["bob"])
    assert exc is not None and "write 'each: {in: ...}'" in (exc.detail or "")


# -- None and defaults --------------------------------------------------------------------------


def test_null_in_type_lets_an_optional_argument_stay_none(agent: Agent) -> None:
    agent.load_input("x: {type: [list, null], each: {in: {$attr: user.contacts}}}")
    with d2.set_user_context("u", ["r"], attributes={"contacts": ["bob"]}):
        assert agent.verdict() is None  # the default None is checked, and null is allowed
        assert agent.verdict(None) is None
        assert agent.verdict(["bob"]) is None
        assert agent.verdict(["eve"]) is not None


def test_without_null_in_type_a_default_none_is_refused(agent: Agent) -> None:
    agent.load_input("x: {each: {in: [bob]}}")
    with d2.set_user_context("u", ["r"]):
        exc = agent.verdict()
    assert exc is not None and exc.reason == "input_validation"


def test_null_rule_is_the_same_in_restrictions(agent: Agent) -> None:
    agent.load("policies:\n  - role: r\n    permissions: [t]\n")
    fragment = {"conditions": {"t": {"input": {"x": {"type": ["list", "null"], "each": {"in": ["bob"]}}}}}}
    with d2.set_user_context("u", ["r"]):
        with d2.restrict(fragment):
            assert agent.verdict() is None
            assert agent.verdict(["bob"]) is None
            exc = agent.verdict(["eve"])
    assert exc is not None and exc.reason == "restriction" and "item [0] failed 'in'" in (exc.detail or "")
    with d2.set_user_context("u", ["r"]):
        with d2.restrict({"conditions": {"t": {"input": {"x": {"each": {"in": ["bob"]}}}}}}):
            assert agent.verdict() is not None  # default None, null not allowed: refused as in a policy


def test_null_in_type_skips_the_other_operators_only_for_none(agent: Agent) -> None:
    agent.load_input("x: {type: [int, null], min: 1}")
    assert agent.passes(None) and agent.passes(3)
    assert not agent.passes(0) and not agent.passes("3")


# -- load errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("x: {each: {maxLenght: 1}}", "unknown operator 'maxLenght' for 'each' (did you mean 'maxLength'?)"),
        (
            "x: {each: {each: {maxLenght: 1}}}",
            "unknown operator 'maxLenght' for 'each' (did you mean 'maxLength'?)",
        ),
        ("x: {each: {required: true}}", "'required' has no meaning inside 'each'"),
        ("x: {each: [a]}", "must be a mapping"),
        ("x: {type: list, in: [a]}", "to check every item of a list, write 'each: {in: ...}'"),
        ("x: {type: string, each: {in: [a]}}", "'each' needs a value of type list"),
        ("x: {each: {min: abc}}", "must be a number"),
        ("x: {each: {each: {min: abc}}}", "expected a number"),
        ("x: {each: {each: {in: []}}}", "an empty list allows no value"),
    ],
)
def test_load_errors_inside_each(body: str, fragment: str) -> None:
    found = errors(grant(body))
    assert found and any(fragment in e for e in found), found


def test_each_that_checks_nothing_is_a_warning() -> None:
    from .conftest import compile_text

    result = compile_text(grant("x: {each: {}}"))
    assert result.policy is not None
    assert [d.code for d in result.warnings] == ["D2W101"]


def test_ne_with_a_scalar_operand_refuses_a_list(agent: Agent) -> None:
    agent.load_input("x: {ne: a}")
    assert agent.passes("b")
    assert not agent.passes(["b"])


def test_the_extra_operator_tables_agree() -> None:
    import json
    from pathlib import Path

    from d2._lang.extra_ops import _SIMPLE, EXTRA_OPERATORS

    assert {"each", *_SIMPLE} == EXTRA_OPERATORS
    schema = json.loads((Path(__file__).parents[3] / "schemas" / "policy.schema.json").read_text())
    constraint = set(schema["$defs"]["constraint"]["properties"])
    item = set(schema["$defs"]["itemConstraint"]["properties"])
    assert EXTRA_OPERATORS <= constraint and EXTRA_OPERATORS <= item
    assert constraint - {"required"} == item - {"required"}, "each's items take the parameter's operators"
