"""Compare what the engine decided for a step with what the scenario expects; name the first mismatch.

Checks run from coarse to fine (decision, reason, rule, message, output, facts), so a failure reads
as the most important difference, and the deciding rule is always shown with its policy text.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from d2._toolkit import Grant, same

from ._model import Decision, Step
from ._result import Failure, Outcome

__all__ = ["check_step", "show_value"]

AllowedBy = Callable[[], Grant | None]
SourceLine = Callable[[str | None], str | None]


def check_step(
    step: Step, outcome: Outcome, allowed_by: AllowedBy | None, source: SourceLine
) -> Failure | None:
    """Return the first expectation ``outcome`` misses, or None when the step passes."""
    exp = step.expect
    if step.call is None:
        return _facts(step, outcome)
    judge = _Judge(step, outcome, allowed_by, source)
    want_allow = exp.decision is Decision.ALLOW
    if want_allow != outcome.allowed or (not want_allow and exp.reason and exp.reason != outcome.reason):
        expected = str(exp.decision) + (f" ({exp.reason})" if exp.reason else "")
        return judge.fail("decision", expected, outcome.describe())
    if exp.rule is not None:
        where = _deciding(outcome, allowed_by)
        if not exp.rule.matches(where):
            return judge.fail(
                "rule", f"decided by the rule at {exp.rule.text}", f"decided by {where or 'no rule'}"
            )
    if exp.message is not None and exp.message not in _explanation(outcome):
        return judge.fail("message", f"a refusal mentioning {exp.message!r}", _explanation(outcome))
    if exp.has_output and not same(exp.output, outcome.output):
        return judge.fail("output", show_value(exp.output), show_value(outcome.output))
    return _facts(step, outcome)


def _facts(step: Step, outcome: Outcome) -> Failure | None:
    want = step.expect.facts
    if want is None or want == outcome.facts:
        return None
    missing, extra = sorted(want - outcome.facts), sorted(outcome.facts - want)
    parts = [f"missing {', '.join(missing)}"] if missing else []
    parts += [f"unexpected {', '.join(extra)}"] if extra else []
    return Failure("facts", _set(want), _set(outcome.facts), step, outcome, note="; ".join(parts))


@dataclass(frozen=True, slots=True)
class _Judge:
    """One step's outcome, and how to explain it when an expectation fails."""

    step: Step
    outcome: Outcome
    allowed_by: AllowedBy | None
    source: SourceLine

    def fail(self, what: str, expected: str, actual: str) -> Failure:
        where = _deciding(self.outcome, self.allowed_by)
        note = self.outcome.detail if not self.outcome.allowed else _grant_note(self.allowed_by)
        return Failure(what, expected, actual, self.step, self.outcome, where, self.source(where), note)


def _deciding(outcome: Outcome, allowed_by: AllowedBy | None) -> str | None:
    if not outcome.allowed:
        return outcome.location
    grant = allowed_by() if allowed_by is not None else None
    return str(grant.location) if grant is not None else None


def _grant_note(allowed_by: AllowedBy | None) -> str | None:
    grant = allowed_by() if allowed_by is not None else None
    if grant is None:
        return None
    what = "every tool ('*')" if grant.tool == "*" else (f"'{grant.via}'" if grant.via else f"'{grant.tool}'")
    conditional = " (its input conditions pass)" if grant.input is not None else ""
    return f"role '{grant.role}' is granted {what}{conditional}"


def _explanation(outcome: Outcome) -> str:
    if outcome.allowed:
        return "the call was allowed"
    return outcome.detail or str(outcome.reason)


def _set(values: frozenset[str]) -> str:
    return "[" + ", ".join(sorted(values)) + "]"


def show_value(value: Any, limit: int = 400) -> str:
    """Render a value compactly for a failure message (scenario data, not secrets from production)."""
    try:
        text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=repr)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
