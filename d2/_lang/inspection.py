"""What the guard can see inside a value, and what it refuses: one definition for inputs and outputs.

Conditions and output rules promise something about every field and every text inside a value. They
keep that promise only for values whose whole content is visible: built-in scalars, mappings, lists,
tuples (namedtuples as mappings), dataclasses and sets of scalars. Anything else (a generator, an
iterator, a coroutine, an object with its own ``__str__``, an Enum holding a record, a set of records,
a value that contains itself) raises :class:`Opaque`, and the caller refuses the call or the result.

:func:`snapshot` makes the copy of an argument that input conditions check and the tool then
receives: exact built-in types only (a ``str`` subclass with a lying ``__eq__`` becomes a plain
``str``), so nothing can change between the check and the use.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import uuid
from collections.abc import Mapping
from decimal import Decimal
from fractions import Fraction
from typing import Any

__all__ = ["LEAVES", "SCALARS", "Opaque", "enum_value", "opaque", "record_fields", "snapshot", "walkable_set"]

# Values with no fields inside, whose text is their own: a walk ends at them.
SCALARS = (str, int, float, bool, type(None))
LEAVES = (
    str, bytes, bytearray, int, float, complex, bool, type(None), Decimal, Fraction, datetime.date,
    datetime.time, datetime.timedelta, uuid.UUID,
)  # fmt: skip
_EXACT = frozenset({str, int, float, bool, type(None)})


class Opaque(Exception):
    """A value the guard cannot look inside, or one that contains itself; the call or result is refused."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def opaque(value: Any) -> Opaque:
    """Say what cannot be inspected and what to return instead."""
    kind = type(value).__name__
    lazy = hasattr(value, "__next__") or hasattr(value, "send")
    return Opaque(
        f"is a {kind}, which d2 cannot look inside; return dicts, lists, tuples, dataclasses or plain values"
        + (" (materialise it, e.g. with list())" if lazy else "")
    )


def cycle() -> Opaque:
    return Opaque("contains itself (a cycle), so d2 cannot inspect all of it")


def record_fields(value: Any) -> tuple[tuple[str, Any], ...] | None:
    """The (name, value) pairs of a namedtuple or dataclass instance; None for any other value.

    A tuple whose ``_fields`` do not name each of its items is :class:`Opaque`: pairing them would
    hide the unnamed items from every rule.
    """
    cls = value.__class__
    names = getattr(cls, "_fields", None)
    if names is not None and isinstance(value, tuple):
        if len(names) != len(value):
            raise Opaque(f"is a {cls.__name__} whose _fields do not name each of its items")
        return tuple(zip(names, value, strict=True))
    if getattr(cls, "__dataclass_fields__", None) is not None and not isinstance(value, type):
        return tuple((f.name, getattr(value, f.name)) for f in dataclasses.fields(value))
    return None


def enum_value(value: enum.Enum) -> Any:
    """The plain value an Enum member stands for; an Enum that holds anything else is opaque."""
    inner = value.value
    if isinstance(inner, LEAVES) and not isinstance(inner, enum.Enum):
        return inner
    # Named by class and member, not repr(): an int- or str-based Enum holding a dict fails to repr.
    member = f"{type(value).__name__}.{value.name}"
    raise Opaque(
        f"is the Enum member {member}, which holds a {type(inner).__name__}; return its fields instead"
    )


def walkable_set(value: set[Any] | frozenset[Any]) -> bool:
    """True for a set of plain values; a set of records hides fields a rule may name."""
    return all(isinstance(item, LEAVES) and not isinstance(item, enum.Enum) for item in value)


def snapshot(value: Any) -> Any:
    """Return ``value`` rebuilt from exact built-in types; containers are copied, cycles refused.

    Plain ``str``/``int``/``float``/``bool``/``None`` come back as they are (the common case costs one
    set lookup). Subclasses of ``str``, ``int`` and ``float`` become the plain value (``IntEnum`` and
    ``StrEnum`` members included); lists, dicts, sets and tuples are copied with their contents
    converted, so a caller mutating the original after the check cannot change what the tool reads.
    Other objects pass as they are: operators treat them as values of no type they accept.
    """
    if value.__class__ in _EXACT:
        return value
    return _Snapshot().copy(value)


class _Snapshot:
    """One snapshot: ``memo`` keeps shared parts shared (no blow-up), ``active`` finds cycles."""

    __slots__ = ("active", "memo")

    def __init__(self) -> None:
        self.memo: dict[int, Any] = {}
        self.active: set[int] = set()

    def copy(self, value: Any) -> Any:
        cls = value.__class__
        if cls in _EXACT:
            return value
        if isinstance(value, bool):  # pragma: no cover (bool cannot be subclassed)
            return bool(value)
        if isinstance(value, str):
            return str.__str__(value)
        if isinstance(value, int):
            return int.__int__(value)
        if isinstance(value, float):
            return float.__float__(value)
        if isinstance(value, (Mapping, list, tuple, set, frozenset, bytearray)):
            return self._container(value)
        return value

    def _container(self, value: Any) -> Any:
        key = id(value)
        if key in self.active:
            raise cycle()
        done = self.memo.get(key)
        if done is not None:
            return done[1]
        self.active.add(key)
        try:
            out = self._rebuild(value)
        finally:
            self.active.discard(key)
        self.memo[key] = (value, out)  # keep ``value`` alive so its id is not reused meanwhile
        return out

    def _rebuild(self, value: Any) -> Any:
        copy = self.copy
        if isinstance(value, Mapping):
            return {copy(k): copy(v) for k, v in value.items()}
        if isinstance(value, list):
            return [copy(v) for v in value]
        if isinstance(value, tuple):
            items = tuple(copy(v) for v in value)
            if value.__class__ is tuple:
                return items
            if getattr(value.__class__, "_fields", None) is not None:
                return tuple.__new__(value.__class__, items)  # a namedtuple keeps its field names
            return items
        if isinstance(value, (set, frozenset)):
            items_set = {copy(v) for v in value}
            return items_set if isinstance(value, set) else frozenset(items_set)
        return bytearray(value)
