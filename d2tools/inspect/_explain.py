"""``d2 inspect --explain``: what one call would get, decided by the real engine, and why.

The call runs through :func:`d2._toolkit.authorize` with a fresh request for a user holding one role,
exactly as the guard would decide it (arguments are taken as given: the function's defaults are not
known here). The explanation lists every grant the role holds for the tool and whether its input
conditions pass, so a denial names the rule and a permission names the grant that allowed it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from d2._toolkit import (
    CompiledPolicy,
    Grant,
    MissingAttribute,
    RequestLog,
    RequestState,
    UserContext,
    authorize,
    missing_attribute,
)
from d2.exceptions import PermissionDeniedError, Reason

__all__ = ["Explanation", "GrantCheck", "explain"]


@dataclass(frozen=True, slots=True)
class GrantCheck:
    """One grant the role holds for the tool and what its input conditions said about the arguments."""

    role: str
    location: str
    via: str | None
    passed: bool
    detail: str | None = None
    has_output: bool = False


@dataclass(frozen=True, slots=True)
class Explanation:
    """The verdict on one call and the rules behind it."""

    role: str
    tool: str
    args: Mapping[str, Any]
    allowed: bool
    reason: str | None = None
    location: str | None = None
    detail: str | None = None
    grants: tuple[GrantCheck, ...] = ()
    output_rules: tuple[str, ...] = ()
    history: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """Plain data for ``--format json``."""
        return {
            "role": self.role,
            "tool": self.tool,
            "args": dict(self.args),
            "history": list(self.history),
            "allowed": self.allowed,
            "reason": self.reason,
            "location": self.location,
            "detail": self.detail,
            "grants": [
                {
                    "role": g.role,
                    "location": g.location,
                    "via": g.via,
                    "passed": g.passed,
                    "detail": g.detail,
                    "has_output_rules": g.has_output,
                }
                for g in self.grants
            ],
            "output_rules": list(self.output_rules),
        }


def explain(
    policy: CompiledPolicy,
    role: str,
    tool: str,
    args: Mapping[str, Any],
    *,
    history: Sequence[str] = (),
    attributes: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> Explanation:
    """Decide ``tool(**args)`` for a user holding ``role`` after the calls in ``history``."""
    base = Explanation(role, tool, dict(args), False, history=tuple(history))
    current = now or datetime.now(timezone.utc)
    if policy.expires is not None and policy.expires <= current:
        detail = f"the policy expired at {policy.expires.isoformat()}; every call is refused"
        return _with(base, reason=str(Reason.POLICY_EXPIRED), location=policy.source, detail=detail)
    user = UserContext("explain", frozenset({role}), attributes or {})
    state = RequestState(user, RequestLog())
    for earlier in history:
        try:
            authorize(policy, state, earlier, dict)
        except PermissionDeniedError as exc:
            detail = f"the earlier call to '{earlier}' (--history) is refused: {exc.detail or exc.reason}"
            return _with(base, reason=str(exc.reason), location=exc.location, detail=detail)
    checks = _grant_checks(policy, state, role, tool, args)
    try:
        with_output = authorize(policy, state, tool, lambda: args)
    except PermissionDeniedError as exc:
        return _with(base, reason=str(exc.reason), location=exc.location, detail=exc.detail, grants=checks)
    outputs = tuple(str(g.output.location) for g in with_output if g.output is not None)
    return _with(base, allowed=True, grants=checks, output_rules=outputs)


def _grant_checks(
    policy: CompiledPolicy, state: RequestState, role: str, tool: str, args: Mapping[str, Any]
) -> tuple[GrantCheck, ...]:
    access = policy.access(tool, frozenset({role}))
    return tuple(_check(g, state, args) for g in access.grants)


def _check(grant: Grant, state: RequestState, args: Mapping[str, Any]) -> GrantCheck:
    try:
        violation = grant.input.check(args, state) if grant.input is not None else None
    except MissingAttribute as exc:
        # The runtime refuses such a call (missing_attribute); explain it the same way, never crash.
        violation = missing_attribute(exc)
    detail = f"{violation.message} (condition at {violation.location})" if violation is not None else None
    return GrantCheck(
        grant.role,
        str(grant.location),
        grant.via if grant.tool != "*" else "*",
        violation is None,
        detail,
        grant.output is not None,
    )


def _with(base: Explanation, **changes: Any) -> Explanation:
    from dataclasses import replace

    return replace(base, **changes)
