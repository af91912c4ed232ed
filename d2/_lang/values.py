"""What the operators see in a value: strict equality, numbers, sizes, and the text inside containers.

Values come from function arguments and tool results, so they are arbitrary Python objects. These
helpers define, once, the few notions every operator relies on: ``True`` is not ``1``, a number is an
int or a float (never a bool), a non-string's size is its compact JSON in UTF-8, and a pattern that
must not occur must not occur in any string or number nested inside a list or dict either.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterator, Mapping
from decimal import Decimal
from fractions import Fraction
from typing import Any

from d2._lang.inspection import LEAVES, Opaque, cycle, enum_value, opaque, record_fields, walkable_set

__all__ = ["byte_size", "is_number", "number_text", "same", "texts"]

_SCALARS = (str, int, float, bool, type(None))


def is_number(value: Any) -> bool:
    """True for ints, floats, Decimals and Fractions; False for bools."""
    cls = value.__class__
    if cls is int or cls is float:
        return True
    return isinstance(value, (int, float, Decimal, Fraction)) and not isinstance(value, bool)


def same(a: Any, b: Any) -> bool:
    """Equality that keeps bools apart from numbers, also inside lists and dicts."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a is b
    if isinstance(a, (list, tuple)):
        return (
            isinstance(b, (list, tuple))
            and len(a) == len(b)
            and all(same(x, y) for x, y in zip(a, b, strict=True))
        )
    if isinstance(a, Mapping):
        return (
            isinstance(b, Mapping)
            and len(a) == len(b)
            and all(k in b and same(v, b[k]) for k, v in a.items())
        )
    if isinstance(b, (list, tuple, Mapping)):
        return False
    try:
        return bool(a == b)
    except Exception:
        return False


def byte_size(value: Any, limit: int | None = None) -> int:
    """UTF-8 bytes of a string (or bytes); the compact JSON size of anything else.

    With ``limit``, counting stops as soon as the size passes it (the answer is then ``limit + 1``), so
    a result built from shared parts (``[row] * n``, nested) costs what its distinct parts cost, never
    what its expansion would. Anything :func:`texts` cannot look into raises ``Opaque``.
    """
    if isinstance(value, str):
        return len(value.encode("utf-8", "surrogatepass"))
    if isinstance(value, (bytes, bytearray)):
        return len(value)
    sizer = _Sizer(limit)
    try:
        return sizer.size(value)
    except _Over:
        return (limit or 0) + 1


class _Over(Exception):
    """The running size passed the limit."""


class _Sizer:
    """Compact-JSON size with memo (shared parts counted once per occurrence, walked once)."""

    __slots__ = ("active", "limit", "memo")

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.memo: dict[int, tuple[Any, int]] = {}
        self.active: set[int] = set()

    def size(self, value: Any) -> int:
        cls = value.__class__
        if cls is str:
            return _json_text_size(value)
        if value is None or cls is bool:
            return 4 if value is not False else 5
        if cls is int:
            return len(int.__repr__(value))
        if cls is float:
            return _float_size(value)
        if isinstance(value, (Mapping, list, tuple, set, frozenset)) or record_fields(value) is not None:
            return self._container(value)
        if isinstance(value, enum.Enum):
            return self.size(enum_value(value))
        return _number_size(value) if _is_json_number(value) else _json_text_size(_leaf_json_text(value))

    def _container(self, value: Any) -> int:
        key = id(value)
        done = self.memo.get(key)
        if done is not None:
            return done[1]
        if key in self.active:
            raise cycle()
        self.active.add(key)
        entries = _entries(value)
        total = 1 + max(len(entries), 1)  # brackets and commas
        limit = self.limit
        for name, child in entries:
            if name is not _NO_KEY:
                total += _key_size(name) + 1
            total += self.size(child)
            if limit is not None and total > limit:
                raise _Over
        self.active.discard(key)
        self.memo[key] = (value, total)
        return total


_NO_KEY: Any = object()


def _entries(value: Any) -> list[tuple[Any, Any]]:
    """(key, child) pairs of a container as JSON writes them (``_NO_KEY`` for array items)."""
    if isinstance(value, Mapping):
        return list(value.items())
    fields = record_fields(value)
    if fields is not None:
        return list(fields)
    if isinstance(value, (set, frozenset)):
        if not walkable_set(value):
            raise Opaque(f"is a {type(value).__name__} of records, which d2 cannot address by field")
        return [(_NO_KEY, v) for v in sorted(value, key=repr)]
    return [(_NO_KEY, v) for v in value]


