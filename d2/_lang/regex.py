"""Policy regexes: every pattern runs in time linear in the text, on RE2 or a proven-safe subset.

Every pattern in a policy runs on text an attacker can shape (arguments, tool output). A backtracking
engine turns ``^(a+)+$`` and friends into minutes of CPU on a few kilobytes; RE2 cannot backtrack, so
it runs in time linear in the text whatever the pattern. The price is RE2's syntax: no lookaround and
no backreferences. Such a pattern is a load error that says what to write instead.

Every pattern is compiled with RE2 at load (that is the validation). Matching then takes the cheapest
engine that is safe for it: a plain literal uses ``==``/``in``/``str.replace``; a whole-value match in
the one-quantifier subset (see :mod:`d2._lang.regex_simple`) uses stdlib ``re`` on short texts (~0.15 µs
instead of ~0.5 µs); everything else calls RE2's matcher directly on UTF-8 bytes (the binding's
Python-level ``fullmatch`` costs ~3 µs). ``re2`` is imported on first compile, never at ``import d2``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from d2._base.log import logger
from d2._lang.regex_simple import SHORT_TEXT, simple_fullmatch

__all__ = ["MAX_SUBSTITUTIONS", "SHORT_TEXT", "Regex", "RegexError", "compile_regex"]

# Beyond this many matches in one value, ``sub`` replaces the whole value: each match costs one call
# into RE2 (~0.8 µs), and redacting more than asked is the safe way to bound the time.
MAX_SUBSTITUTIONS = 1000
# A pattern with none of these characters means itself in RE2 (no flags, no classes, no escapes).
_META = frozenset("\\^$.|?*+()[]{}")


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
    fullmatch: Callable[[str], bool]
    search: Callable[[str], bool]
    sub: Callable[[str, str], str]
    # The stdlib matcher ``fullmatch`` uses on texts of at most SHORT_TEXT characters (None when the
    # pattern is outside the safe subset): an operator calls it directly, one call fewer per value.
    short: Callable[[str], Any] | None = None


def compile_regex(pattern: str, *, public: bool | None = None) -> Regex:
    """Compile ``pattern`` with RE2; raise RegexError saying why it was refused and how to rewrite it.

    ``public`` forces (True) or forbids (False) the binding's public API; by default the fast path is
    used when :func:`fast_path_ok` says it agrees with the public API.
    """
    if not _META.intersection(pattern):
        return _literal(pattern)
    import re2

    try:
        compiled = re2.compile(pattern, _options(re2))
    except re2.error as exc:
        raise _explain(pattern, exc) from None
    if public is None:
        public = not fast_path_ok()
    match, search, both = _public_matcher(compiled) if public else _private_matcher(re2, compiled)
    full = _re2_test(match, both)
    fast = simple_fullmatch(pattern)
    if fast is not None:
        full = _short_first(fast, full)
    return Regex(pattern, full, _re2_test(match, search), _re2_sub(match, search), fast)


# google-re2's Python wrapper spends ~3 µs a call mapping str offsets; d2 calls the matcher below it
# (``_regexp.Match`` with ``_Anchor``) on UTF-8 bytes. Those names are private, so the dependency is
# pinned to the 1.1 series, and the first compile checks that the fast path answers exactly as the
# public API does (``search``/``fullmatch`` on bytes); if not, or with D2_RE2_PUBLIC=1, d2 uses the
# public API throughout. tests/runtime/hardening/test_regex_contract.py holds the two to each other.
_FAST_OK: bool | None = None
_PROBES = (
    (r"b+c", "abbcd"), (r"é+c", "xééc ééc"), (r"^a|b$", "ab"), (r"(?i)x\d", "zX9"), (r"q\z", "aq"),
    (r"[^\x00-\x7f]", "abc"), (r"x*", "yy"),
)  # fmt: skip
_SEARCH: Any = object()
_BOTH: Any = object()


def fast_path_ok() -> bool:
    """True when RE2's private matcher is present and agrees with the public API on the probes."""
    global _FAST_OK
    if _FAST_OK is None:
        _FAST_OK = _self_check()
    return _FAST_OK


def _self_check() -> bool:
    if os.environ.get("D2_RE2_PUBLIC", "").lower() in ("1", "true", "yes", "on"):
        return False
    import re2

    try:
        for pattern, text in _PROBES:
            compiled = re2.compile(pattern, _options(re2))
            fast, f_search, f_both = _private_matcher(re2, compiled)
            slow, s_search, s_both = _public_matcher(compiled)
            data = text.encode("utf-8")
            for pos in range(len(data) + 1):
                for f_anchor, s_anchor in ((f_search, s_search), (f_both, s_both)):
                    end = len(data)
                    if tuple(fast(f_anchor, data, pos, end)[0]) != slow(s_anchor, data, pos, end)[0]:
                        raise AssertionError(f"fast path disagrees on {pattern!r}")
    except Exception as exc:  # any surprise means: do not trust the private names
        logger().warning("d2: google-re2's fast path is unavailable (%s); using its public API", exc)
        return False
    return True


