"""The quick gate for table-row cases is never looser than the scenario schema."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from d2._lang.schema import schema_diagnostics
from d2._lang.source import SourceDoc
from d2tools.testing._fastcheck import certainly_valid_case

_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-3, 20)
    | st.floats(allow_nan=False, width=16)
    | st.text(max_size=3),
    lambda c: st.lists(c, max_size=2) | st.dictionaries(st.text(max_size=3), c, max_size=2),
    max_leaves=4,
)


def _mostly(valid: list[Any], invalid: list[Any]) -> st.SearchStrategy[Any]:
    """Values that are usually valid, so a single wrong one is what hypothesis explores."""
    return st.one_of(*[st.sampled_from(valid)] * 7, st.sampled_from(invalid))


_name = _mostly(["n", "t.tool"], ["", 3, None, ["n"]])
_roles = _mostly(["a", ["a", "b"], []], ["", [""], [1], 5, None, {"a": 1}])
_user = _mostly(["u", None], [1, [], True])
_dict = _mostly([{}, {"k": [1]}], [[], "s", 1, None])
_expect_map = st.fixed_dictionaries(
    {},
    optional={
        "allow": _mostly([True], [False, 1, "yes", None]),
        "deny": _mostly(
            [True, "rbac", "data_flow", "output_validation"], ["rbca", "", False, 1, None, ["rbac"]]
        ),
        "rule": _mostly([3, "p.yaml:3", "x"], [True, 1.5, None, [3]]),
        "message": _mostly(["m"], ["", 1, None]),
        "output": _json,
        "facts": _mostly([[], ["A", ""]], ["A", [1], None]),
        "x-note": _json,
    },
)
_actor = st.fixed_dictionaries(
    {}, optional={"user": _user, "roles": _roles, "attributes": _dict, "usr": _json}
)
_step = st.fixed_dictionaries(
    {},
    optional={
        "call": _name,
        "args": _mostly([[1], {"a": 1}, []], [3, "s", None, True]),
        "kwargs": _dict,
        "returns": _json,
        "record": _mostly([["A"], []], [[""], "A", [1], None]),
        "as": st.one_of(_actor, _json),
        "expect": st.one_of(_mostly(["allow", "deny"], ["maybe", 1, None, True]), _expect_map),
        "description": _mostly(["d"], [1, None]),
        "x-k": _json,
        "cal": _json,
    },
)
_case = st.fixed_dictionaries(
    {},
    optional={
        "name": _name,
        "description": _mostly(["d", ""], [1, None]),
        "skip": _mostly([True, False, "why"], [1, None, []]),
        "user": _user,
        "roles": _roles,
        "attributes": _dict,
        "steps": st.one_of(st.lists(_step, min_size=1, max_size=3), st.sampled_from([[], None, "s"])),
        "where": _json,
        "x-a": _json,
        "bogus": _json,
    },
)


@settings(max_examples=600, deadline=None)
@given(_case)
def test_gate_accepts_only_schema_valid_cases(case: dict[str, Any]) -> None:
    case.pop("where", None)  # expanded cases never carry their table
    if certainly_valid_case(case):
        doc = SourceDoc("f", {"cases": [case]})
        assert schema_diagnostics(doc, "scenario.schema.json") == []


def test_gate_accepts_ordinary_cases() -> None:
    case = {
        "name": "n",
        "roles": ["a"],
        "steps": [
            {"call": "t", "args": [1], "expect": {"deny": "rbac", "rule": 3, "message": "m"}},
            {"record": ["L"], "expect": {"facts": ["L"]}},
            {
                "call": "u",
                "as": {"roles": "b"},
                "returns": {"a": 1},
                "expect": {"allow": True, "output": None},
            },
        ],
    }
    assert certainly_valid_case(case)
    assert not certainly_valid_case({**case, "roles": [""]})


BASE: dict[str, Any] = {
    "name": "n",
    "description": "d",
    "skip": False,
    "user": "u",
    "roles": ["a"],
    "attributes": {"k": 1},
    "x-a": 1,
    "steps": [
        {
            "call": "t",
            "args": [1],
            "kwargs": {"a": 1},
            "returns": {"a": 1},
            "as": {"user": "v", "roles": "b", "attributes": {}},
            "description": "d",
            "expect": {"deny": "rbac", "rule": 3, "message": "m", "facts": ["A"], "x-n": 1},
        },
        {"record": ["A"], "expect": {"allow": True, "output": [1]}},
    ],
}
BAD = [None, True, 1, 1.5, "", "rbca", [], [""], [1], {}, {"bogus": 1}]


def _paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path] if path else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*path, i))
    return out


def _replaced(node: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(node, dict):
        return {**node, head: _replaced(node[head], rest, value)}
    return [(_replaced(v, rest, value) if i == head else v) for i, v in enumerate(node)]


def test_every_single_wrong_value_is_caught_or_schema_valid() -> None:
    assert certainly_valid_case(BASE)
    checked = 0
    for path in _paths(BASE):
        for bad in BAD:
            case = _replaced(BASE, path, bad)
            if certainly_valid_case(case):
                assert schema_diagnostics(SourceDoc("f", {"cases": [case]}), "scenario.schema.json") == [], (
                    path,
                    bad,
                )
            checked += 1
    assert checked > 300
