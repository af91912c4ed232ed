"""``--coverage``: which rules of a policy no case exercised, with file:line, and the share that were.

What counts as exercised is chosen so that deleting an exercised rule would make some case fail:
- a grant (or ``*``), when a step is allowed through it; an ``allow: false``, when it refuses a step;
- an input condition operator, an output validation rule, a global output rule, ``action: deny``
  and a sequence ``deny`` rule, when it refuses a step;
- an output ``filter``/``redact``/``truncate``, when a step asserts the output of a call it applies to;
- a sequence ``allow`` pattern, when an allowed step completes it (deny mode: uses one of its edges);
- a data-flow label source, when a tool it labels is allowed; a block, when it refuses a step.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from typing import Any

from d2._toolkit import CompiledPolicy, RequestState, SourceDoc

from ._coverage_report import CoverageReport, PolicyCoverage
from ._model import Step, split_location
from ._result import Outcome
from ._universe import Kind, Unit, build_units

__all__ = ["CoverageReport", "CoverageTracker", "PolicyCoverage"]


class CoverageTracker:
    """Watches replayed steps of one policy and marks the units they exercise (an engine Observer)."""

    def __init__(self, policy: CompiledPolicy, doc: SourceDoc) -> None:
        self.policy = policy
        self.units = tuple(build_units(doc))
        self.covered: set[int] = set()
        self._by_start = {(u.start, u.kind): i for i, u in enumerate(self.units)}
        self._refusers = [i for i, u in enumerate(self.units) if not u.by_allow and u.kind != Kind.GRANT]
        self._on_allow = [i for i, u in enumerate(self.units) if u.by_allow]

    def report(self) -> PolicyCoverage:
        return PolicyCoverage(self.policy.source, self.units, frozenset(self.covered))

    def step(
        self, policy: CompiledPolicy, state: RequestState, step: Step, outcome: Outcome, args: Any
    ) -> None:
        """Attribute one step's decision to the rules that made it."""
        if not outcome.allowed:
            self._refused(outcome.location)
            return
        assert step.call is not None
        owners = self._allowing(state, step.call, args)
        history = list(state.log.history)
        for i in self._on_allow:
            unit = self.units[i]
            if i not in self.covered and self._exercised(unit, owners, state, step, history):
                self.covered.add(i)

    def _refused(self, location: str | None) -> None:
        if not location:
            return
        _file, line, col = split_location(location)
        if line is None:
            return
        best: int | None = None
        for i in self._refusers:
            unit = self.units[i]
            inside = unit.start[0] <= line <= unit.end[0] if col is None else unit.contains((line, col))
            if inside and (best is None or len(unit.path) > len(self.units[best].path)):
                best = i
        if best is not None:
            self.covered.add(best)

    def _allowing(self, state: RequestState, tool: str, args: Callable[[], Mapping[str, Any]]) -> set[Any]:
        """Mark the grants that allowed the call; return their permission paths (owners of output rules)."""
        owners: set[Any] = set()
        for grant in self.policy.access(tool, state.user.roles).grants:
            if grant.input is not None:
                try:
                    if grant.input.check(args(), state) is not None:
                        continue
                except Exception:
                    continue
            key = ((grant.location.line, grant.location.col), Kind.GRANT)
            index = self._by_start.get(key)
            if index is None:
                index = self._containing(grant.location.line, grant.location.col, Kind.GRANT)
            if index is not None:
                self.covered.add(index)
                owners.add(self.units[index].path)
        return owners

    def _containing(self, line: int, col: int, kind: str) -> int | None:
        for i, unit in enumerate(self.units):
            if unit.kind == kind and unit.contains((line, col)):
                return i
        return None

    def _exercised(
        self, unit: Unit, owners: set[Any], state: RequestState, step: Step, history: list[str]
    ) -> bool:
        if unit.kind == Kind.OUTPUT:
            return unit.owner in owners and step.has_returns and step.expect.has_output
        if unit.kind == Kind.LABEL:
            return any(self._matches(s, history[-1]) for s in unit.sources) if history else False
        if unit.kind == Kind.SEQUENCE:
            if unit.roles and not state.user.roles.intersection(unit.roles):
                return False
            return self._pattern_used(unit, history)
        return False

    def _matches(self, ref: str, tool: str) -> bool:
        if ref.startswith("@"):
            return tool in self.policy.tool_groups.get(ref[1:], frozenset())
        return ref == tool

    def _pattern_used(self, unit: Unit, history: list[str]) -> bool:
        """Whether this allowed call completed the pattern (deny mode: took one of its edges)."""
        pattern = unit.pattern
        if not pattern or not history:
            return False
        tool = history[-1]
        if unit.mode == "deny":
            if len(pattern) == 1 or len(history) == 1:
                return self._matches(pattern[0], tool)
            prev = history[-2]
            return any(
                self._matches(a, prev) and self._matches(b, tool) for a, b in itertools.pairwise(pattern)
            )
        if not self._matches(pattern[-1], tool):
            return False
        k = 0
        for earlier in history[:-1]:
            if k < len(pattern) - 1 and self._matches(pattern[k], earlier):
                k += 1
        return k == len(pattern) - 1