def _key_size(key: Any) -> int:
    if isinstance(key, str):
        return _json_text_size(key)
    if key is None or isinstance(key, bool):
        return 6 if key is None or key is True else 7  # "null", "true", "false"
    if isinstance(key, int):
        return len(int.__repr__(key)) + 2
    if isinstance(key, float):
        return _float_size(key) + 2
    raise Opaque(f"has a key of type {type(key).__name__}, which d2 cannot read as text")


def _json_text_size(text: str) -> int:
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return len(text) + 2
    return len(json.dumps(text, ensure_ascii=False).encode("utf-8", "surrogatepass"))


def _float_size(value: float) -> int:
    if value != value:
        return 3  # NaN
    if value in (float("inf"), float("-inf")):
        return 8 if value > 0 else 9  # Infinity, -Infinity
    return len(float.__repr__(value))


def _is_json_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _number_size(value: Any) -> int:
    return len(int.__repr__(value)) if isinstance(value, int) else _float_size(value)


def _leaf_json_text(value: Any) -> str:
    """The text JSON would hold for a leaf that is not a plain str, number, bool or None."""
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, (bytes, bytearray)):
        return value.decode("utf-8", "replace")
    if isinstance(value, LEAVES):
        return str(value)
    raise opaque(value)


def number_text(value: Any) -> str | None:
    """The decimal text of a number, which a pattern such as ``\\d{16}`` should see; None otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        return None
    return str(value) if isinstance(value, (int, Decimal)) else repr(value)


def texts(value: Any) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """Yield (path, text) for every string, number and key inside ``value``, depth first.

    Namedtuples and dataclasses are read as mappings, Enum members as their value. A container met
    again is not read twice (a result of shared rows costs what its distinct rows cost); one inside
    itself, and anything d2 cannot look inside, raises ``Opaque``.
    """
    stack: list[tuple[Any, Any]] = [((), value)]
    active: set[int] = set()
    seen: set[int] = set()
    while stack:
        path, item = stack.pop()
        if path is _EXIT:
            active.discard(item)
            continue
        cls = item.__class__
        if cls is str:
            yield path, item
        elif cls is dict or cls is list or isinstance(item, _CONTAINERS) or record_fields(item) is not None:
            key = id(item)
            if key in active:
                raise cycle()
            if key in seen:
                continue
            seen.add(key)
            active.add(key)
            stack.append((_EXIT, key))
            _push_children(stack, path, item)
        else:
            text = _leaf_text(item)
            if text is not None:
                yield path, text


_EXIT: Any = object()
_CONTAINERS = (Mapping, list, tuple, set, frozenset)


def _push_children(stack: list[tuple[Any, Any]], path: tuple[str | int, ...], item: Any) -> None:
    """Push a container's children so that they pop in order, keys (as texts) before values."""
    entries = _entries(item)
    for i in range(len(entries) - 1, -1, -1):
        name, child = entries[i]
        stack.append(((*path, i) if name is _NO_KEY else (*path, str(name)), child))
    if entries and entries[0][0] is not _NO_KEY:
        for name, _child in reversed(entries):
            stack.append(((*path, str(name)), _key_text(name)))


def _key_text(key: Any) -> str:
    if isinstance(key, str):
        return str.__str__(key)
    if isinstance(key, LEAVES) and not isinstance(key, enum.Enum):
        return str(key)
    raise Opaque(f"has a key of type {type(key).__name__}, which d2 cannot read as text")


def _leaf_text(item: Any) -> str | None:
    """The text of a leaf (None for None and booleans, which hold no text); Opaque for anything else."""
    if item is None or isinstance(item, bool):
        return None
    if isinstance(item, enum.Enum):
        inner = enum_value(item)
        return None if inner is None or isinstance(inner, bool) else _leaf_text(inner)
    if isinstance(item, str):
        return str.__str__(item)
    if isinstance(item, (bytes, bytearray)):
        return item.decode("utf-8", "replace")
    number = number_text(item)
    if number is not None:
        return number
    if isinstance(item, LEAVES):
        return str(item)
    raise opaque(item)
