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
from d2._lang.values import is_number

__all__ = ["fuse"]

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
