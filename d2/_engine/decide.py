"""The decision engine: pure functions from (compiled policy, request state, tool, arguments) to a verdict.

No I/O, no globals. The guard, ``d2 test`` and ``d2 inspect --explain`` all decide through these
functions, so a scenario that passes in CI behaves the same in production. Order, as the semantics
fix it: RBAC and input conditions, restrictions, sequence rules, data flow; then (after the body
runs) output validation and sanitization.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, NoReturn

from d2._core.verdict import MissingAttribute, Violation

if TYPE_CHECKING:
    from d2._core.model import Access, CompiledPolicy, Grant
    from d2._core.state import RequestState
from d2.exceptions import PermissionDeniedError, Reason

__all__ = [
    "allow_plain",
    "apply_output",
    "authorize",
    "authorize_general",
    "deny",
    "deny_for_violation",
    "missing_attribute",
]

ArgsFn = Callable[[], Mapping[str, Any]]

_NOT_GRANTED = "none of the user's roles is granted this tool"
_NOT_IN_POLICY = "the tool is not in the policy; grant it to a role to allow it"


def deny(
    reason: Reason | str,
    tool: str,
    state: RequestState | None,
    *,
    location: str | None = None,
    detail: str | None = None,
    value: Any = None,
    cls: type[PermissionDeniedError] = PermissionDeniedError,
) -> NoReturn:
    """Raise a refusal that carries everything a handler or log needs."""
    if state is None:
        raise cls._refusal(reason, tool, None, frozenset(), location, detail, value)
    user = state.user
    raise cls._refusal(reason, tool, user.user_id, user.roles, location, detail, value)


def deny_for_violation(v: Violation, tool: str, state: RequestState) -> NoReturn:
    """Turn a failed condition into a refusal naming the field, the operator and the rule."""
    deny(v.reason, tool, state, location=str(v.location), detail=v.message, value=v.value)


def allow_plain(policy: CompiledPolicy, state: RequestState, tool: str, access: Access) -> bool:
    """Decide and record the common call in one step, or return False for :func:`authorize_general`.

    ``access`` is the caller's (``open``: a grant with no conditions or output rules). The common call
    also has no data-flow rules, no restriction active, history kept in this process; at most sequence
    rules, checked and recorded in one pass. Nothing about it depends on the arguments or the result,
    so the guard binds neither and has nothing to do after the call.
    """
    if state.restrictions or policy.flow is not None:
        return False
    log = state.log
    if log.shared is not None:  # a shared session records every call in its backend
        return False
    seq = policy.sequence
    if seq is None:
        log.history.append(tool)
        log.calls += 1
        log.last_tool = tool
        return True
    lock = log.lock
    lock.acquire()  # not ``with``: the statement's method lookups cost as much as the step itself
    try:
        violation = seq.step(log, tool, state.user.roles)
    finally:
        lock.release()
    if violation is not None:
        deny_for_violation(violation, tool, state)
    return True


def authorize(policy: CompiledPolicy, state: RequestState, tool: str, args: ArgsFn) -> tuple[Grant, ...]:
    """Decide a call before it runs; record it in the request on success; raise on refusal.

    Returns the allowing grants that carry output rules (empty for a plain allow): those rules apply
    to the result.
    """
    access = policy._cache.get((tool, state.user.roles)) or policy.access(tool, state.user.roles)
    if access.open and policy.flow is None and allow_plain(policy, state, tool, access):
        return ()
    return authorize_general(policy, state, tool, args, access) or ()


def authorize_general(
    policy: CompiledPolicy, state: RequestState, tool: str, args: ArgsFn, access: Access | None = None
) -> tuple[Grant, ...] | None:
    """:func:`authorize` for a call :func:`allow_plain` declined (the guard tries that first itself).

    ``access`` is the caller's when it looked it up already. Returns None when nothing is left to do
    after the call (no output rules, no provenance to record), else the grants whose output rules apply
    (possibly none, when only provenance is recorded).
    """
    if access is None:
        access = policy._cache.get((tool, state.user.roles)) or policy.access(tool, state.user.roles)
    if access.deny is not None:
        deny(
            Reason.EXPLICIT_DENY,
            tool,
            state,
            location=str(access.deny.location),
            detail=f"role '{access.deny.role}' is explicitly denied this tool",
        )
    grants = access.grants
    if not grants:
        # Default deny: the deciding "rule" is the policy itself, so point at its file. Built and
        # raised here, not through deny(): the most common refusal skips a frame and keyword parsing.
        user = state.user
        if tool in policy.known_tools:
            raise PermissionDeniedError._refusal(
                Reason.RBAC, tool, user.user_id, user.roles, policy.source, _NOT_GRANTED, None
            )
        raise PermissionDeniedError._refusal(
            Reason.UNKNOWN_TOOL, tool, user.user_id, user.roles, policy.source, _NOT_IN_POLICY, None
        )
    bound: Mapping[str, Any] | None = None
    if not access.open:
        bound = args() if access.needs_args else {}
        if len(grants) == 1:  # the usual case: one grant decides, and it is the one returned
            _check_grant(grants[0], bound, state, tool)
        else:
            grants = _passing_grants(grants, bound, state, tool, stop_at_first=not access.has_output)
    if state.restrictions:
        if bound is None or not access.needs_args:
            bound = args()
        for restriction in state.restrictions:
            violation = restriction.check(tool, bound, state)
            if violation is not None:
                deny_for_violation(violation, tool, state)
    log = state.log
    if log.shared is None and policy.sequence is None and policy.flow is None:
        log.history.append(tool)  # the common case inline: nothing but the history to keep
        log.calls += 1
        log.last_tool = tool
    else:
        _sequence_flow_record(policy, state, tool)
    if state.restrictions:
        for restriction in state.restrictions:
            restriction.record(tool)
    if not access.has_output:
        flow = policy.flow
        return None if flow is None or tool not in flow.tracked else ()
    return tuple(g for g in grants if g.output is not None)


def _check_grant(grant: Grant, args: Mapping[str, Any], state: RequestState, tool: str) -> None:
    """Refuse unless the one grant's input conditions pass (``_passing_grants`` for a single grant)."""
    check = grant.input
    if check is None:
        return
    try:
        violation = check.check(args, state)
    except MissingAttribute as exc:
        violation = missing_attribute(exc)
    if violation is not None:
        deny_for_violation(violation, tool, state)


