"""The fast shape check: a compiled JSON Schema validator (jsonschema-rs) in front of jsonschema.

It only ever says "valid"; anything else (invalid, a value it cannot represent, the package missing,
data that is not plain JSON types) sends the document to jsonschema, which decides and explains. So
a policy is never accepted on weaker terms than jsonschema's: a property test keeps the two in step on
generated valid and invalid policies. ``D2_SCHEMA_FAST=0`` turns the fast path off.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import cache
from typing import Any

__all__ = ["fast_accepts", "json_only"]

_SCALARS = frozenset({str, int, float, bool, type(None)})
# Deeper data goes to jsonschema: the compiled validator recurses natively.
_MAX_DEPTH = 200


@cache
def _compiled(name: str, schema: Callable[[str], dict[str, Any]]) -> Any:
    """The compiled validator of ``schema(name)``, or None when jsonschema-rs is unavailable."""
    if os.environ.get("D2_SCHEMA_FAST", "1").strip().lower() in ("0", "false", "no", "off"):
        return None
    try:
        import jsonschema_rs
    except ImportError:
        return None
    try:
        return jsonschema_rs.Draft202012Validator(schema(name))
    except Exception:  # a schema it cannot compile: jsonschema handles every document
        return None


def fast_accepts(name: str, data: Any, schema: Callable[[str], dict[str, Any]]) -> bool:
    """True only when the compiled validator of ``schema(name)`` accepts ``data`` (plain JSON types only)."""
    validator = _compiled(name, schema)
    if validator is None or not json_only(data):
        return False
    try:
        return validator.is_valid(data) is True
    except Exception:  # e.g. a lone surrogate it cannot encode: let jsonschema judge
        return False


def json_only(value: Any) -> bool:
    """True when ``value`` is built of dict (str keys), list, str, int, float, bool and None alone.

    The compiled validator reads a tuple as an array and jsonschema does not; restricting the fast
    path to exact JSON types keeps the two in agreement.
    """
    stack: list[tuple[Any, int]] = [(value, 0)]
    scalars = _SCALARS
    while stack:
        item, depth = stack.pop()
        kind = type(item)
        if kind is dict:
            if depth >= _MAX_DEPTH:
                return False
            for key, child in item.items():
                if type(key) is not str:
                    return False
                if type(child) in scalars:
                    continue
                stack.append((child, depth + 1))
        elif kind is list:
            if depth >= _MAX_DEPTH:
                return False
            if set(map(type, item)) <= scalars:  # a list of plain values: one pass in C
                continue
            for child in item:
                if type(child) not in scalars:
                    stack.append((child, depth + 1))
        elif kind not in scalars:
            return False
    return True
