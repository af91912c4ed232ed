"""A quick gate in front of the JSON Schema for cases made from table rows.

A table of thousands of rows makes thousands of cases; the schema validator costs ~0.5 ms per case.
This check accepts only cases that are certainly valid (it is stricter than the schema, never looser:
a property test holds it to that), and anything it doubts goes to the schema for the real diagnostic.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

__all__ = ["SCHEMA", "certainly_valid_case"]

# The scenario file format, described once in schemas/ (the loader validates against the same file).
SCHEMA = "scenario.schema.json"

Check = Callable[[Any], bool]


def _str(v: Any) -> bool:
    return isinstance(v, str)


def _name(v: Any) -> bool:
    return isinstance(v, str) and v != ""


def _names(v: Any) -> bool:
    return isinstance(v, list) and all(_name(x) for x in v)


def _any(_v: Any) -> bool:
    return True


def _user(v: Any) -> bool:
    return v is None or isinstance(v, str)


def _roles(v: Any) -> bool:
    return _name(v) or _names(v)


def _dict(v: Any) -> bool:
    return isinstance(v, dict)


def _mapping(v: Any, fields: Mapping[str, Check], required: tuple[str, ...] = ()) -> bool:
    if not isinstance(v, dict):
        return False
    for key, value in v.items():
        if key.startswith("x-"):
            continue
        check = fields.get(key)
        if check is None or not check(value):
            return False
    return all(k in v for k in required)


@cache
def _reasons() -> frozenset[str]:
    from d2._toolkit import load_schema

    return frozenset(load_schema(SCHEMA)["$defs"]["reason"]["enum"])


def _deny(v: Any) -> bool:
    return v is True or (isinstance(v, str) and v in _reasons())


def _rule(v: Any) -> bool:
    return isinstance(v, str) or (isinstance(v, int) and not isinstance(v, bool))


_EXPECT: dict[str, Check] = {
    "allow": lambda v: v is True,
    "deny": _deny,
    "rule": _rule,
    "message": _name,
    "output": _any,
    "facts": lambda v: isinstance(v, list) and all(_str(x) for x in v),
}
_ACTOR: dict[str, Check] = {"user": _user, "roles": _roles, "attributes": _dict}


def _expect(v: Any) -> bool:
    return v in ("allow", "deny") or _mapping(v, _EXPECT)


_STEP: dict[str, Check] = {
    "call": _name,
    "args": lambda v: isinstance(v, (list, dict)),
    "kwargs": _dict,
    "returns": _any,
    "record": _names,
    "as": lambda v: _mapping(v, _ACTOR),
    "expect": _expect,
    "description": _str,
}


def _steps(v: Any) -> bool:
    return isinstance(v, list) and len(v) > 0 and all(_mapping(s, _STEP) for s in v)


_CASE: dict[str, Check] = {
    "name": _name,
    "description": _str,
    "skip": lambda v: isinstance(v, (bool, str)),
    "user": _user,
    "roles": _roles,
    "attributes": _dict,
    "steps": _steps,
}


def certainly_valid_case(case: Any) -> bool:
    """True only when ``case`` (no ``where``) certainly passes the scenario schema's plain case."""
    return _mapping(case, _CASE, ("name", "steps"))