def _passing_grants(
    grants: tuple[Grant, ...], args: Mapping[str, Any], state: RequestState, tool: str, *, stop_at_first: bool
) -> tuple[Grant, ...]:
    passing: list[Grant] = []
    first: Violation | None = None
    for grant in grants:
        if grant.input is None:
            violation = None
        else:
            try:
                violation = grant.input.check(args, state)
            except MissingAttribute as exc:
                violation = missing_attribute(exc)
        if violation is None:
            if stop_at_first:  # one passing grant decides; no output rules need the others
                return (grant,)
            passing.append(grant)
        elif first is None:
            first = violation
    if not passing:
        assert first is not None
        deny_for_violation(first, tool, state)
    return tuple(passing)


def _sequence_flow_record(policy: CompiledPolicy, state: RequestState, tool: str) -> None:
    log = state.log
    if log.shared is not None:
        from d2._engine.shared import record_shared  # only sessions shared across processes

        refusal = record_shared(policy, state, tool, log.shared)
        if isinstance(refusal, Violation):
            deny_for_violation(refusal, tool, state)
        if refusal is not None:
            deny(refusal.reason, tool, state, detail=refusal.detail)
        return
    seq, flow = policy.sequence, policy.flow  # at least one of them (the caller records plain calls)
    lock = log.lock
    lock.acquire()
    try:
        if flow is not None and log.facts:
            block = flow.blocking(log, tool)
            if block is not None:
                # Sequence rules come first: theirs is the refusal when both refuse.
                violation = None if seq is None else seq.check(log, tool, state.user.roles)
                deny_for_violation(violation or flow.violation(block, log, tool), tool, state)
        if seq is not None:
            violation = seq.step(log, tool, state.user.roles)  # check, append and record in one pass
            if violation is not None:
                deny_for_violation(violation, tool, state)
        else:
            log.history.append(tool)
            log.calls += 1
            log.last_tool = tool
        if flow is not None:
            flow.record(log, tool)
    finally:
        lock.release()


def apply_output(grants: tuple[Grant, ...], value: Any, state: RequestState, tool: str) -> Any:
    """Validate and sanitize a result with the output rules of every grant that allowed the call."""
    for grant in grants:
        if grant.output is not None:
            try:
                value, violation = grant.output.apply(value, state)
            except MissingAttribute as exc:
                violation = missing_attribute(exc)
            if violation is not None:
                deny_for_violation(violation, tool, state)
    return value


def missing_attribute(exc: MissingAttribute) -> Violation:
    """A condition bound to a user attribute that is absent or unusable: refuse, never compare to None."""
    if exc.where is not None:
        where = exc.where
    else:
        from d2._base.diagnostics import Location

        where = Location("<policy>", 1, 1)
    return Violation(Reason.MISSING_ATTRIBUTE, str(exc.ref), exc.op, where, str(exc))
