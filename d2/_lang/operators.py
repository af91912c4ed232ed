"""The constraint operators, one table shared by input conditions and output rules.

Each operator validates its operand at load and compiles to a closure ``test(value, state) -> bool``
once; a call then runs closures only. Operand handling lives in one place, :func:`_operand_test`: a
later operand kind (``{$attr: user.tenant}``, resolved from ``state.user.attributes``) plugs in there,
which is why every test already receives the request state.
"""

from __future__ import annotations

import heapq
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from d2._base.diagnostics import Location
from d2._lang.attrs import attr_test, parse_attr_ref
from d2._lang.negatives import ANY, CONTAINERS, kinds_of, negative
from d2._lang.operand_error import OperandError
from d2._lang.regex import SHORT_TEXT, Regex, RegexError, compile_regex
from d2._lang.values import byte_size, is_number, same, texts

__all__ = [
    "NON_OPERATORS",
    "OPERATORS",
    "Check",
    "Constraint",
    "OperandError",
    "operand_test",
    "prepare_pattern",
    "show",
    "show_pattern",
    "type_names",
]

Test = Callable[[Any, Any], bool]


@dataclass(frozen=True, slots=True)
class Check:
    """One compiled operator of one field: its test, where it is written, and what it requires."""

    op: str
    test: Test
    location: Location
    expect: str
    operand: Any = None


@dataclass(frozen=True, slots=True)
class Constraint:
    """The operators written for one parameter or field, AND-ed; ``required`` is about presence."""

    checks: tuple[Check, ...]
    required: bool = False
    required_location: Location | None = None
    # All checks as one predicate (see d2._lang.fuse): the passing path, the common one, is a single call.
    passes: Test = field(default=lambda v, s: True, compare=False)
    # ``type`` lists ``null``: None passes the whole constraint (an optional argument left at None).
    nullable: bool = False

    def first_failure(self, value: Any, state: Any) -> Check | None:
        """Return the first operator ``value`` fails, or None when it passes them all."""
        if value is None and self.nullable:
            return None
        for check in self.checks:
            if not check.test(value, state):
                return check
        return None


@dataclass(frozen=True, slots=True)
class _Spec:
    prepare: Callable[[Any], Any]
    build: Callable[[Any], Test]
    expect: Callable[[Any], str]


