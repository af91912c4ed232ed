"""Decide one call the way the guard does, without raising: ``authorize``, then ``apply_output``.

The request is fresh: the prior calls are authorized first, in order, so sequence and data-flow
rules see the same history they would at run time. Arguments are taken as given (the function's
defaults are not known here), as ``d2 inspect --explain`` takes them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from d2._toolkit import CompiledPolicy, RequestLog, RequestState, UserContext, apply_output, authorize
from d2.exceptions import PermissionDeniedError, Reason

__all__ = ["Decision", "ExplainRequest", "decide", "split_location"]


@dataclass(frozen=True, slots=True)
class ExplainRequest:
    """Who calls what, with which arguments, after which calls, and (optionally) what it returned."""

    user_id: str
    roles: tuple[str, ...]
    tool: str
    args: Mapping[str, Any]
    attributes: Mapping[str, Any]
    prior: tuple[str, ...] = ()
    has_return: bool = False
    returned: Any = None


@dataclass(frozen=True, slots=True)
class Decision:
    """The verdict, why, and where: ``location`` is the deciding rule as ``file:line:col``."""

    allowed: bool
    reason: str | None
    detail: str | None
    location: str | None
    stage: str
    allowing: tuple[str, ...] = ()
    output_rules: tuple[str, ...] = ()
    sanitized: Any = None

    @property
    def line(self) -> int | None:
        return split_location(self.location)[1]


def split_location(location: str | None) -> tuple[str | None, int | None]:
    """``file:line:col`` (or ``file:line``) -> (file, line); a bare file -> (file, None)."""
    if not location:
        return None, None
    parts = location.rsplit(":", 2)
    for size in (3, 2):
        if len(parts) >= size and all(p.isdigit() for p in parts[len(parts) - size + 1 :]):
            return ":".join(parts[: len(parts) - size + 1]), int(parts[len(parts) - size + 1])
    return location, None


def decide(policy: CompiledPolicy, request: ExplainRequest, *, now: datetime | None = None) -> Decision:
    """Run the request through the engine; every refusal becomes a ``Decision``, never an exception."""
    current = now or datetime.now(timezone.utc)
    if policy.expires is not None and policy.expires <= current:
        detail = f"the policy expired at {policy.expires.isoformat()}; every call is refused"
        return Decision(False, str(Reason.POLICY_EXPIRED), detail, policy.source, "before the call")
    user = UserContext(request.user_id, frozenset(request.roles), dict(request.attributes))
    state = RequestState(user, RequestLog())
    for earlier in request.prior:
        try:
            authorize(policy, state, earlier, dict)
        except PermissionDeniedError as exc:
            detail = f"the prior call '{earlier}' is refused: {exc.detail or exc.reason}"
            return Decision(False, str(exc.reason), detail, exc.location, f"prior call {earlier}")
    allowing = _allowing(policy, state, request)
    try:
        grants = authorize(policy, state, request.tool, lambda: request.args)
    except PermissionDeniedError as exc:
        return Decision(False, str(exc.reason), exc.detail, exc.location, "before the call", allowing)
    outputs = tuple(str(g.output.location) for g in grants if g.output is not None)
    where = allowing[0] if allowing else None
    if not request.has_return or not grants:
        return Decision(True, None, None, where, "before the call", allowing, outputs, request.returned)
    try:
        sanitized = apply_output(grants, request.returned, state, request.tool)
    except PermissionDeniedError as exc:
        return Decision(False, str(exc.reason), exc.detail, exc.location, "output", allowing, outputs)
    return Decision(True, None, None, where, "output", allowing, outputs, sanitized)


def _allowing(policy: CompiledPolicy, state: RequestState, request: ExplainRequest) -> tuple[str, ...]:
    """Locations of the grants whose input conditions pass (the first one is shown as the rule)."""
    access = policy.access(request.tool, state.user.roles)
    found = []
    for grant in access.grants:
        try:
            passed = grant.input is None or grant.input.check(request.args, state) is None
        except Exception:  # an absent attribute: the engine refuses it, so it allows nothing here
            passed = False
        if passed:
            found.append(str(grant.location))
    return tuple(found)
