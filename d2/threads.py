"""Run work in threads as the right user, inside the same request.

``submit_with_context`` snapshots the caller's context, so the worker sees the same user and adds to
the same request history and facts (a thread cannot launder a sequence). An explicit ``actor``
changes who acts, never the request: history and labels carry over.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from d2._runtime.context import UserContext, acting_as, current_state
from d2.exceptions import D2NoContextError

if TYPE_CHECKING:
    from concurrent.futures import Executor, Future

__all__ = ["submit_with_context", "thread_entrypoint"]

P = ParamSpec("P")
R = TypeVar("R")


def _run_as(
    actor: UserContext | None, fn: Callable[..., R], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> R:
    if actor is None:
        return fn(*args, **kwargs)
    with acting_as(actor):
        return fn(*args, **kwargs)


def _name(fn: Callable[..., Any]) -> str:
    return getattr(fn, "__qualname__", None) or type(fn).__name__


def submit_with_context(
    executor: Executor, fn: Callable[..., R], /, *args: Any, actor: UserContext | None = None, **kwargs: Any
) -> Future[R]:
    """Submit ``fn`` to ``executor`` in a copy of the current context (as ``actor`` when given).

    With neither a user context nor an ``actor`` it raises D2NoContextError at once, in the caller.
    """
    if actor is not None and not isinstance(actor, UserContext):
        raise TypeError(f"actor must be a d2.UserContext, got {type(actor).__name__}")
    if actor is None and current_state() is None:
        # Fail closed at submit time: the work would otherwise run with no identity at all.
        raise D2NoContextError(
            f"submit_with_context({_name(fn)}) has no user context to pass on: set the user first "
            "(d2.set_user_context) or pass actor=d2.UserContext(...)"
        )
    ctx = contextvars.copy_context()
    return executor.submit(ctx.run, _run_as, actor, fn, args, kwargs)


def thread_entrypoint(fn: Callable[P, R] | None = None, *, require_actor: bool = False) -> Any:
    """Mark a thread's entry function: it accepts ``actor=`` and runs in its own copy of the context.

    With ``require_actor=True`` a call without an explicit actor is refused (D2NoContextError) rather
    than silently running as whoever the ambient context names.
    """

    def decorate(func: Callable[..., R]) -> Callable[..., R]:
        @functools.wraps(func)
        def wrapper(*args: Any, actor: UserContext | None = None, **kwargs: Any) -> R:
            if actor is None and require_actor:
                raise D2NoContextError(
                    f"{func.__qualname__} requires an explicit actor=UserContext(...); "
                    "ambient context is not accepted here"
                )
            if actor is not None and not isinstance(actor, UserContext):
                raise TypeError(f"actor must be a d2.UserContext, got {type(actor).__name__}")
            if actor is None and current_state() is None:
                raise D2NoContextError(
                    f"{func.__qualname__} was started with no user context: pass actor=d2.UserContext(...) "
                    "or start it from a context that has a user"
                )
            return contextvars.copy_context().run(_run_as, actor, func, args, kwargs)

        return wrapper

    if fn is not None:
        return decorate(fn)
    return decorate
