"""Fuse one field's checks into a single predicate, so a passing value costs one call, not one per operator.

Most values pass, so the passing path is what a guarded call pays for. ``type`` with numeric bounds
(``{type: int, min: 1, max: 1000}``) becomes one closure with inline comparisons; other checks are
chained with ``and``. A failing value is then re-checked operator by operator
(:meth:`Constraint.first_failure`) to name the operator that failed; only refusals pay for that.
"""

from __future__ import annotations

from typing import Any

from d2._lang.attrs import AttrRef
from d2._lang.operators import Check, Test
from d2._lang.regex import SHORT_TEXT
from d2._lang.values import is_number

__all__ = ["EXACT", "fuse", "plain_expression"]

_BOUNDS = frozenset({"min", "max", "gt", "lt"})


def fuse(checks: tuple[Check, ...]) -> Test:
    """Return a predicate true exactly when every check passes."""
    literal = tuple(c for c in checks if not isinstance(c.operand, AttrRef))
    tests = list(_numeric(literal))
    tests += [c.test for c in literal if c.op not in _BOUNDS and not _folded_type(c, literal)]
    # Attribute-bound checks keep their own closures: their operands are known only at call time.
    tests += [c.test for c in checks if isinstance(c.operand, AttrRef)]
    return _chain(tests)


def _folded_type(check: Check, checks: tuple[Check, ...]) -> bool:
    return check.op == "type" and _range_type(checks) is not None


def _range_type(checks: tuple[Check, ...]) -> str | None:
    """The number kind a range closure checks itself: 'int', 'number', or None (no bounds / other type)."""
    if not any(c.op in _BOUNDS for c in checks):
        return None
    types = [c.operand for c in checks if c.op == "type"]
    if not types:
        return "number"
    if types[0] == ("int",):
        return "int"
    if types[0] == ("float",):
        return "number"
    return None


def _numeric(checks: tuple[Check, ...]) -> list[Test]:
    bounds = {c.op: c.operand for c in checks if c.op in _BOUNDS}
    if not bounds:
        return []
    kind = _range_type(checks)
    if kind is None:  # e.g. type: [int, null] with min: keep the type check, range on numbers only
        kind = "number"
    return [_range(kind == "int", bounds.get("min"), bounds.get("gt"), bounds.get("max"), bounds.get("lt"))]


def _range(int_only: bool, low: Any, above: Any, high: Any, below: Any) -> Test:
    general = _general_range(int_only, low, above, high, below)
    if low is not None and high is not None and above is None and below is None:
        # `min` and `max`, the usual pair: an exact int or float is one chained comparison.
        if int_only:
            return lambda v, _s: low <= v <= high if v.__class__ is int else general(v, _s)
        return lambda v, _s: low <= v <= high if v.__class__ in _PLAIN_NUMBERS else general(v, _s)
    return general


_PLAIN_NUMBERS = frozenset({int, float})


def _general_range(int_only: bool, low: Any, above: Any, high: Any, below: Any) -> Test:
    def test(v: Any, _s: Any) -> bool:
        cls = v.__class__
        if cls is not int and (int_only or cls is not float):
            if int_only:
                if not isinstance(v, int) or isinstance(v, bool):
                    return False
            elif not is_number(v):
                return False
        if low is not None and not v >= low:
            return False
        if above is not None and not v > above:
            return False
        if high is not None and not v <= high:
            return False
        return below is None or bool(v < below)

    return test


def _chain(tests: list[Test]) -> Test:
    if not tests:
        return lambda v, s: True
    if len(tests) == 1:
        return tests[0]
    if len(tests) == 2:
        a, b = tests
        return lambda v, s: a(v, s) and b(v, s)
    if len(tests) == 3:
        a, b, c = tests
        return lambda v, s: a(v, s) and b(v, s) and c(v, s)
    head = _chain(tests[:3])
    rest = _chain(tests[3:])
    return lambda v, s: head(v, s) and rest(v, s)


# -- the passing path of input conditions, as source ----------------------------------------------------
# An input condition's passing path (d2._lang.conditions) is one generated function per grant: for each
# parameter it reads the value and tests it with one boolean expression, inline, instead of calling a
# closure per parameter and per operator. The expression is built here from the same checks the fused
# predicate runs. It only has to be *sound*: true means the value is of an exact built-in type and
# passes every check; false means "decide again from the start" (check_all), never a refusal by itself.
# The source holds only names made here (v, s, k0, k1, ...): operands and the checks' own closures are
# bound to those names, never written into the text.