def _options(re2: Any) -> Any:
    options = re2.Options()
    options.never_capture = True
    options.log_errors = False
    return options


def _private_matcher(re2: Any, compiled: Any) -> tuple[Callable[..., Any], Any, Any]:
    return compiled._regexp.Match, re2._Anchor.UNANCHORED, re2._Anchor.ANCHOR_BOTH


def _public_matcher(compiled: Any) -> tuple[Callable[..., Any], Any, Any]:
    """The same contract as the private matcher, from ``search``/``fullmatch`` on bytes."""
    search, fullmatch = compiled.search, compiled.fullmatch

    def match(anchor: Any, data: bytes, pos: int, end: int) -> tuple[tuple[int, int]]:
        found = (fullmatch if anchor is _BOTH else search)(data, pos, end)
        return ((found.start(), found.end()),) if found is not None else ((-1, -1),)

    return match, _SEARCH, _BOTH


def _literal(text: str) -> Regex:
    def full(value: str) -> bool:
        return value == text

    def search(value: str) -> bool:
        return text in value

    def sub(value: str, replacement: str) -> str:
        if not text:
            return value
        return replacement if value.count(text) > MAX_SUBSTITUTIONS else value.replace(text, replacement)

    return Regex(text, full, search, sub)


def _short_first(fast: Callable[[str], Any], slow: Callable[[str], bool]) -> Callable[[str], bool]:
    """Use the stdlib matcher on short texts, where its O(len(text) * len(pattern)) bound is tiny."""

    def full(value: str) -> bool:
        if len(value) <= SHORT_TEXT:
            return fast(value) is not None
        return slow(value)

    return full


def _re2_test(match: Callable[..., Any], anchor: Any) -> Callable[[str], bool]:
    def test(value: str) -> bool:
        data = value.encode("utf-8", "surrogatepass")
        return bool(match(anchor, data, 0, len(data))[0][0] >= 0)

    return test


def _re2_sub(match: Callable[..., Any], anchor: Any) -> Callable[[str, str], str]:
    def sub(value: str, replacement: str) -> str:
        data = value.encode("utf-8", "surrogatepass")
        new = replacement.encode("utf-8", "surrogatepass")
        end = len(data)
        pieces: list[bytes] = []
        pos = last = 0
        while pos <= end:
            start, stop = match(anchor, data, pos, end)[0]
            if start < 0:
                break
            if len(pieces) >= 2 * MAX_SUBSTITUTIONS:
                return replacement  # too many matches to replace one by one: replace the whole value
            pieces += (data[last:start], new)
            last = stop
            pos = stop if stop > start else _next_char(data, stop)
        if not pieces:
            return value
        pieces.append(data[last:])
        return b"".join(pieces).decode("utf-8", "surrogatepass")

    return sub


def _next_char(data: bytes, pos: int) -> int:
    """Step past one UTF-8 character, so an empty match cannot stall the scan."""
    pos += 1
    while pos < len(data) and (data[pos] & 0xC0) == 0x80:
        pos += 1
    return pos


_UNSUPPORTED: tuple[tuple[str, str, str], ...] = (
    (
        r"\(\?<?[=!]",
        "lookaround ((?=...), (?!...), (?<=...), (?<!...))",
        "express the extra condition as a second operator, e.g. not_matches beside matches",
    ),
    (
        r"\\[1-9]|\(\?P=|\\g<|\\k<",
        "a backreference",
        "match the repeated part explicitly, or check it in code",
    ),
    (
        r"\(\?>|[*+?}]\+",
        "an atomic group or a possessive quantifier",
        "drop it: RE2 never backtracks, so it is unnecessary ('a+' for 'a++')",
    ),
    (r"\\Z", r"'\Z'", r"write '\z' for the end of the text"),
    (r"\(\?\(", "a conditional group", "split the pattern into two rules"),
    (r"\(\?[a-zA-Z]*x", "verbose mode (?x)", "remove the whitespace and comments from the pattern"),
)


def _explain(pattern: str, exc: Exception) -> RegexError:
    raw = exc.args[0] if exc.args else str(exc)
    detail = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    for probe, what, hint in _UNSUPPORTED:
        if re.search(probe, pattern):
            return RegexError(
                f"regex {pattern!r} uses {what}, which RE2 does not support",
                f"{hint}; policy regexes run on RE2, which cannot backtrack: see docs/guardrails.md",
            )
    if detail.startswith("invalid repetition size"):
        return RegexError(
            f"regex {pattern!r}: {detail}; RE2 allows repetition counts up to 1000",
            "use a smaller count, or '+' / '*' with a maxLength beside it",
        )
    if detail.startswith("pattern too large"):
        return RegexError(f"regex {pattern!r} is too large for RE2", "simplify it or split it into rules")
    return RegexError(f"invalid regex {pattern!r}: {detail}", "fix the pattern; d2 uses RE2 syntax")
