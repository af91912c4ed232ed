"""Negative operators (``not_in``, ``ne``, ``not_contains``) refuse what they cannot compare.

A negative operator passes when the value is *not* something. Negating the positive test alone would
let every value of an unexpected type through: ``["admin"]`` is not the string ``admin``, so it would
pass ``not_in: [admin]``, and a tool that reads the first item gets ``admin``. So a negative operator
first requires a value of a type one of its operands has (a string for ``not_in: [admin]``, a number
for ``ne: 0``), and only then negates. ``d2 lint`` warns (D2W707) about a negative operator written
without ``type``, so the author sees the rule is narrower than it reads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from fractions import Fraction
from typing import Any

__all__ = ["ANY", "CONTAINERS", "kind_of", "kinds_of", "negative"]

Test = Callable[[Any, Any], bool]
# ``ne: null`` forbids only None: every other value, of any type, passes it.
ANY = frozenset({"*"})
# What ``not_contains`` can look into.
CONTAINERS = frozenset({"str", "list", "dict"})


def kind_of(value: Any) -> str | None:
    """The operand type a value belongs to (str, number, bool, null, list, dict), or None."""
    if isinstance(value, str):
        return "str"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float, Decimal, Fraction)):
        return "number"
    if value is None:
        return "null"
    if isinstance(value, (list, tuple)):
        return "list"
    if isinstance(value, Mapping):
        return "dict"
    return None


def kinds_of(operands: Iterable[Any]) -> frozenset[str]:
    """The types a negative operator accepts: those of its operands."""
    return frozenset(k for k in map(kind_of, operands) if k is not None)


def negative(positive: Test, accepted: frozenset[str]) -> Test:
    """Pass a value of an accepted type for which ``positive`` fails; refuse any other value."""
    if accepted == ANY:
        return lambda v, s: not positive(v, s)
    if accepted == frozenset({"str"}):
        return lambda v, s: (v.__class__ is str or isinstance(v, str)) and not positive(v, s)

    def test(v: Any, s: Any) -> bool:
        return kind_of(v) in accepted and not positive(v, s)

    return test