# The exact built-in classes a value is checked as it is (anything else is checked as its snapshot).
EXACT = frozenset({str, int, float, bool, type(None)})


# `type` names with one class test: "float" is the number type (an exact int or float passes it).
_PINNED = {"str": str, "int": int, "bool": bool, "float": float}
_CLASS_TEST = {
    str: "v.__class__ is str",
    int: "v.__class__ is int",
    bool: "v.__class__ is bool",
    float: "(v.__class__ is int or v.__class__ is float)",
}
# Operators with an inline form for a value of a given exact class: (op, class) -> template over v, k.
_INLINE = {
    ("in", str): "v in {k}", ("in", int): "v in {k}",
    ("eq", str): "v == {k}", ("eq", int): "v == {k}",
    ("min", int): "v >= {k}", ("max", int): "v <= {k}", ("gt", int): "v > {k}", ("lt", int): "v < {k}",
    ("min", float): "v >= {k}", ("max", float): "v <= {k}",
    ("gt", float): "v > {k}", ("lt", float): "v < {k}",
    ("startsWith", str): "v.startswith({k})", ("endsWith", str): "v.endswith({k})",
    ("minLength", str): "len(v) >= {k}", ("maxLength", str): "len(v) <= {k}",
}  # fmt: skip


def plain_expression(checks: tuple[Check, ...], passes: Test, prefix: str) -> tuple[str, dict[str, Any]]:
    """Return (expression over ``v`` and ``s``, the names it uses) true only for a passing plain value.

    ``passes`` is the field's fused predicate, called as it is when no exact class can be pinned.
    """
    cls = _pinned_class(checks)
    if cls is None:
        return f"(v.__class__ in {prefix}x and {prefix}p(v, s))", {f"{prefix}x": EXACT, f"{prefix}p": passes}
    names: dict[str, Any] = {}
    terms = [_CLASS_TEST[cls]]
    for i, check in enumerate(checks):
        term = _inline_term(check, cls, f"{prefix}{i}", names)
        if term:
            terms.append(term)
    return "(" + " and ".join(terms) + ")", names


def _pinned_class(checks: tuple[Check, ...]) -> type | None:
    """The one exact class a passing value must have for the inline terms (None: no single one)."""
    for check in checks:
        if check.op == "type" and not isinstance(check.operand, AttrRef):
            names = check.operand
            return _PINNED.get(names[0]) if len(names) == 1 else None
    for check in checks:
        if isinstance(check.operand, AttrRef):
            continue
        if check.op in ("matches", "startsWith", "endsWith"):
            return str
        if check.op == "in" and not check.operand[1] and all(m.__class__ is str for m in check.operand[0]):
            return str
        if check.op == "eq" and check.operand.__class__ is str:
            return str
    return None


def _inline_term(check: Check, cls: type, name: str, names: dict[str, Any]) -> str:
    """One check as an expression for a value of exact class ``cls`` ('' when the class test says it all)."""
    op, operand = check.op, check.operand
    if isinstance(operand, AttrRef):
        names[name] = check.test
        return f"{name}(v, s)"
    if op == "type" and (cls.__name__ in operand or (cls is int and "float" in operand)):  # float: number
        return ""
    if op == "matches" and cls is str:
        if operand.short is not None:
            names[name], names[f"{name}_n"] = operand.short, SHORT_TEXT
            return f"(len(v) <= {name}_n and {name}(v) is not None)"
        names[name] = operand.fullmatch
        return f"{name}(v)"
    template = _INLINE.get((op, cls))
    if template is not None and _inline_operand(op, operand, cls):
        names[name] = operand[0] if op == "in" else operand
        return template.format(k=name)
    names[name] = check.test
    return f"{name}(v, s)"


def _inline_operand(op: str, operand: Any, cls: type) -> bool:
    """Whether the inline template means what the operator does for an exact ``cls`` value."""
    if op == "eq":
        return operand.__class__ is cls  # str == str, int == int (a bool operand is never inlined)
    if op in _BOUNDS:
        return operand.__class__ is int or operand.__class__ is float
    return True
