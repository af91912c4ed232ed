"""The result of ``--coverage``: per policy, its rules and which some case exercised (plain data)."""

from __future__ import annotations

from dataclasses import dataclass

from ._universe import Unit

__all__ = ["CoverageReport", "PolicyCoverage"]


@dataclass(frozen=True, slots=True)
class PolicyCoverage:
    """One policy's units and which of them some case exercised."""

    policy: str
    units: tuple[Unit, ...]
    covered: frozenset[int]

    @property
    def uncovered(self) -> tuple[Unit, ...]:
        return tuple(u for i, u in enumerate(self.units) if i not in self.covered)

    @property
    def percent(self) -> float:
        return 100.0 * len(self.covered) / len(self.units) if self.units else 100.0


@dataclass(frozen=True, slots=True)
class CoverageReport:
    """Coverage of every policy a run tested, and the minimum the run must reach."""

    policies: tuple[PolicyCoverage, ...]
    minimum: float | None = None

    @property
    def total(self) -> int:
        return sum(len(p.units) for p in self.policies)

    @property
    def covered(self) -> int:
        return sum(len(p.covered) for p in self.policies)

    @property
    def percent(self) -> float:
        return 100.0 * self.covered / self.total if self.total else 100.0

    @property
    def ok(self) -> bool:
        return self.minimum is None or self.percent + 1e-9 >= self.minimum
