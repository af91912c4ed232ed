"""Read the coverage section of a ``d2 test --format json`` report for one policy file.

The report names policies by the path ``d2 test`` loaded them from; the TUI may have opened the same
file by another relative path, so paths are compared resolved, then by file name as a last resort.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from d2.exceptions import D2Error

__all__ = ["Coverage", "Uncovered", "load_coverage"]


@dataclass(frozen=True, slots=True)
class Uncovered:
    """A rule (grant, condition, sequence rule, ...) no scenario exercised."""

    kind: str
    label: str
    line: int


@dataclass(frozen=True, slots=True)
class Coverage:
    """The coverage of one policy: percent and the rules left unexercised."""

    report: str
    policy: str
    percent: float
    covered: int
    total: int
    uncovered: tuple[Uncovered, ...]

    @property
    def lines(self) -> frozenset[int]:
        return frozenset(u.line for u in self.uncovered)


def load_coverage(report: Path, policy_file: str) -> Coverage:
    """Coverage of ``policy_file`` from ``report``; raises D2Error saying what is wrong and how to fix it."""
    try:
        data: Any = json.loads(report.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise D2Error(f"cannot read coverage report {report}: {exc}") from exc
    section = data.get("coverage") if isinstance(data, dict) else None
    if not isinstance(section, dict):
        raise D2Error(
            f"{report} has no coverage section: write it with "
            f"`d2 test SCENARIOS --coverage --format json > {report}`"
        )
    entries = [p for p in section.get("policies", []) if isinstance(p, dict)]
    entry = _pick(entries, policy_file)
    if entry is None:
        names = ", ".join(str(p.get("policy")) for p in entries) or "none"
        raise D2Error(f"{report} covers {names}, not {policy_file}; run d2 test against this policy")
    uncovered = tuple(
        Uncovered(str(u.get("kind")), str(u.get("label")), int(u.get("line") or 1))
        for u in entry.get("uncovered", [])
        if isinstance(u, dict)
    )
    return Coverage(
        str(report),
        str(entry.get("policy")),
        float(entry.get("percent") or 0.0),
        int(entry.get("covered") or 0),
        int(entry.get("total") or 0),
        uncovered,
    )


def _pick(entries: list[dict[str, Any]], policy_file: str) -> dict[str, Any] | None:
    target = Path(policy_file).resolve()
    for entry in entries:
        if Path(str(entry.get("policy"))).resolve() == target:
            return entry
    by_name = [e for e in entries if Path(str(e.get("policy"))).name == target.name]
    return by_name[0] if len(by_name) == 1 else None
