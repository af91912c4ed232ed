"""Per-MCP-session request state: which calls share one history for sequence and data-flow rules.

What one *request* (in d2's sense) is, for each protocol era (docs/mcp.md, "What one request is"):

- 2025-11-25 handshake era: the MCP session. Over streamable HTTP that is the ``Mcp-Session-Id`` the
  proxy issued (bound to the token that opened it); over stdio it is the connection, i.e. the
  proxy process's one client.
- 2026-07-28 stateless era: there is no session. Over HTTP every call made with one bearer token is
  one request (keyed by the token's ``jti``, else a digest of the token); over stdio, the connection.
  A client-chosen id never splits that state: a prompt-injected agent that spreads a forbidden
  sequence over several HTTP requests still meets its own history.

The history lives in d2's session-state backend (``d2._toolkit.session_log``): in this process by
default, on Redis when ``D2_STATE_URL`` is set — then every proxy replica on that Redis decides the
calls of one session on one history (a token's calls may land on any replica). A session belongs to
the user who first used it; the backend keeps other users out.

A client may instead *join* a session another service started, by sending a signed session
reference in ``_meta["d2/session"]`` (:data:`SESSION_META_KEY`): see :func:`call_state`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

from d2._toolkit import (
    RequestLog,
    RequestState,
    UserContext,
    joined_state,
    joined_target,
    push_state,
    refusing_log,
    reset_state,
    seal_log,
    session_log,
)

__all__ = ["SESSION_META_KEY", "call_state", "request_state", "session_id_for", "use_state"]

SESSION_META_KEY = "d2/session"
SESSION_INVALID = "session_invalid"
STATE_UNAVAILABLE = "state_unavailable"
_MAX_ID = 200


def session_id_for(key: str) -> str:
    """The backend session id of a request key: the key itself when short and printable, else a digest.

    Request keys may carry an issuer, a subject or an HTTP session id; a digest keeps the id within
    the backend's 200-character bound and keeps raw token material out of Redis key names.
    """
    if len(key) <= _MAX_ID and key.isprintable():
        return key
    return "h:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def request_state(key: str, user: UserContext) -> RequestState:
    """The request state of ``key`` for ``user``: the session's history, this call's user and roles.

    The user object is the caller's as of this call (roles from a renewed token), while the history
    carries over. The backend binds the session to the first user's id; another user using the same
    key is refused per call (``session_invalid``), never handed this history.
    """
    return RequestState(user, session_log(session_id_for(key), user))


def _joined_id(log: RequestLog) -> str | None:
    """The session a successful join leads to; None when the join was refused.

    ``joined_state`` names the joined session's log after it (``request_id``); a refused join yields a
    log whose shared handle refuses every call and names no such session.
    """
    shared = log.shared
    if shared is not None and getattr(shared, "session_id", None) != log.request_id:
        return None
    return log.request_id


def _refused(state: RequestState, detail: str, reason: str = SESSION_INVALID) -> RequestState:
    return replace(state, log=refusing_log("?", reason, detail))


def _fault(state: RequestState, what: str, exc: Exception) -> RequestState:
    """A backend fault while checking a join: the call is refused with the fault's reason."""
    reason = getattr(exc, "reason", None) or STATE_UNAVAILABLE
    return _refused(state, f"{what}: {getattr(exc, 'detail', exc)}", reason)


def call_state(key: str, user: UserContext, reference: object = None) -> RequestState:
    """The request state of one call of MCP request ``key``, joining the session ``reference`` names.

    - A reference in ``_meta["d2/session"]`` is verified with the service's session keys
      (``D2_SESSION_KEY`` / ``D2_SESSION_JWKS``): it must be untampered, unexpired and issued to
      this caller's user. A bad one refuses the call (``session_invalid``); it never falls back to
      a fresh or to the MCP request's own history.
    - The join must come with the MCP request's first call. Joining *seals* the request's own
      session into the joined one, in one atomic step that also checks it has no history (calls or
      labels, recorded by any replica). Once calls were decided on the request's own history,
      switching would leave it behind (a way to split a forbidden sequence): refused.
    - Once joined, the request stays joined everywhere: the seal lives with the request's own
      session (in this process, or on Redis for every replica), so later calls without the
      reference count in the joined session on any replica, a reference to a different session is
      refused, and a fresh reference to the same session is accepted (references expire; the join
      lasts while the request is used: idle past the session TTL, it is forgotten with the rest of
      the request's state). A call that raced the join on another replica onto the request's own
      history is refused, never recorded beside it.
    """
    own = request_state(key, user)
    try:
        target = joined_target(own.log)
    except Exception as exc:  # a backend fault: where this request's calls go is unknown
        return _fault(own, "cannot read the request's session", exc)
    if reference is None:
        return own if target is None else RequestState(user, session_log(target, user))
    base = RequestState(user, RequestLog())
    if not isinstance(reference, str) or not reference:
        return _refused(base, f"_meta[{SESSION_META_KEY!r}] must be a session reference string")
    joined = joined_state(base, reference)
    wanted = _joined_id(joined.log)
    if wanted is None:
        return joined  # refuses every call, with the reason the reference failed
    if wanted == own.log.request_id:
        return own  # a reference to this very request's session: nothing to join
    if target is not None:
        if target != wanted:
            return _refused(base, "this MCP session already joined another session")
        return joined
    try:
        sealed = seal_log(own.log, wanted)
    except Exception as exc:  # sealed into another session meanwhile, or the backend failed
        return _fault(base, "cannot join the session", exc)
    if not sealed:
        return _refused(
            base,
            "a session reference must come with the MCP session's first call; this one already "
            "has calls of its own",
        )
    return joined


@contextmanager
def use_state(state: RequestState) -> Iterator[None]:
    """Make ``state`` the current d2 request for the guarded call inside the block."""
    token = push_state(state)
    try:
        yield
    finally:
        reset_state(token)
