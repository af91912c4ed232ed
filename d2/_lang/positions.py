"""Source positions kept packed: one int per path, unpacked to a 1-based (line, col) only when read.

A big policy records tens of thousands of positions. A ``(line, col)`` tuple each would be allocated
and then traversed by the cyclic collector; an int is neither tracked nor traversed (issue 15).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from d2._base.diagnostics import Location

__all__ = ["POS_SHIFT", "JsonPath", "Positions", "packed_loc"]

JsonPath = tuple[str | int, ...]
_Pos = tuple[int, int]

# The 0-based line sits above this shift, the 0-based column below it (both as the YAML marks give them).
POS_SHIFT = 32
_COLS = (1 << POS_SHIFT) - 1


class Positions(Mapping[JsonPath, _Pos]):
    """The 1-based (line, col) of each path, kept packed and unpacked only when asked for."""

    __slots__ = ("packed",)

    def __init__(self, packed: dict[JsonPath, int]) -> None:
        self.packed = packed

    def __getitem__(self, path: JsonPath) -> _Pos:
        raw = self.packed[path]
        return (raw >> POS_SHIFT) + 1, (raw & _COLS) + 1

    def get(self, path: JsonPath, default: Any = None) -> Any:
        raw = self.packed.get(path)
        return default if raw is None else ((raw >> POS_SHIFT) + 1, (raw & _COLS) + 1)

    def __contains__(self, path: object) -> bool:
        return path in self.packed

    def __iter__(self) -> Iterator[JsonPath]:
        return iter(self.packed)

    def __len__(self) -> int:
        return len(self.packed)

    def __repr__(self) -> str:
        return f"Positions({dict(self.items())!r})"


def packed_loc(
    file: str, p: JsonPath, key: bool, keys: dict[JsonPath, int], values: dict[JsonPath, int]
) -> Location:
    """:meth:`SourceDoc.loc` on packed tables (called for every grant and operator at compile)."""
    while True:
        found = keys.get(p) if key else None
        if found is None:
            found = values.get(p)
        if found is not None:
            return Location(file, (found >> POS_SHIFT) + 1, (found & _COLS) + 1)
        if not p:
            return Location(file, 1, 1)
        p = p[:-1]
        key = True
