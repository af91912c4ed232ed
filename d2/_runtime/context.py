"""Per-request user context and state, carried by a ContextVar.

A request owns one :class:`RequestLog` (call history, data-flow facts, sequence progress). Every
asyncio task and every thread started with the helpers inherits the same :class:`RequestState`, so
they add to one history: a child task cannot launder a sequence by starting from a blank slate.
There is no module-global store; an uncleared request leaks nothing once it is unreferenced.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from contextvars import ContextVar, Token
from dataclasses import replace
from types import TracebackType
from typing import TYPE_CHECKING, Any

from d2._core.state import _EMPTY, RequestLog, RequestState, UserContext
from d2.exceptions import ContextLeakWarning

if TYPE_CHECKING:
    import logging

__all__ = [
    "RequestLog",
    "RequestState",
    "UserContext",
    "clear_user_context",
    "current_state",
    "get_current_user",
    "get_user_context",
    "get_user_id",
    "get_user_roles",
    "is_context_set",
    "run_as",
    "set_user",
    "set_user_context",
    "warn_if_context_set",
]

_STATE: ContextVar[RequestState | None] = ContextVar("d2_request_state", default=None)


def current_state() -> RequestState | None:
    """Return the request state of the running context (None when no user is set)."""
    return _STATE.get()


def _make_user(
    user_id: str | None, roles: Iterable[str] | None, attributes: Mapping[str, Any] | None
) -> UserContext:
    if isinstance(roles, str):
        roles = [roles]
    return UserContext(user_id, frozenset(roles or ()), attributes or _EMPTY)


def set_user(
    user_id: str | None, roles: Iterable[str] | None = None, *, attributes: Mapping[str, Any] | None = None
) -> None:
    """Start a new request as ``user_id`` with ``roles``; clear it with ``clear_user_context()``."""
    _STATE.set(RequestState(_make_user(user_id, roles, attributes), RequestLog()))


def clear_user_context() -> None:
    """End the current request: no user, no history, no facts."""
    _STATE.set(None)


_NOBODY = UserContext(None)


def get_user_context() -> UserContext:
    """Return the acting user with a snapshot of the request (id, call history, facts).

    With no context set this is an empty context (``user_id`` None, no roles), as the vendor SDK
    returns; test ``ctx.user_id`` to know whether a user is set.
    """
    state = _STATE.get()
    if state is None:
        return _NOBODY
    log = state.log
    with log.lock:
        history = tuple(log.history)
        facts = frozenset(log.facts)
    return replace(state.user, request_id=log.request_id, call_history=history, facts=facts)


def get_current_user() -> UserContext:
    """Vendor SDK name of :func:`get_user_context`."""
    return get_user_context()


def is_context_set() -> bool:
    """Return True when a user context is set in the running context."""
    return _STATE.get() is not None


def get_user_id() -> str | None:
    """Return the acting user's id, or None when no context is set."""
    state = _STATE.get()
    return state.user.user_id if state is not None else None


def get_user_roles() -> frozenset[str]:
    """Return the acting user's roles (empty when no context is set)."""
    state = _STATE.get()
    return state.user.roles if state is not None else frozenset()


def warn_if_context_set(*, logger: logging.Logger | None = None) -> bool:
    """Warn and log (and return True) when a user context is still set, e.g. at the end of a request.

    The warning is a :class:`~d2.exceptions.ContextLeakWarning` (a ``ResourceWarning``); the log
    record goes to ``logger`` or the ``d2.context`` logger, as the vendor SDK logs it.
    """
    state = _STATE.get()
    if state is None:
        return False
    message = (
        f"d2 user context still set (user {state.user.user_id!r}); clear it with clear_user_context() "
        "or use set_user_context()/run_as() as a context manager"
    )
    if logger is None:
        import logging

        logger = logging.getLogger("d2.context")
    logger.warning("%s", message)
    warnings.warn(message, ContextLeakWarning, stacklevel=2)
    return True


class _Scope:
    """Set a request state on entry and restore the previous one on exit (sync and async ``with``)."""

    def __init__(self, make: Any) -> None:
        self._make = make
        self._token: Token[RequestState | None] | None = None

    def __enter__(self) -> UserContext:
        state: RequestState = self._make()
        self._token = _STATE.set(state)
        return state.user

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._token is not None:
            _STATE.reset(self._token)
            self._token = None

    async def __aenter__(self) -> UserContext:
        return self.__enter__()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.__exit__(exc_type, exc, tb)


def set_user_context(
    user_id: str | None, roles: Iterable[str] | None = None, *, attributes: Mapping[str, Any] | None = None
) -> _Scope:
    """Run a block as a new request of ``user_id``; the previous context returns when the block exits."""
    return _Scope(lambda: RequestState(_make_user(user_id, roles, attributes), RequestLog()))


def run_as(
    user: str | UserContext | None,
    roles: Iterable[str] | None = None,
    *,
    attributes: Mapping[str, Any] | None = None,
) -> _Scope:
    """Like :func:`set_user_context`, also accepting a ready :class:`UserContext`."""
    if isinstance(user, UserContext):
        if roles is not None or attributes is not None:
            raise TypeError("pass roles and attributes inside the UserContext, not beside it")
        ctx = user
        return _Scope(lambda: RequestState(ctx, RequestLog()))
    return set_user_context(user, roles, attributes=attributes)


def acting_as(actor: UserContext) -> _Scope:
    """Change who acts without starting a new request: history, facts and restrictions carry over."""

    def make() -> RequestState:
        state = _STATE.get()
        if state is None:
            return RequestState(actor, RequestLog())
        return replace(state, user=actor)

    return _Scope(make)


def push_state(state: RequestState | None) -> Token[RequestState | None]:
    """Install ``state`` (used by middleware and helpers that manage the token themselves)."""
    return _STATE.set(state)


def reset_state(token: Token[RequestState | None]) -> None:
    """Undo a :func:`push_state`."""
    _STATE.reset(token)
