"""Diagnostics are data: what is wrong, where, and how to fix it.

The loader, ``d2 lint``, ``d2 test`` and the control plane all produce these; reporters (text, JSON,
GitHub, SARIF) format them. Nothing here formats for a particular tool.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

__all__ = ["Diagnostic", "Location", "Severity"]


class Severity(str, Enum):
    """How bad a finding is: errors stop a policy from loading, warnings do not."""

    ERROR = "error"
    WARNING = "warning"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class Location:
    """A 1-based position in a policy file, rendered ``file:line:col``."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One finding about a policy file, with a stable code and an optional fix hint."""

    code: str
    message: str
    severity: Severity
    file: str
    line: int
    col: int
    path: tuple[str | int, ...] = ()
    hint: str | None = None

    @property
    def location(self) -> Location:
        return Location(self.file, self.line, self.col)

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def render(self) -> str:
        """Render as ``file:line:col: CODE message (hint)`` like ruff does."""
        text = f"{self.file}:{self.line}:{self.col}: {self.code} {self.message}"
        if self.hint:
            text += f" ({self.hint})"
        return text

    def __str__(self) -> str:
        return self.render()
