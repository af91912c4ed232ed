"""Deciding on a mirror of shared session state: decide, compare-and-append, re-decide on news.

The engine stays pure: it talks to the backend only through the :class:`SharedSession` the request
log carries (the I/O lives in ``d2._sources``). Each attempt decides on the local mirror and sends the
outcome in one round trip; the backend appends only if the mirror was current. A refusal is confirmed
the same way, so neither outcome is ever decided on a stale history.
"""

from __future__ import annotations

from d2._core.model import CompiledPolicy, Violation
from d2._core.session import CALL, FACT, Delta, SessionFault, SharedSession
from d2._core.state import RequestLog, RequestState

__all__ = ["MAX_ROUNDS", "apply_delta", "mirror_entries", "record_shared", "share_facts"]

# Each lost round means another process appended meanwhile; past this many the call is refused
# rather than spinning (a session hammered from many processes at once is refused, not raced).
MAX_ROUNDS = 32
STATE_UNAVAILABLE = "state_unavailable"


def record_shared(
    policy: CompiledPolicy, state: RequestState, tool: str, shared: SharedSession
) -> Violation | SessionFault | None:
    """Check sequence and data-flow rules of ``tool`` against the shared session; append it if allowed.

    Returns None when the call was allowed and recorded, else what refuses it (the caller raises).
    """
    log = state.log
    flow = policy.flow
    labels = tuple(flow.emits.get(tool, ())) if flow is not None else ()
    with log.lock:
        for _ in range(MAX_ROUNDS):
            violation = _check(policy, log, tool, state)
            entries = (CALL + tool,) if violation is None else ()
            try:
                delta = shared.commit(entries, labels if violation is None else ())
            except SessionFault as fault:
                if not (shared.degraded and fault.reason == STATE_UNAVAILABLE):
                    return fault
                delta = None  # degraded mode (explicit opt-in): this replica's view decides
                if violation is None:
                    shared.local(entries)
            if delta is None:
                if violation is not None:
                    return violation
                _append(policy, log, tool)
                return None
            if delta.lost:
                shared.reseed(mirror_entries(log))
            else:
                apply_delta(policy, log, delta)
    return SessionFault(
        STATE_UNAVAILABLE, f"session state changed under {MAX_ROUNDS} consecutive attempts; refused"
    )


def share_facts(
    policy: CompiledPolicy | None, log: RequestLog, shared: SharedSession, labels: list[str]
) -> None:
    """Add labels set by code to the shared session (under the log's lock); local copy first."""
    log.facts.update(labels)
    entries = [FACT + label for label in labels]
    for _ in range(MAX_ROUNDS):
        try:
            delta = shared.commit(entries, ())
        except SessionFault as fault:
            # The labels stay in this mirror either way (its decisions only get stricter); degraded
            # mode also sends them with the next successful round trip.
            if shared.degraded and fault.reason == STATE_UNAVAILABLE:
                shared.local(entries)
                return
            raise
        if delta is None:
            return
        if delta.lost:
            shared.reseed(mirror_entries(log))
        elif policy is not None:
            apply_delta(policy, log, delta)
            log.facts.update(labels)
    raise SessionFault(STATE_UNAVAILABLE, "session state changed under too many attempts")


def _check(policy: CompiledPolicy, log: RequestLog, tool: str, state: RequestState) -> Violation | None:
    seq, flow = policy.sequence, policy.flow
    violation: Violation | None = None
    if seq is not None:
        violation = seq.check(log, tool, state.user.roles)
    if violation is None and flow is not None:
        violation = flow.check(log, tool)
    return violation


def _append(policy: CompiledPolicy, log: RequestLog, tool: str) -> None:
    log.history.append(tool)
    log.calls += 1
    if policy.sequence is not None:
        policy.sequence.record(log, tool)
    if policy.flow is not None:
        policy.flow.record(log, tool)
    log.last_tool = tool


def apply_delta(policy: CompiledPolicy, log: RequestLog, delta: Delta) -> None:
    """Bring the mirror up to date with entries other processes appended (labels only accumulate)."""
    if delta.reset:
        log.history.clear()
        log.calls = 0
        log.progress.clear()
        log.last_tool = None
    log.facts.update(delta.facts)
    for entry in delta.entries:
        if entry[:1] == CALL:
            _append(policy, log, entry[1:])
        else:
            log.facts.add(entry[1:])


def mirror_entries(log: RequestLog) -> list[str]:
    """The mirror as entries: every retained call, then every label (to re-create a lost session)."""
    return [*(CALL + tool for tool in log.history), *(FACT + label for label in sorted(log.facts))]
