"""What the operators see in a value: strict equality, numbers, sizes, and the text inside containers.

Values come from function arguments and tool results, so they are arbitrary Python objects. These
helpers define, once, the few notions every operator relies on: ``True`` is not ``1``, a number is an
int or a float (never a bool), a non-string's size is its compact JSON in UTF-8, and a pattern that
must not occur must not occur in any string or number nested inside a list or dict either.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from decimal import Decimal
from fractions import Fraction
from typing import Any

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


def _json_default(value: Any) -> Any:
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    if isinstance(value, (bytes, bytearray)):
        return value.decode("utf-8", "replace")
    return str(value)


def byte_size(value: Any) -> int:
    """UTF-8 bytes of a string (or bytes); the compact JSON size of anything else."""
    if isinstance(value, str):
        return len(value.encode("utf-8", "surrogatepass"))
    if isinstance(value, (bytes, bytearray)):
        return len(value)
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=_json_default)
    return len(text.encode("utf-8", "surrogatepass"))


def number_text(value: Any) -> str | None:
    """The decimal text of a number, which a pattern such as ``\\d{16}`` should see; None otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        return None
    return str(value) if isinstance(value, (int, Decimal)) else repr(value)


def texts(value: Any) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """Yield (path, text) for every string, number and dict key inside ``value``, depth first."""
    stack: list[tuple[tuple[str | int, ...], Any]] = [((), value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            yield path, item
        elif isinstance(item, Mapping):
            entries = list(item.items())
            for key, child in reversed(entries):
                stack.append(((*path, str(key)), child))
            for key, _child in entries:
                yield (*path, str(key)), str(key)
        elif isinstance(item, (list, tuple, set, frozenset)):
            children = list(item) if isinstance(item, (list, tuple)) else sorted(item, key=repr)
            for i in range(len(children) - 1, -1, -1):
                stack.append(((*path, i), children[i]))
        elif isinstance(item, (bytes, bytearray)):
            yield path, item.decode("utf-8", "replace")
        elif item is None or isinstance(item, bool):
            continue
        else:
            number = number_text(item)
            yield path, number if number is not None else str(item)
