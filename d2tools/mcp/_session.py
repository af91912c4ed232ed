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
reference in ``_meta["d2/session"]`` (:data:`SESSION_META_KEY`): see :class:`SessionTable`.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

from d2._toolkit import (
    CompiledPolicy,
    RequestLog,
    RequestState,
    UserContext,
    joined_state,
    push_state,
    refusing_log,
    reset_state,
    session_log,
    share_facts,
)

__all__ = ["SESSION_META_KEY", "SessionTable", "request_state", "session_id_for", "use_state"]

SESSION_META_KEY = "d2/session"
SESSION_INVALID = "session_invalid"
STATE_UNAVAILABLE = "state_unavailable"
MAX_JOINED = 100_000
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


def _has_history(log: RequestLog, policy: CompiledPolicy | None) -> bool:
    """Whether a request already has calls or labels, here or (shared backend) on another replica.

    A mirror of a Redis session starts empty in a process that has not served it yet, so it is
    brought up to date first (one round trip); only then does "no history" mean none anywhere.
    """
    if log.calls or log.history or log.facts:
        return True
    shared = log.shared
    if shared is None:
        return False
    if policy is None:  # nothing to replay the history with: assume there is one (refuse the join)
        return True
    with log.lock:
        share_facts(policy, log, shared, [])  # an empty update: fetch what other replicas recorded
    return bool(log.calls or log.history or log.facts)


class SessionTable:
    """Which MCP requests joined a session another service started, by a signed reference.

    - A reference in ``_meta["d2/session"]`` is verified with the service's session keys
      (``D2_SESSION_KEY`` / ``D2_SESSION_JWKS``): it must be untampered, unexpired and issued to
      this caller's user. A bad one refuses the call (``session_invalid``); it never falls back to
      a fresh or to the MCP session's own history.
    - The join must come with the MCP request's first call: once calls were decided on the MCP
      session's own history (by any replica, with a shared backend), switching to another session
      would leave that history behind (a way to split a forbidden sequence), so it is refused.
    - Once joined, the MCP request stays in that session: later calls without the reference count
      there too; a reference to a different session is refused. A fresh reference to the same
      session is accepted (references expire; the join does not).

    The binding is kept by this proxy process (bounded, least recently used first). With several
    replicas, a client that joins should send the reference with every call, so each replica
    joins the same session on the first call it sees.
    """

    def __init__(self, limit: int = MAX_JOINED) -> None:
        self._limit = limit
        self._lock = threading.Lock()
        self._joined: OrderedDict[str, str] = OrderedDict()

    def state(
        self,
        key: str,
        user: UserContext,
        reference: object = None,
        policy: CompiledPolicy | None = None,
    ) -> RequestState:
        """The request state for one call of MCP request ``key``, joining ``reference`` if given.

        ``policy`` (the proxy's current one) replays another replica's history into this process's
        mirror when a join has to check that the request has none of its own.
        """
        with self._lock:
            bound = self._joined.get(key)
            if bound is not None:
                self._joined.move_to_end(key)
        if reference is None:
            if bound is None:
                return request_state(key, user)
            return RequestState(user, session_log(bound, user))
        base = RequestState(user, RequestLog())
        if not isinstance(reference, str) or not reference:
            return _refused(base, f"_meta[{SESSION_META_KEY!r}] must be a session reference string")
        joined = joined_state(base, reference)
        target = _joined_id(joined.log)
        if target is None:
            return joined  # refuses every call, with the reason the reference failed
        if bound is not None:
            if bound != target:
                return _refused(base, "this MCP session already joined another session")
            return joined
        own = request_state(key, user)
        try:
            has_history = _has_history(own.log, policy)
        except Exception as exc:  # a backend fault: the join cannot be checked, so it is refused
            reason = getattr(exc, "reason", None)
            return _refused(
                base, f"cannot check the request's own history: {exc}", reason or STATE_UNAVAILABLE
            )
        if has_history:
            return _refused(
                base,
                "a session reference must come with the MCP session's first call; this one already "
                "has calls of its own",
            )
        with self._lock:
            self._joined[key] = target
            while len(self._joined) > self._limit:
                self._joined.popitem(last=False)
        return joined


@contextmanager
def use_state(state: RequestState) -> Iterator[None]:
    """Make ``state`` the current d2 request for the guarded call inside the block."""
    token = push_state(state)
    try:
        yield
    finally:
        reset_state(token)
