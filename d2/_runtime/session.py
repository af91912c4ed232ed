"""Sessions: one history for an agent's calls across requests, replicas and services.

``with d2.session("agent-42"):`` makes the guarded calls of the block count in session ``agent-42``
(of the current user) instead of the request's own history; with Redis configured every replica
shares it. ``d2.session_reference()`` hands the current session to another service (the httpx hook
does it per outgoing request; the ASGI middleware joins it on the other side).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from d2._base.log import logger
from d2._core.session import SessionFault
from d2._core.state import RequestState
from d2._runtime.context import _Scope, current_state
from d2._runtime.session_ref import (
    HEADER,
    SessionReferenceError,
    sign_reference,
    sign_reference_ed25519,
    verify_reference,
    verify_reference_keys,
)
from d2._sources.session_state import refusing_log, session_log, settings, share_request
from d2.exceptions import ConfigurationError, D2NoContextError, PermissionDeniedError

__all__ = [
    "httpx_session_hook",
    "httpx_session_hook_async",
    "join_session",
    "joined_state",
    "session",
    "session_reference",
    "share_labels",
]

SESSION_INVALID = "session_invalid"


def session(session_id: str) -> _Scope:
    """Run a block in session ``session_id`` of the current user (sync or async ``with``).

    The user, roles and restrictions stay; the history and labels are the session's, shared with every
    process that enters the same session (Redis configured) or with this process only (in-process).
    A session belongs to the user who first used it: another user entering it is refused per call.
    """

    def make() -> RequestState:
        state = _require("d2.session()")
        return replace(state, log=session_log(session_id, state.user))

    return _Scope(make)


def session_reference(*, ttl: float | None = None) -> str:
    """A signed reference to the current session, for the next service (``X-D2-Session`` header).

    Bound to the current user and valid for ``ttl`` seconds (default ``reference_ttl``, 300). With
    Redis configured the history so far is written first; if that fails the reference is refused.
    """
    state = _require("d2.session_reference()")
    conf = settings()
    keys = conf.keys
    if keys.secret is None and keys.private_key is None:
        raise ConfigurationError(
            "no session signing key: set D2_SESSION_KEY (the same secret in every service, or an "
            "Ed25519 private key in PEM) or configure_session_state(signing_key=...)"
        )
    try:
        session_id = share_request(state.log, state.user)
    except SessionFault as fault:
        raise PermissionDeniedError(
            reason=fault.reason, user_id=state.user.user_id, roles=state.user.roles, detail=fault.detail
        ) from None
    lifetime = ttl or conf.reference_ttl
    if keys.private_key is not None:
        assert keys.kid is not None
        return sign_reference_ed25519(keys.private_key, keys.kid, session_id, state.user.user_id, lifetime)
    assert keys.secret is not None
    return sign_reference(keys.secret, session_id, state.user.user_id, lifetime)


def joined_state(state: RequestState, reference: str) -> RequestState:
    """``state`` moved into the session ``reference`` names, or into a session that refuses every call."""
    conf = settings()
    keys = conf.keys
    try:
        if reference.startswith("v2."):
            if not keys.public:
                raise SessionReferenceError("this service trusts no session-reference keys (D2_SESSION_JWKS)")
            claims = verify_reference_keys(keys.public, reference, state.user.user_id)
        else:
            if keys.secret is None:
                raise SessionReferenceError("this service has no shared session secret (D2_SESSION_KEY)")
            claims = verify_reference(keys.secret, reference, state.user.user_id)
        if conf.url is None and not _local_session_known(claims.session_id, state):
            raise SessionReferenceError(
                "this service keeps session state in-process, so it cannot join another process's "
                "session; set D2_STATE_URL to the shared Redis"
            )
    except SessionReferenceError as exc:
        logger().warning("d2: session reference refused: %s", exc)
        return replace(state, log=refusing_log("?", SESSION_INVALID, f"session reference refused: {exc}"))
    return replace(state, log=session_log(claims.session_id, state.user))


def join_session(reference: str) -> _Scope:
    """Run a block in the session a reference names (as the ASGI middleware does for ``X-D2-Session``).

    A reference that is forged, expired or issued to another user does not raise here: every guarded
    call in the block is refused with reason ``session_invalid``.
    """

    def make() -> RequestState:
        return joined_state(_require("d2.join_session()"), reference)

    return _Scope(make)


def httpx_session_hook(request: Any) -> None:
    """httpx request hook: ``httpx.Client(event_hooks={"request": [d2.httpx_session_hook]})``."""
    if current_state() is not None:
        request.headers[HEADER] = session_reference()


async def httpx_session_hook_async(request: Any) -> None:
    """The same hook for ``httpx.AsyncClient``."""
    httpx_session_hook(request)


def share_labels(state: RequestState, labels: list[str]) -> None:
    """Record labels set by code in a shared session (caller holds the log's lock); refuse on faults."""
    from d2._engine.shared import share_facts
    from d2._sources.manager import get_policy_manager

    try:
        share_facts(get_policy_manager().policy, state.log, state.log.shared, labels)
    except SessionFault as fault:
        raise PermissionDeniedError(
            reason=fault.reason, user_id=state.user.user_id, roles=state.user.roles, detail=fault.detail
        ) from None


def _require(what: str) -> RequestState:
    state = current_state()
    if state is None:
        raise D2NoContextError(f"{what} needs a user context; set the user first (d2.set_user_context())")
    return state


def _local_session_known(session_id: str, state: RequestState) -> bool:
    from d2._sources.session_state import has_local_session

    return has_local_session(session_id, state.user)
