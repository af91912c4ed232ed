"""What a scenario file says, as typed values: cases of steps, each step a call and an expectation.

The loader builds these from YAML; the runner replays them. Everything is frozen, so a loaded suite
can be replayed many times (``--watch``, the pytest plugin) without one run leaking into the next.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from d2._toolkit import UserContext

__all__ = [
    "UNKNOWN_DEFAULT",
    "Case",
    "Decision",
    "Expect",
    "RuleRef",
    "ScenarioFile",
    "Step",
    "ToolSignature",
]


class Decision(str, Enum):
    """What a step expects the policy to decide."""

    ALLOW = "allow"
    DENY = "deny"

    def __str__(self) -> str:
        return self.value


class _UnknownDefault:
    """A default value the scanner saw but cannot evaluate without running the code."""

    def __repr__(self) -> str:
        return "<default not known statically>"


UNKNOWN_DEFAULT: Any = _UnknownDefault()


@dataclass(frozen=True, slots=True)
class RuleRef:
    """A policy location a step names as the deciding rule: ``policy.yaml:14[:9]`` or a bare line."""

    text: str
    file: str | None
    line: int
    col: int | None = None

    def matches(self, location: str | None) -> bool:
        """True when ``location`` (``file:line:col`` as the engine renders it) is this rule."""
        if location is None:
            return False
        file, line, col = split_location(location)
        if line != self.line or (self.col is not None and col != self.col):
            return False
        if self.file is None:
            return True
        want = Path(self.file).parts
        have = Path(file).parts
        return len(want) <= len(have) and have[len(have) - len(want) :] == want


def split_location(location: str) -> tuple[str, int | None, int | None]:
    """Split ``file:line:col`` (either number may be absent); Windows drive letters survive."""
    parts = location.rsplit(":", 2)
    numbers: list[int] = []
    while len(parts) > 1 and parts[-1].isdigit():
        numbers.insert(0, int(parts.pop()))
    file = ":".join(parts)
    line = numbers[0] if numbers else None
    col = numbers[1] if len(numbers) > 1 else None
    return file, line, col


@dataclass(frozen=True, slots=True)
class Expect:
    """What must hold after a step: the decision, and optionally reason, rule, message, output, facts."""

    decision: Decision = Decision.ALLOW
    reason: str | None = None
    rule: RuleRef | None = None
    message: str | None = None
    has_output: bool = False
    output: Any = None
    facts: frozenset[str] | None = None


@dataclass(frozen=True, slots=True)
class Step:
    """One call of a guarded tool (or one hand-recorded set of labels) inside a case."""

    index: int
    line: int
    col: int
    call: str | None
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    named_only: bool = False
    has_returns: bool = False
    returns: Any = None
    record: tuple[str, ...] = ()
    restrict: Mapping[str, Any] | None = None
    actor: UserContext | None = None
    expect: Expect = field(default_factory=Expect)

    def describe(self) -> str:
        """Render the call as Python would show it: ``tool(1, limit=5)``."""
        if self.restrict is not None:
            return f"restrict {_short(dict(self.restrict), 120)}"
        if self.call is None:
            return f"record facts {list(self.record)}"
        parts = [_short(a) for a in self.args]
        parts += [f"{k}={_short(v)}" for k, v in self.kwargs.items()]
        return f"{self.call}({', '.join(parts)})"


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(frozen=True, slots=True)
class Case:
    """A request: one user, and steps that share its history and facts, in order."""

    file: str
    name: str
    line: int
    col: int
    user: UserContext
    steps: tuple[Step, ...]
    skip: str | None = None
    row: int | None = None
    # The user's own request (``request:``), as d2.set_request_values records it; None when not given.
    request: Mapping[str, Any] | None = None

    @property
    def nodeid(self) -> str:
        """``file::name``, the id ``-k``, JUnit and pytest use."""
        return f"{self.file}::{self.name}"

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@dataclass(frozen=True, slots=True)
class ToolSignature:
    """A tool's parameter list, declared in a scenario file or read from the code by the scanner."""

    tool: str
    signature: inspect.Signature
    origin: str

    @property
    def accepts_any_keyword(self) -> bool:
        return any(p.kind is inspect.Parameter.VAR_KEYWORD for p in self.signature.parameters.values())

    @property
    def names(self) -> frozenset[str]:
        variadic = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
        return frozenset(p.name for p in self.signature.parameters.values() if p.kind not in variadic)


@dataclass(frozen=True, slots=True)
class ScenarioFile:
    """A loaded scenario file: which policy it tests, the tools it declares, and its cases."""

    path: str
    policy: Path | None
    policy_line: int | None
    tools: Mapping[str, ToolSignature]
    cases: tuple[Case, ...]
