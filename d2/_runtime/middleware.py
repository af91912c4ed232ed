"""Request boundaries: the ASGI middleware and the ``clear_context`` decorators.

Each HTTP or WebSocket connection runs as one request: the middleware installs the user the
extractor names and restores the previous context afterwards, so nothing leaks into the next
request handled by the same task or thread.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any, ParamSpec, TypeVar

from d2._base.log import logger
from d2._runtime.context import RequestLog, RequestState, UserContext, _make_user, push_state, reset_state

__all__ = ["ASGIMiddleware", "clear_context", "clear_context_async", "headers_extractor"]

P = ParamSpec("P")
R = TypeVar("R")

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]
Extracted = tuple[str | None, Any] | tuple[str | None, Any, Mapping[str, Any]] | UserContext | None


def headers_extractor(scope: Mapping[str, Any]) -> tuple[str | None, list[str]]:
    """Read ``X-D2-User`` and ``X-D2-Roles`` (comma separated) from the request headers.

    Only safe behind a trusted proxy that sets or strips these headers: a client that can send them
    can claim any role.
    """
    user: str | None = None
    roles: list[str] = []
    for raw_name, raw_value in scope.get("headers") or ():
        name = raw_name.decode("latin-1").lower()
        if name == "x-d2-user":
            user = raw_value.decode("latin-1").strip() or None
        elif name == "x-d2-roles":
            roles = [r.strip() for r in raw_value.decode("latin-1").split(",") if r.strip()]
    return user, roles


def _to_state(extracted: Extracted) -> RequestState | None:
    if extracted is None:
        return None
    if isinstance(extracted, UserContext):
        user = extracted
    else:
        user_id, roles, *rest = extracted
        if not user_id:
            return None
        attributes = rest[0] if rest else None
        user = _make_user(user_id, roles, attributes)
    if not user.user_id:
        return None  # no user id: the request stays anonymous and every guarded call is refused
    return RequestState(user, RequestLog())


def _session_reference(scope: Mapping[str, Any]) -> str | None:
    """The ``X-D2-Session`` header another service set (see ``d2.session_reference``), if any."""
    for raw_name, raw_value in scope.get("headers") or ():
        if raw_name.lower() == b"x-d2-session":
            return str(raw_value.decode("latin-1").strip())
    return None


class ASGIMiddleware:
    """Set the d2 user for each HTTP/WebSocket request from ``user_extractor(scope)``.

    The extractor (sync or async) returns ``(user_id, roles)``, ``(user_id, roles, attributes)``, a
    :class:`UserContext`, or None for an anonymous request (guarded calls are then refused). An
    extractor that raises, or names no user id, leaves the request anonymous: d2 fails closed.

    There is no default extractor: one that read client headers would let any client claim any role.
    Pass your own (from the session or a verified token), or ``headers_extractor`` explicitly when a
    trusted proxy sets or strips ``X-D2-User``/``X-D2-Roles``.
    """

    def __init__(self, app: ASGIApp, user_extractor: Callable[[Scope], Any] | None = None) -> None:
        if user_extractor is None:
            from d2.exceptions import ConfigurationError

            raise ConfigurationError(
                "d2.ASGIMiddleware needs user_extractor=: a function of the ASGI scope that returns "
                "(user_id, roles) from your session or a verified token. d2 has no default, because "
                "reading X-D2-User/X-D2-Roles would trust whatever the client sends; pass "
                "user_extractor=d2.headers_extractor only behind a proxy that sets or strips those headers"
            )
        self.app = app
        self.user_extractor = user_extractor

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope.get("type") not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        try:
            extracted = self.user_extractor(scope)
            if inspect.isawaitable(extracted):
                extracted = await extracted
            state = _to_state(extracted)
            reference = _session_reference(scope) if state is not None else None
            if state is not None and reference is not None:
                from d2._runtime.session import joined_state

                state = joined_state(state, reference)  # a bad reference refuses every guarded call
        except Exception:
            logger().exception(
                "d2: user extractor failed; the request runs without a user (calls are refused)"
            )
            state = None
        token = push_state(state)
        try:
            await self.app(scope, receive, send)
        finally:
            reset_state(token)


def clear_context(fn: Callable[P, R]) -> Callable[P, R]:
    """Run a sync handler as its own request boundary: whatever user it sets is gone when it returns."""
    if inspect.iscoroutinefunction(fn):
        raise TypeError(f"{fn.__qualname__} is async; use @clear_context_async")

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        token = push_state(None)
        try:
            return fn(*args, **kwargs)
        finally:
            reset_state(token)

    return wrapper


def clear_context_async(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Async twin of :func:`clear_context`."""
    if not inspect.iscoroutinefunction(fn):
        raise TypeError(f"{fn.__qualname__} is not async; use @clear_context")

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        token = push_state(None)
        try:
            return await fn(*args, **kwargs)
        finally:
            reset_state(token)

    return wrapper
