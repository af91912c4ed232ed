"""Inline suppressions: ``# d2: ignore[D2W702] why this grant stays`` silences one warning in place.

A comment at the end of a line covers findings on that line; a comment alone on its line covers the
next line that holds anything. Only warnings can be suppressed, and only with a reason: an error means
the policy would not load, so hiding it would hide a refusal. A suppression that breaks these rules is
itself reported (D2W705, D2W706) and suppresses nothing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from d2._toolkit import Diagnostic, Severity

from .codes import CODES

__all__ = ["Suppression", "apply_suppressions", "find_suppressions"]

_MARK = re.compile(r"#\s*d2:\s*ignore\[([^\]]*)\]\s*(.*)$")


@dataclass(frozen=True, slots=True)
class Suppression:
    """One ``# d2: ignore[...]`` comment: where it is, the line it covers, its codes and its reason."""

    line: int
    col: int
    target: int
    codes: tuple[str, ...]
    reason: str


def find_suppressions(text: str) -> list[Suppression]:
    """Read the suppression comments of a YAML document (JSON has no comments, so none)."""
    if "ignore[" not in text:  # every comment the pattern matches holds this: skip a big file's lines
        return []
    lines = text.splitlines()
    found = []
    for number, raw in enumerate(lines, start=1):
        m = _MARK.search(raw)
        if m is None:
            continue
        codes = tuple(c.strip().upper() for c in m.group(1).split(",") if c.strip())
        alone = not raw[: m.start()].strip()
        target = _next_content(lines, number) if alone else number
        reason = m.group(2).split("#", 1)[0].strip()  # a later '# ...' is another comment
        found.append(Suppression(number, m.start() + 1, target, codes, reason))
    return found


def _next_content(lines: Sequence[str], after: int) -> int:
    for number in range(after + 1, len(lines) + 1):
        stripped = lines[number - 1].strip()
        if stripped and not stripped.startswith("#"):
            return number
    return after


def apply_suppressions(file: str, text: str, found: Sequence[Diagnostic]) -> list[Diagnostic]:
    """Drop the warnings valid suppressions cover; add a finding for every invalid suppression."""
    kept = list(found)
    for sup in find_suppressions(text):
        bad = [c for c in sup.codes if c not in CODES or CODES[c].severity is not Severity.WARNING]
        if bad or not sup.codes:
            what = ", ".join(bad) if bad else "no code"
            kept.append(_note(file, sup, "D2W706", f"cannot suppress {what}: only warnings can be"))
            continue
        if not sup.reason:
            kept.append(_note(file, sup, "D2W705", "this suppression gives no reason, so it is not applied"))
            continue
        kept = [d for d in kept if not (d.file == file and d.line == sup.target and d.code in sup.codes)]
    return kept


def _note(file: str, sup: Suppression, code: str, message: str) -> Diagnostic:
    info = CODES[code]
    return Diagnostic(code, message, info.severity, file, sup.line, sup.col, (), info.fix)
