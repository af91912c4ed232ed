"""What every reporter formats: the diagnostics of a run and what was checked."""

from __future__ import annotations

from dataclasses import dataclass

from d2._toolkit import Diagnostic

__all__ = ["Report"]


@dataclass(frozen=True, slots=True)
class Report:
    """Diagnostics (sorted by file and position) plus the files that were checked."""

    diagnostics: tuple[Diagnostic, ...]
    files: tuple[str, ...] = ()
    tool: str = "d2"
    version: str = ""

    @property
    def errors(self) -> int:
        return sum(1 for d in self.diagnostics if d.is_error)

    @property
    def warnings(self) -> int:
        return sum(1 for d in self.diagnostics if not d.is_error)
