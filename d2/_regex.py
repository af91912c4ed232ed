"""Policy regexes: RE2 for every pattern, so matching attacker-controlled text takes linear time.

Every pattern in a policy runs on text an attacker can shape (arguments, tool output). A backtracking
engine turns ``^(a+)+$`` and friends into minutes of CPU on a few kilobytes; RE2 cannot backtrack, so
it runs in time linear in the text whatever the pattern. The price is RE2's syntax: no lookaround and
no backreferences. Such a pattern is a load error that says what to write instead.

Patterns are compiled once at load. Matching calls RE2's matcher directly on UTF-8 bytes (the
binding's Python-level ``fullmatch`` costs ~3 µs, the direct call ~0.5 µs); a pattern that is a plain
literal skips the regex engine altogether (``==``, ``in``, ``str.replace`` behave identically).
``re2`` is imported on first compile, never at ``import d2``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["Regex", "RegexError", "compile_regex"]

# A pattern with none of these characters means itself in RE2 (no flags, no classes, no escapes).
_META = frozenset("\\^$.|?*+()[]{}")
_NO_MATCH = (-1, -1)


class RegexError(ValueError):
    """A policy pattern RE2 cannot compile; ``hint`` says how to rewrite it."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


@dataclass(frozen=True, slots=True)
class Regex:
    """A compiled policy pattern: ``fullmatch`` and ``search`` answer yes/no, ``sub`` redacts."""

    pattern: str
    literal: bool
    _match: Callable[..., Any] | None
    _both: Any
    _none: Any

    def fullmatch(self, text: str) -> bool:
        """True when the whole of ``text`` matches."""
        if self._match is None:
            return text == self.pattern
        data = text.encode("utf-8", "surrogatepass")
        return bool(self._match(self._both, data, 0, len(data))[0] != _NO_MATCH)

    def search(self, text: str) -> bool:
        """True when the pattern occurs anywhere in ``text``."""
        if self._match is None:
            return self.pattern in text
        data = text.encode("utf-8", "surrogatepass")
        return bool(self._match(self._none, data, 0, len(data))[0] != _NO_MATCH)

    def sub(self, text: str, replacement: str) -> str:
        """Replace every non-overlapping occurrence in ``text`` with ``replacement``."""
        if self._match is None:
            return text.replace(self.pattern, replacement) if self.pattern else text
        data = text.encode("utf-8", "surrogatepass")
        end = len(data)
        pos = 0
        pieces: list[bytes] = []
        last = 0
        while pos <= end:
            start, stop = self._match(self._none, data, pos, end)[0]
            if start < 0:
                break
            pieces.append(data[last:start])
            pieces.append(replacement.encode("utf-8"))
            last = stop
            pos = stop if stop > start else _next_char(data, stop)
        if not pieces:
            return text
        pieces.append(data[last:])
        return b"".join(pieces).decode("utf-8", "surrogatepass")


def _next_char(data: bytes, pos: int) -> int:
    """Step past one UTF-8 character, so an empty match cannot stall the scan."""
    pos += 1
    while pos < len(data) and (data[pos] & 0xC0) == 0x80:
        pos += 1
    return pos


def compile_regex(pattern: str) -> Regex:
    """Compile ``pattern`` with RE2; raise RegexError saying why it was refused and how to rewrite it."""
    if not _META.intersection(pattern):
        return Regex(pattern, True, None, None, None)
    import re2

    options = re2.Options()
    options.never_capture = True
    options.log_errors = False
    try:
        compiled = re2.compile(pattern, options)
    except re2.error as exc:
        raise _explain(pattern, exc) from None
    anchor = re2._Anchor
    return Regex(pattern, False, compiled._regexp.Match, anchor.ANCHOR_BOTH, anchor.UNANCHORED)


_UNSUPPORTED: tuple[tuple[str, str, str], ...] = (
    (
        r"\(\?<?[=!]",
        "lookaround ((?=...), (?!...), (?<=...), (?<!...)) is not supported by RE2",
        "express the extra condition with a second operator instead (e.g. not_matches beside matches)",
    ),
    (
        r"\\[1-9]|\(\?P=|\\g<|\\k<",
        "backreferences are not supported by RE2",
        "match the repeated part explicitly, or check it in code",
    ),
    (
        r"\(\?>|[*+?}]\+",
        "atomic groups and possessive quantifiers are not supported by RE2",
        "drop them: RE2 never backtracks, so they are unnecessary (write 'a+' for 'a++')",
    ),
    (r"\\Z", r"'\Z' is not supported by RE2", r"write '\z' for the end of the text"),
    (r"\(\?\(", "conditional groups are not supported by RE2", "split the pattern into two rules"),
    (
        r"\(\?[a-zA-Z]*x",
        "verbose mode (?x) is not supported by RE2",
        "remove the whitespace and comments from the pattern",
    ),
)


def _explain(pattern: str, exc: Exception) -> RegexError:
    raw = exc.args[0] if exc.args else str(exc)
    detail = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    for probe, what, hint in _UNSUPPORTED:
        if re.search(probe, pattern):
            return RegexError(f"regex {pattern!r}: {what} ({detail})", f"{hint}; see docs/guardrails.md")
    if detail.startswith("invalid repetition size"):
        return RegexError(
            f"regex {pattern!r}: {detail} (RE2 allows counts up to 1000)",
            "use a smaller count, or '+' / '*' with a maxLength beside it",
        )
    if detail.startswith("pattern too large"):
        return RegexError(
            f"regex {pattern!r} is too large for RE2 to compile", "simplify it or split it into rules"
        )
    return RegexError(
        f"invalid regex {pattern!r}: {detail}", "fix the pattern (RE2 syntax, see docs/guardrails.md)"
    )
