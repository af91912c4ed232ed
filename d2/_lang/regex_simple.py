"""A subset of patterns stdlib ``re`` matches in linear time and exactly as RE2 does.

RE2's matcher costs ~0.5 µs a call through its binding; stdlib ``re`` costs ~0.15 µs but backtracks.
For a *whole-value* match (``fullmatch``) of a pattern in the grammar below, backtracking is bounded:

    pattern := '^'? item* '$'?          item  := atom quant?       (at most ONE quantifier in all)
    atom    := char | '\\' punct | '.' | '[' '^'? member+ ']'
    member  := cchar | cchar '-' cchar  ('-' also literal as the first or last member)

Every atom matches exactly one character, and the match is anchored at both ends, so the only choice
is how many characters the single quantified atom takes: at most n+1 choices, each checked in
O(atoms) steps. That is O(n * atoms), capped by :data:`MAX_ATOMS`; longer texts than
:data:`SHORT_TEXT` go to RE2 anyway. Both engines read these atoms identically (code-point literals
and ranges, ``.`` = any character but newline); anything else (classes like ``\\d``, flags, groups,
alternation, anchors inside) is left to RE2. The Python pattern is rebuilt from the parse, with every
character escaped, so ``re`` sees exactly what was parsed.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from typing import Any

__all__ = ["MAX_ATOMS", "SHORT_TEXT", "simple_fullmatch"]

MAX_ATOMS = 32
SHORT_TEXT = 4096
_META = frozenset("\\^$.|?*+()[]{}")
_PUNCT = frozenset(chr(c) for c in range(0x21, 0x7F) if not chr(c).isalnum())
_QUANT = re.compile(r"(?:[*+?]|\{[0-9]+(?:,[0-9]*)?\})\??")


class _Refused(Exception):
    """The pattern is outside the subset; RE2 handles it."""


def simple_fullmatch(pattern: str) -> Callable[[str], Any] | None:
    """Return a stdlib ``fullmatch`` for a pattern in the subset, else None."""
    try:
        rebuilt = _rebuild(pattern)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # any doubt about how re reads it: leave it to RE2
            return re.compile(rebuilt).fullmatch
    except (_Refused, re.error, Warning):
        return None


def _rebuild(pattern: str) -> str:
    end = len(pattern)
    i = 1 if pattern.startswith("^") else 0
    if end > i and pattern.endswith("$") and not _escaped(pattern, end - 1):
        end -= 1
    out: list[str] = []
    atoms = quantifiers = 0
    while i < end:
        atom, i = _atom(pattern, i, end)
        atoms += 1
        found = _QUANT.match(pattern, i, end)
        if found is not None:
            quantifiers += 1
            atom += found.group()
            i = found.end()
        out.append(atom)
    if quantifiers > 1 or atoms > MAX_ATOMS:
        raise _Refused
    return "".join(out)


def _escaped(pattern: str, pos: int) -> bool:
    slashes = 0
    while pos - slashes - 1 >= 0 and pattern[pos - slashes - 1] == "\\":
        slashes += 1
    return slashes % 2 == 1


def _atom(pattern: str, i: int, end: int) -> tuple[str, int]:
    char = pattern[i]
    if char == "\\":
        if i + 1 >= end or pattern[i + 1] not in _PUNCT:
            raise _Refused
        return re.escape(pattern[i + 1]), i + 2
    if char == ".":
        return ".", i + 1
    if char == "[":
        return _class(pattern, i + 1, end)
    if char in _META:
        raise _Refused
    return re.escape(char), i + 1


def _class(pattern: str, i: int, end: int) -> tuple[str, int]:
    out = "["
    if i < end and pattern[i] == "^":
        out += "^"
        i += 1
    members = 0
    while i < end and pattern[i] != "]":
        if pattern[i] == "-" and members and (i + 1 >= end or pattern[i + 1] != "]"):
            raise _Refused  # a '-' in the middle that is not part of a range
        low, i = _class_char(pattern, i, end, first=members == 0)
        if i + 1 < end and pattern[i] == "-" and pattern[i + 1] != "]":
            high, i = _class_char(pattern, i + 1, end, first=False)
            out += f"{low}-{high}"
        else:
            out += low
        members += 1
    if i >= end or members == 0:
        raise _Refused
    return out + "]", i + 1


def _class_char(pattern: str, i: int, end: int, *, first: bool) -> tuple[str, int]:
    char = pattern[i]
    if char == "\\":
        if i + 1 >= end or pattern[i + 1] not in _PUNCT:
            raise _Refused
        return re.escape(pattern[i + 1]), i + 2
    if char == "[" or (char == "-" and not first and pattern[i + 1 : i + 2] != "]"):
        raise _Refused
    return re.escape(char), i + 1
