"""What a run found: per case, passed, failed (with the first mismatch) or skipped; per run, the totals."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any

from d2._toolkit import Diagnostic

from ._model import Case, Step

if TYPE_CHECKING:
    from ._coverage_report import CoverageReport

__all__ = ["CaseResult", "Failure", "FileProblem", "Outcome", "RunResult", "Status"]


class Status(str, Enum):
    """How a case ended."""

    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the engine decided for one step, and what the request looked like afterwards."""

    allowed: bool
    reason: str | None = None
    location: str | None = None
    detail: str | None = None
    has_output: bool = False
    output: Any = None
    facts: frozenset[str] = frozenset()

    def describe(self) -> str:
        """``allow`` or ``deny (reason)``, as a failure block shows the actual decision."""
        return "allow" if self.allowed else f"deny ({self.reason})"


@dataclass(frozen=True, slots=True)
class Failure:
    """The first expectation a case missed: at which step, what was expected, what happened, and why."""

    what: str
    expected: str
    actual: str
    step: Step | None = None
    outcome: Outcome | None = None
    rule: str | None = None
    rule_text: str | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class CaseResult:
    """One case's verdict."""

    case: Case
    status: Status
    policy: str | None = None
    failure: Failure | None = None
    steps_run: int = 0
    seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class FileProblem:
    """A scenario file that could not be run (malformed, or its policy does not load): one failure."""

    file: str
    message: str
    diagnostics: tuple[Diagnostic, ...] = ()
    policy: str | None = None


@dataclass(frozen=True, slots=True)
class RunResult:
    """Every case result and file problem of one run, plus coverage when it was asked for."""

    cases: tuple[CaseResult, ...]
    problems: tuple[FileProblem, ...] = ()
    coverage: CoverageReport | None = None
    seconds: float = 0.0
    deselected: int = 0
    notes: tuple[str, ...] = field(default=())

    @property
    def passed(self) -> int:
        return sum(1 for c in self.cases if c.status is Status.PASSED)

    @property
    def failed(self) -> int:
        return sum(1 for c in self.cases if c.status is Status.FAILED) + len(self.problems)

    @property
    def skipped(self) -> int:
        return sum(1 for c in self.cases if c.status is Status.SKIPPED)

    @property
    def steps(self) -> int:
        return sum(c.steps_run for c in self.cases)

    @property
    def ok(self) -> bool:
        """No failure, and coverage (when measured against a minimum) reached it."""
        return self.failed == 0 and (self.coverage is None or self.coverage.ok)

    def summary(self) -> str:
        """The closing line: ``N passed, N failed`` and ``, N skipped`` when any were."""
        text = f"{self.passed} passed, {self.failed} failed"
        if self.skipped:
            text += f", {self.skipped} skipped"
        return text
