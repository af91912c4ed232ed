"""Per-MCP-session request state: which calls share one history for sequence and data-flow rules.

What one *request* (in d2's sense) is, for each protocol era (docs/mcp.md, "What one request is"):

- 2025-11-25 handshake era: the MCP session. Over streamable HTTP that is the ``Mcp-Session-Id`` the
  proxy issued (bound to the token that opened it); over stdio it is the connection, i.e. the
  proxy process's one client.
- 2026-07-28 stateless era: there is no session. Over HTTP every call made with one bearer token is
  one request (keyed by the token's ``jti``, else a digest of the token); over stdio, the connection.
  A client-chosen id (``_meta``) never splits that state: a prompt-injected agent that spreads a
  forbidden sequence over several HTTP requests still meets its own history.

:func:`request_state` is the only place the proxy gets state from, so a shared backend (Redis, for
several proxy replicas) can replace the in-process table without touching the rest.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

from d2._toolkit import RequestLog, RequestState, UserContext, push_state, reset_state

__all__ = ["forget", "request_state", "use_state"]

MAX_STATES = 100_000
IDLE_SECONDS = 24 * 3600.0

_lock = threading.Lock()
_states: OrderedDict[str, tuple[RequestState, float]] = OrderedDict()


def request_state(key: str, user: UserContext) -> RequestState:
    """Return the request state of ``key`` for ``user``, creating it on first use.

    The key already names the principal (see the module docstring), so a different user never meets
    this state; the user object is refreshed (roles from a renewed token) while history carries over.
    Least recently used states are dropped past ``MAX_STATES`` or after ``IDLE_SECONDS`` idle.
    """
    now = time.monotonic()
    with _lock:
        found = _states.get(key)
        if found is None:
            state = RequestState(user, RequestLog())
        else:
            state = found[0] if found[0].user == user else replace(found[0], user=user)
            _states.move_to_end(key)
        _states[key] = (state, now)
        while _states:
            oldest_key, (_, seen) = next(iter(_states.items()))
            if len(_states) <= MAX_STATES and now - seen < IDLE_SECONDS:
                break
            del _states[oldest_key]
        return state


def forget(key: str) -> None:
    """Drop a session's state when the session ends."""
    with _lock:
        _states.pop(key, None)


@contextmanager
def use_state(state: RequestState) -> Iterator[None]:
    """Make ``state`` the current d2 request for the guarded call inside the block."""
    token = push_state(state)
    try:
        yield
    finally:
        reset_state(token)