def show(value: Any, limit: int = 60) -> str:
    """Render a policy operand for a message (operands are policy text, never user data)."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def show_pattern(pattern: str, limit: int = 60) -> str:
    """Render a regex as written in the policy (no JSON escaping of its backslashes)."""
    text = pattern.replace("\n", "\\n")
    return f"'{text}'" if len(text) <= limit else f"'{text[: limit - 3]}...'"


# -- type ---------------------------------------------------------------------------------------

_TYPE_ALIASES = {
    "string": "str", "str": "str", "int": "int", "integer": "int", "float": "float", "number": "float",
    "bool": "bool", "boolean": "bool", "list": "list", "array": "list", "dict": "dict", "object": "dict",
    "null": "null",
}  # fmt: skip

_TYPE_TESTS: dict[str, Callable[[Any], bool]] = {
    "str": lambda v: isinstance(v, str),
    "int": lambda v: v.__class__ is int or (isinstance(v, int) and not isinstance(v, bool)),
    "float": is_number,
    "bool": lambda v: isinstance(v, bool),
    "list": lambda v: isinstance(v, (list, tuple)),
    "dict": lambda v: isinstance(v, Mapping),
    "null": lambda v: v is None,
}


def type_names(raw: Any) -> tuple[str, ...]:
    """Canonical type names of a ``type`` operand (aliases folded, order kept)."""
    items = [raw] if isinstance(raw, str) or raw is None else raw if isinstance(raw, list) else []
    names = ["null" if n is None else n for n in items]  # YAML's bare null names the null type
    if not names or not all(isinstance(n, str) for n in names):
        raise OperandError("'type' takes a type name or a non-empty list of them")
    out: list[str] = []
    for name in names:
        canon = _TYPE_ALIASES.get(name)
        if canon is None:
            raise OperandError(f"unknown type {name!r}", "use one of: " + ", ".join(_TYPE_ALIASES))
        if canon not in out:
            out.append(canon)
    return tuple(out)


def _build_type(names: tuple[str, ...]) -> Test:
    if names == ("str",):
        return lambda v, _s: isinstance(v, str)
    if names == ("int",):
        return lambda v, _s: v.__class__ is int or (isinstance(v, int) and not isinstance(v, bool))
    tests = tuple(_TYPE_TESTS[n] for n in names)
    return lambda v, _s: any(t(v) for t in tests)


# -- numbers ------------------------------------------------------------------------------------


def _prepare_number(raw: Any) -> Any:
    if not is_number(raw) or (isinstance(raw, float) and math.isnan(raw)):
        raise OperandError(f"expected a number, got {show(raw)}", "write e.g. 1 or 2.5")
    return raw


def _numeric(compare: Callable[[Any, Any], bool]) -> Callable[[Any], Test]:
    def build(bound: Any) -> Test:
        def test(v: Any, _s: Any) -> bool:
            cls = v.__class__
            return (cls is int or cls is float or is_number(v)) and compare(v, bound)

        return test

    return build


# -- membership and equality --------------------------------------------------------------------

_SCALAR = (str, int, float, bool, type(None))
_PLAIN_MEMBERS = frozenset({str, int, float, type(None)})
# An 80-character message shows at most this many members (each takes 3+ characters).
_SHOWN_MEMBERS = 40


def _prepare_members(raw: Any) -> tuple[frozenset[Any], frozenset[Any]]:
    if not isinstance(raw, list):
        raise OperandError(f"expected a list of values, got {show(raw)}", "write e.g. [sales, marketing]")
    if set(map(type, raw)) <= _PLAIN_MEMBERS:  # the usual list: one pass in C, no booleans to split off
        return frozenset(raw), frozenset()
    if not all(isinstance(x, _SCALAR) for x in raw):
        raise OperandError("the list may hold only strings, numbers, booleans and null")
    return (
        frozenset(x for x in raw if not isinstance(x, bool)),
        frozenset(x for x in raw if isinstance(x, bool)),
    )


def _prepare_in(raw: Any) -> tuple[frozenset[Any], frozenset[Any]]:
    if raw == []:
        raise OperandError("an empty list allows no value at all", "list the allowed values")
    return _prepare_members(raw)


def _member(v: Any, members: tuple[frozenset[Any], frozenset[Any]]) -> bool:
    if v.__class__ is str:
        return v in members[0]
    if isinstance(v, bool):
        return v in members[1]
    try:
        return v in members[0]
    except TypeError:  # unhashable: a list or dict is never one of the listed scalars
        return False


def _build_in(members: tuple[frozenset[Any], frozenset[Any]]) -> Test:
    plain = members[0]
    return lambda v, _s: v in plain if v.__class__ is str else _member(v, members)


def _build_eq(operand: Any) -> Test:
    if isinstance(operand, str):
        return lambda v, _s: (v.__class__ is str or isinstance(v, str)) and v == operand
    if operand is None or isinstance(operand, bool):
        return lambda v, _s: v is operand
    return lambda v, _s: same(v, operand)


def _contains(v: Any, item: Any) -> bool:
    if isinstance(v, str):
        return isinstance(item, str) and item in v
    if isinstance(v, (list, tuple)):
        return any(same(x, item) for x in v)
    if isinstance(v, Mapping):
        return any(same(k, item) for k in v)
    return False


def _prepare_scalar(raw: Any) -> Any:
    if not isinstance(raw, _SCALAR):
        raise OperandError(f"expected a string, number, boolean or null, got {show(raw)}")
    return raw


# -- sizes and text -----------------------------------------------------------------------------


def _prepare_count(raw: Any) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0:
        raise OperandError(f"expected a whole number >= 0, got {show(raw)}")
    return raw


def _length(v: Any) -> int | None:
    if isinstance(v, (str, list, tuple, Mapping)):
        return len(v)
    return None


def _build_min_length(n: int) -> Test:
    def test(v: Any, _s: Any) -> bool:
        size = _length(v)
        return size is not None and size >= n

    return test


def _build_max_length(n: int) -> Test:
    def test(v: Any, _s: Any) -> bool:
        size = _length(v)
        return size is not None and size <= n

    return test


def _build_max_bytes(limit: int) -> Test:
    quarter = limit // 4

    def test(v: Any, _s: Any) -> bool:
        if v.__class__ is str:
            n = len(v)
            if n <= quarter:  # a character is at most 4 bytes: no need to encode
                return True
            if n > limit:
                return False
        return byte_size(v, limit) <= limit

    return test


def _prepare_string(raw: Any) -> str:
    if not isinstance(raw, str):
        raise OperandError(f"expected a string, got {show(raw)}")
    return raw


def prepare_pattern(raw: Any, *, searched: bool) -> Any:
    """Compile a policy regex; a searched pattern must not be found in every value (e.g. ``\\d*``)."""
    text = _prepare_string(raw)
    try:
        rx = compile_regex(text)
    except RegexError as exc:
        code = "D2E104" if "RE2 does not support" in exc.message else "D2E103"
        raise OperandError(exc.message, exc.hint, code) from None
    # Probes: a pattern found in all of these matches the empty string anywhere, i.e. in every value.
    if searched and all(rx.search(probe) for probe in ("", "\x00", "a")):
        raise OperandError(
            f"regex {text!r} can match the empty string anywhere, so it is found in every value",
            "make it require at least one character, e.g. '+' instead of '*'",
            "D2E103",
        )
    return rx


def _build_matches(rx: Regex) -> Test:
    """A whole-value match; a short plain ``str`` goes straight to the stdlib matcher when it is safe."""
    full = rx.fullmatch
    short = rx.short
    if short is None:
        return lambda v, _s: isinstance(v, str) and full(v)

    def test(v: Any, _s: Any) -> bool:
        if v.__class__ is str and len(v) <= SHORT_TEXT:
            return short(v) is not None
        return isinstance(v, str) and full(v)

    return test


def _build_not_matches(rx: Any) -> Test:
    def test(v: Any, _s: Any) -> bool:
        if isinstance(v, str):
            return not rx.search(v)
        return not any(rx.search(text) for _path, text in texts(v))

    return test


def _ident(raw: Any) -> Any:
    return raw


def _same_type(kinds: frozenset[str]) -> str:
    """Say which types a negative operator accepts (any other value is refused, not compared)."""
    if kinds == ANY:
        return ""
    return " (and be a " + " or ".join("string" if k == "str" else k for k in sorted(kinds)) + ")"


def _expect_members(m: tuple[frozenset[Any], frozenset[Any]]) -> str:
    values: list[Any] = [*m[0], *m[1]]
    if len(values) > _SHOWN_MEMBERS:
        # Only the first members in sorted order fit in the message: sort and render those alone
        # (the same text as rendering all of them and cutting it), so a long list compiles linearly.
        # Distinct scalars have distinct reprs, so the reprs can stand for the values.
        by_repr = dict(zip(map(repr, values), values, strict=True))
        values = [by_repr[text] for text in heapq.nsmallest(_SHOWN_MEMBERS, by_repr)]
    return show(sorted(values, key=repr), 80)


OPERATORS: dict[str, _Spec] = {
    "type": _Spec(type_names, _build_type, lambda t: "must be of type " + " or ".join(t)),
    "eq": _Spec(_ident, _build_eq, lambda o: f"must equal {show(o)}"),
    "ne": _Spec(
        _ident,
        lambda o: negative(_build_eq(o), ANY if o is None else kinds_of([o])),
        lambda o: f"must not equal {show(o)}" + _same_type(kinds_of([o]) if o is not None else ANY),
    ),
    "min": _Spec(_prepare_number, _numeric(lambda v, b: v >= b), lambda b: f"must be a number >= {b}"),
    "max": _Spec(_prepare_number, _numeric(lambda v, b: v <= b), lambda b: f"must be a number <= {b}"),
    "gt": _Spec(_prepare_number, _numeric(lambda v, b: v > b), lambda b: f"must be a number > {b}"),
    "lt": _Spec(_prepare_number, _numeric(lambda v, b: v < b), lambda b: f"must be a number < {b}"),
    "in": _Spec(_prepare_in, _build_in, lambda m: f"must be one of {_expect_members(m)}"),
    "not_in": _Spec(
        _prepare_members,
        lambda m: negative(_build_in(m), kinds_of([*m[0], *m[1]]) or ANY),
        lambda m: f"must not be one of {_expect_members(m)}" + _same_type(kinds_of([*m[0], *m[1]]) or ANY),
    ),
    "minLength": _Spec(_prepare_count, _build_min_length, lambda n: f"must have length >= {n}"),
    "maxLength": _Spec(_prepare_count, _build_max_length, lambda n: f"must have length <= {n}"),
    "matches": _Spec(
        lambda raw: prepare_pattern(raw, searched=False),
        _build_matches,
        lambda rx: f"must be a string matching {show_pattern(rx.pattern)} (whole value)",
    ),
    "not_matches": _Spec(
        lambda raw: prepare_pattern(raw, searched=True),
        _build_not_matches,
        lambda rx: f"must not contain a match of {show_pattern(rx.pattern)}",
    ),
    "contains": _Spec(
        _prepare_scalar, lambda o: lambda v, _s: _contains(v, o), lambda o: f"must contain {show(o)}"
    ),
    "not_contains": _Spec(
        _prepare_scalar,
        lambda o: negative(lambda v, _s: _contains(v, o), CONTAINERS),
        lambda o: f"must be a string, list or mapping that does not contain {show(o)}",
    ),
    "startsWith": _Spec(
        _prepare_string,
        lambda p: lambda v, _s: isinstance(v, str) and v.startswith(p),
        lambda p: f"must be a string starting with {show(p)}",
    ),
    "endsWith": _Spec(
        _prepare_string,
        lambda p: lambda v, _s: isinstance(v, str) and v.endswith(p),
        lambda p: f"must be a string ending with {show(p)}",
    ),
    "max_bytes": _Spec(_prepare_count, _build_max_bytes, lambda n: f"must be at most {n} bytes"),
}

# Keys a constraint may carry besides operators.
NON_OPERATORS = frozenset({"required", "description"})


def operand_test(
    spec: _Spec, raw: Any, *, op: str = "", where: Location | None = None
) -> tuple[Test, str, Any]:
    """Turn an operand into (test, expectation, prepared operand): the one place operands are resolved."""
    ref = parse_attr_ref(raw)
    if ref is not None:
        if spec.build is _build_type:
            raise OperandError("'type' takes type names, not an attribute reference")
        return attr_test(spec, ref, op, where), f"compared with attribute {ref}", ref
    prepared = spec.prepare(raw)
    return spec.build(prepared), spec.expect(prepared), prepared
