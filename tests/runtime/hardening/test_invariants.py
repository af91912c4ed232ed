"""The guard's promises, stated once and tried on random policies, users, arguments and results.

1. A call is allowed exactly when a small reference evaluator (written here, independently of the
   engine) says the policy allows it.
2. Any exception inside the guard refuses the call: the caller sees a PermissionDeniedError or the
   ``on_deny`` value, never the raw result and never another exception.
3. An output rule never lets a named field through, whatever container holds it.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import os
import tempfile
import typing
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import d2

ROLES = ("r1", "r2", "r3")
TOOLS = ("t1", "t2", "t3")
SCALARS: list[Any] = ["a", "b", "admin", "", 0, 1, 2, 2.5, True, False, None]
SETTINGS = settings(
    max_examples=int(os.environ.get("D2_INVARIANT_EXAMPLES", "100")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


class Liar(str):
    """A string subclass that claims to equal everything."""

    def __eq__(self, other: object) -> bool:
        return True

    def __ne__(self, other: object) -> bool:
        return False

    def __hash__(self) -> int:
        return hash("a")


# -- the reference evaluator ----------------------------------------------------------------------


def _kind(v: Any) -> str | None:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "str"
    if v is None:
        return "null"
    return None


def _plain(v: Any) -> Any:
    return str.__str__(v) if isinstance(v, str) else v


def _equal(v: Any, o: Any) -> bool:
    v = _plain(v)
    return _kind(v) is not None and _kind(v) == _kind(o) and v == o


def ref_check(op: str, operand: Any, value: Any) -> bool:
    """What each operator means, written from the docs (docs/guardrails.md, SECURITY.md)."""
    value = _plain(value)
    kind = _kind(value)
    if op == "in":
        return any(_equal(value, o) for o in operand)
    if op == "not_in":
        return kind in {_kind(o) for o in operand} and not any(_equal(value, o) for o in operand)
    if op == "eq":
        return _equal(value, operand)
    if op == "ne":
        if operand is None:
            return value is not None
        return kind == _kind(operand) and not _equal(value, operand)
    if op in ("min", "max"):
        if kind != "number":
            return False
        return bool(value >= operand) if op == "min" else bool(value <= operand)
    if op == "type":
        wanted = {"str": "str", "int": "int", "bool": "bool", "null": "null", "list": "list"}[operand]
        if wanted == "int":
            return isinstance(value, int) and not isinstance(value, bool)
        if wanted == "list":
            return isinstance(value, (list, tuple))
        return kind == wanted
    raise AssertionError(op)


def reference_allows(policy: dict[str, Any], roles: frozenset[str], tool: str, x: Any) -> bool:
    entries = policy["policies"]
    granted = False
    for entry in entries:
        if entry["role"] not in roles:
            continue
        for perm in entry["permissions"]:
            if perm == "*":
                granted = True
            elif isinstance(perm, str):
                granted = granted or perm == tool
            elif perm["tool"] == tool:
                if perm.get("allow", True) is False:
                    return False
                conds = perm.get("conditions", {}).get("input", {}).get("x", {})
                if all(ref_check(op, operand, x) for op, operand in conds.items()):
                    granted = True
    return granted


# -- strategies -------------------------------------------------------------------------------------

operands = {
    "in": st.lists(st.sampled_from(SCALARS), min_size=1, max_size=3, unique_by=repr),
    "not_in": st.lists(st.sampled_from(SCALARS), min_size=1, max_size=3, unique_by=repr),
    "eq": st.sampled_from(SCALARS),
    "ne": st.sampled_from(SCALARS),
    "min": st.integers(-1, 2),
    "max": st.integers(-1, 2),
    "type": st.sampled_from(["str", "int", "bool", "null", "list"]),
}


@st.composite
def conditions(draw: st.DrawFn) -> dict[str, Any]:
    ops = draw(st.lists(st.sampled_from(sorted(operands)), min_size=1, max_size=2, unique=True))
    return {op: draw(operands[op]) for op in ops}


@st.composite
def permission(draw: st.DrawFn) -> Any:
    tool = draw(st.sampled_from(TOOLS))
    kind = draw(st.sampled_from(["plain", "conditional", "conditional", "conditional", "deny", "star"]))
    if kind == "plain":
        return tool
    if kind == "star":
        return "*"
    if kind == "deny":
        return {"tool": tool, "allow": False}
    return {"tool": tool, "conditions": {"input": {"x": draw(conditions())}}}


@st.composite
def policies(draw: st.DrawFn) -> dict[str, Any]:
    entries = []
    for role in ROLES:
        perms = draw(st.lists(permission(), min_size=0, max_size=3))
        # One grant per (role, tool) keeps the policy free of duplicate-grant warnings.
        seen: set[str] = set()
        unique = []
        for p in perms:
            key = p if isinstance(p, str) else p["tool"]
            if key not in seen:
                seen.add(key)
                unique.append(p)
        if unique:
            entries.append({"role": role, "permissions": unique})
    assume(entries)
    return {"policies": entries}


arg_values = st.one_of(
    st.sampled_from(SCALARS),
    st.integers(-3, 3),
    st.sampled_from([-0.5, 1.0, 2.0, 3.5]),
    st.lists(st.sampled_from(["a", "admin", 1]), max_size=2),
    st.lists(st.sampled_from(["a", "admin"]), max_size=2).map(tuple),
    st.sets(st.sampled_from(["a", "admin"]), max_size=2),
    st.binary(max_size=3),
    st.sampled_from(["a", "admin", "zzz"]).map(Liar),
)


# -- the system under test --------------------------------------------------------------------------


def _body(x: Any = None) -> str:
    return "ran"


GUARDED = {tool: d2.d2_guard(tool, on_deny="refused")(_body) for tool in TOOLS}


def _load(policy: dict[str, Any]) -> bool:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "policy.json"
        path.write_text(json.dumps(policy))
        try:
            d2.configure_rbac_sync(path)
        except d2.ConfigurationError:
            return False  # e.g. min above max: refused at load, which is its own promise
    return True


@SETTINGS
@given(
    policy=policies(),
    roles=st.one_of(st.just(set(ROLES)), st.sets(st.sampled_from(ROLES))),
    tool=st.sampled_from(TOOLS),
    x=arg_values,
)
def test_allowed_exactly_when_the_reference_evaluator_allows(
    policy: dict[str, Any], roles: set[str], tool: str, x: Any
) -> None:
    assume(_load(policy))
    with d2.set_user_context("u", sorted(roles)):
        outcome = GUARDED[tool](x)
    expected = reference_allows(policy, frozenset(roles), tool, x)
    assert (outcome == "ran") == expected, (policy, roles, tool, x)


# -- results: any exception refuses; a named field never leaks -----------------------------------------

SECRET = "999-88-7777"
RULES = {
    "o.filter": {"**.ssn": {"action": "filter"}},
    "o.redact": {"**.ssn": {"action": "redact"}},
    "o.absent": {"require_fields_absent": ["ssn"]},
    "o.deny": {"**.ssn": {"action": "deny"}},
    "o.patterns": {"deny_if_patterns": [r"\d{3}-\d{2}-\d{4}"]},
}
OUTPUT_POLICY = {
    "policies": [
        {"role": "r", "permissions": [{"tool": t, "conditions": {"output": o}} for t, o in RULES.items()]}
    ]
}


class Row(typing.NamedTuple):
    name: str
    ssn: str


@dataclasses.dataclass
class Person:
    name: Any
    ssn: Any


class Holder(enum.Enum):
    RECORD = {"ssn": SECRET}  # noqa: RUF012 (an Enum member)


class Boom(Mapping[str, Any]):
    """A mapping that raises while being read (any exception inside the guard must refuse)."""

    def __getitem__(self, key: str) -> Any:
        raise KeyError(key)

    def get(self, key: str, default: Any = None) -> Any:
        raise ValueError("boom")

    def __iter__(self) -> Iterator[str]:
        raise RuntimeError("boom")

    def __len__(self) -> int:
        return 1


def _gen() -> Iterator[Any]:
    yield {"ssn": SECRET}


leaf = st.sampled_from(["x", 1, 2.5, None, True, b"b", SECRET])


def _wrap(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.lists(children, max_size=3),
        st.lists(children, max_size=3).map(tuple),
        st.dictionaries(st.sampled_from(["ssn", "name", "rows"]), children, max_size=3),
        st.builds(Row, st.just("n"), children),
        st.builds(Person, children, children),
        st.lists(st.sampled_from(["x", SECRET]), max_size=2).map(frozenset),
        st.builds(lambda c: frozenset({("n", c)}) if isinstance(c, str) else [c], children),
    )


_base = st.one_of(
    leaf, st.just(Holder.RECORD), st.builds(Boom), st.builds(_gen), st.builds(lambda: map(str, [SECRET]))
)
# Three levels of nesting, built explicitly (st.recursive warns when a draw never recurses).
_level1 = _wrap(_base)
_level2 = _wrap(st.one_of(_base, _level1))
results = st.one_of(_base, _level1, _level2, _wrap(st.one_of(_base, _level1, _level2)))

_PLAIN_TYPES = (str, bytes, int, float, bool, type(None))


def _texts(value: Any) -> Iterator[str]:
    """Every text in a returned value; fails on anything the guard should not have let out."""
    if isinstance(value, _PLAIN_TYPES):
        yield value.decode() if isinstance(value, bytes) else str(value)
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield str(k)
            yield from _texts(v)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for v in value:
            yield from _texts(v)
    elif dataclasses.is_dataclass(value):
        yield from _texts(dataclasses.asdict(value))  # type: ignore[arg-type]
    else:
        raise AssertionError(f"the guard let an uninspectable {type(value).__name__} out")


def _named_field_present(value: Any) -> bool:
    """True when a field named ``ssn`` holds something other than the redaction marker."""
    if isinstance(value, Mapping):
        return any((k == "ssn" and v != "[REDACTED]") or _named_field_present(v) for k, v in value.items())
    fields = getattr(value, "_fields", None)
    if fields is not None:
        return _named_field_present(dict(zip(fields, value, strict=True)))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _named_field_present({f.name: getattr(value, f.name) for f in dataclasses.fields(value)})
    if isinstance(value, (list, tuple, set, frozenset)):
        return any(_named_field_present(v) for v in value)
    return False


RESULT: dict[str, Any] = {}
OUTPUT_TOOLS = {t: d2.d2_guard(t, on_deny="refused")(lambda: RESULT["value"]) for t in RULES}


@SETTINGS
@given(tool=st.sampled_from(sorted(RULES)), value=results)
def test_output_rules_never_let_the_named_field_or_an_opaque_value_through(tool: str, value: Any) -> None:
    assert _load(OUTPUT_POLICY)
    RESULT["value"] = value
    with d2.set_user_context("u", ["r"]):
        out = OUTPUT_TOOLS[tool]()  # any exception other than a refusal fails the test
    if out == "refused":
        return
    texts = list(_texts(out))
    if tool == "o.patterns":
        assert not any(SECRET in t for t in texts), out
    else:
        assert not _named_field_present(out), out
        if tool in ("o.absent", "o.deny"):
            assert out is value or out == value  # nothing to remove: unchanged
