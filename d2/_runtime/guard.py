"""``@d2_guard``: adapt a Python call to the engine, fail closed, and keep the hot path short.

The wrapper reads the request state and the current policy, asks the engine, runs the function,
and applies output rules. Anything unexpected inside the guard refuses the call with
``reason="internal_error"``; the tool never runs on an internal error. Sync tools called from a
running event loop run inline (the check takes microseconds; no thread hop, no loop per call).
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Mapping
from functools import partial
from time import perf_counter, time
from typing import TYPE_CHECKING, Any, TypeVar, overload

from d2._base.log import logger
from d2._core.callkeys import CALL, CHECKED
from d2._engine.decide import allow_plain, apply_output, authorize_general, deny
from d2._engine.provenance import track_output
from d2._runtime.context import _STATE, RequestState
from d2._runtime.events import SINKS, record
from d2._sources.manager import PolicyManager, get_policy_manager
from d2.exceptions import (
    BundleExpiredError,
    ConfigurationError,
    D2NoContextError,
    MissingPolicyError,
    PermissionDeniedError,
    Reason,
)

if TYPE_CHECKING:
    import inspect

    from d2._core.model import CompiledPolicy, Grant
    from d2._runtime.binding import Binder

__all__ = ["d2_guard"]

F = TypeVar("F", bound=Callable[..., Any])


class _Raise:
    def __repr__(self) -> str:
        return "<raise>"


RAISE: Any = _Raise()


def _env_strict() -> bool:
    return os.environ.get("D2_STRICT_SYNC", "").lower() in ("1", "true", "yes", "on")


class _Guard:
    """Everything a wrapper needs, computed once at decoration."""

    __slots__ = ("__weakref__", "binder", "fn", "manager", "on_deny", "sig", "strict", "tool")

    def __init__(
        self, fn: Callable[..., Any], tool: str, manager: PolicyManager, on_deny: Any, strict: bool
    ) -> None:
        self.fn = fn
        self.tool = tool
        self.manager = manager
        self.on_deny = on_deny
        self.strict = strict
        self.sig: inspect.Signature | None = None
        self.binder: Binder | None = None

    def signature(self) -> inspect.Signature:
        if self.sig is None:
            import inspect

            self.sig = inspect.signature(self.fn)
        return self.sig

    def verify(self, policy: CompiledPolicy) -> list[str]:
        """List input conditions of ``policy`` that name parameters this function does not have."""
        import inspect

        sig = self.signature()
        params = sig.parameters
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
            return []
        problems: list[str] = []
        for grants in policy.grants.get(self.tool, {}).values():
            for grant in grants:
                if grant.input is None:
                    continue
                for name in sorted(grant.input.params - params.keys()):
                    problems.append(
                        f"{grant.input.location}: input condition names parameter '{name}', but "
                        f"{self.fn.__qualname__}{sig} (tool '{self.tool}') has no such parameter"
                    )
        return problems

    def bind(self, args: tuple[Any, ...], kwargs: dict[str, Any], state: RequestState) -> Mapping[str, Any]:
        """Map the call's arguments to parameter names, defaults applied (``**kwargs`` entries by name).

        The bound arguments also carry ``kwargs`` (the wrapper's own dict; Python makes a fresh one per
        call) under :data:`CALL`: when an input condition checks a snapshot instead of an argument, it
        leaves the bound arguments there, and the wrapper calls the tool with what was checked.
        """
        binder = self.binder
        if binder is None:
            from d2._runtime.binding import compile_binder

            binder = self.binder = compile_binder(self.signature())
        try:
            bound = binder(args, kwargs)
            bound[CALL] = kwargs
            return bound
        except TypeError as exc:
            deny(
                Reason.INPUT_VALIDATION,
                self.tool,
                state,
                location=self.manager.policy.source if self.manager.policy else None,
                detail=f"arguments do not match the signature: {exc}",
            )

    def checked_call(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], bound: Mapping[str, Any]
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """Rebuild the call with the snapshots input conditions checked in place of the originals."""
        import inspect

        sig = self.signature()
        call = sig.bind(*args, **kwargs)
        call.apply_defaults()
        arguments = call.arguments
        for name, param in sig.parameters.items():
            if param.kind is inspect.Parameter.VAR_KEYWORD:
                extra = dict(arguments.get(name, {}))
                for key in extra:
                    if key in bound:
                        extra[key] = bound[key]
                arguments[name] = extra
            elif name in bound and name in arguments:
                arguments[name] = bound[name]
        return call.args, call.kwargs

    def precheck(self, policy: CompiledPolicy | None, state: RequestState | None) -> None:
        """Refuse when there is no policy, no user, or the policy has expired."""
        if policy is None:
            deny(
                Reason.NO_POLICY,
                self.tool,
                state,
                cls=MissingPolicyError,
                detail=(
                    "no valid policy bundle (revoked, expired, or not fetched yet)"
                    if self.manager.mode == "cloud"
                    else "no policy is loaded; call d2.configure_rbac_sync() (or _async) at start-up"
                ),
            )
        if state is None or not state.user.user_id:
            deny(
                Reason.NO_CONTEXT,
                self.tool,
                state,
                cls=D2NoContextError,
                detail=(
                    "no user context; call d2.set_user() or use d2.set_user_context()/the ASGI middleware"
                    if state is None
                    else "the user context has no user id; pass a non-empty user id to d2.set_user()"
                ),
            )
        expires = policy.expires_ts
        if expires is not None and time() >= expires:
            deny(
                Reason.POLICY_EXPIRED,
                self.tool,
                state,
                cls=BundleExpiredError,
                detail=f"the policy expired at {policy.expires}",
            )

    def refuse(self, exc: PermissionDeniedError) -> Any:
        if self.on_deny is RAISE:
            raise exc
        if callable(self.on_deny):
            return self.on_deny(exc)
        return self.on_deny

    def internal(self, exc: Exception) -> PermissionDeniedError:
        logger().exception("d2: internal error while guarding %r; the call is refused", self.tool)
        try:
            deny(
                Reason.INTERNAL_ERROR,
                self.tool,
                _STATE.get(),
                detail=f"{type(exc).__name__} inside the guard",
            )
        except PermissionDeniedError as err:
            err.__cause__ = exc
            return err
        raise AssertionError("unreachable")  # pragma: no cover

    def emit(
        self, started: float, exc: PermissionDeniedError, state: Any, policy: CompiledPolicy | None
    ) -> None:
        """Append a refusal to the event ring (no lock, no event object: the consumer builds it).

        ``state`` and ``policy`` may be unbound when the guard failed before reading them.
        """
        record(self.tool, state, False, str(exc.reason), exc.location, started, policy)

    def after(
        self, policy: CompiledPolicy, state: RequestState, grants: tuple[Grant, ...], result: Any
    ) -> Any:
        """Apply the output rules of ``grants`` and track where the result came from.

        Raises the refusal (an internal error becomes one) for the wrapper to hand to ``on_deny``.
        """
        tool = self.tool
        try:
            if grants:
                result = apply_output(grants, result, state, tool)
            if policy.flow is not None and tool in policy.flow.tracked:
                track_output(policy, state, tool, result)
        except PermissionDeniedError:
            raise
        except Exception as exc:
            raise self.internal(exc) from exc
        return result


def _sync_wrapper(g: _Guard) -> Callable[..., Any]:
    fn, tool, manager = g.fn, g.tool, g.manager

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = perf_counter() if SINKS else 0.0
        if g.strict and _in_running_loop():
            raise ConfigurationError(
                f"sync tool {tool!r} called inside a running event loop with strict sync mode on; "
                "make the tool async, or call it via asyncio.to_thread()"
            )
        try:
            policy = manager.policy
            state = _STATE.get()
            if (
                policy is None
                or state is None
                or not state.user.user_id
                or (policy.expires_ts is not None and time() >= policy.expires_ts)
            ):
                g.precheck(policy, state)
            access = policy._cache.get((tool, state.user.roles))  # type: ignore[union-attr]
            if access is not None and access.open and allow_plain(policy, state, tool, access):  # type: ignore[arg-type]
                grants = None  # nothing depends on the arguments or the result
            else:
                grants = authorize_general(policy, state, tool, partial(g.bind, args, kwargs, state), access)  # type: ignore[arg-type]
                if kwargs and CHECKED in kwargs:  # an input condition checked snapshots: call with those
                    args, kwargs = g.checked_call(args, kwargs, kwargs.pop(CHECKED))
        except PermissionDeniedError as exc:
            if started:
                g.emit(started, exc, state, policy)
            if g.on_deny is RAISE:
                raise
            return g.refuse(exc)
        except ConfigurationError:
            raise
        except Exception as exc:
            return g.refuse(g.internal(exc))
        if started:
            record(tool, state, True, None, None, started, policy)
        if grants is None:  # no output rules, no provenance to record
            return fn(*args, **kwargs)
        result = fn(*args, **kwargs)
        try:
            return g.after(policy, state, grants, result)  # type: ignore[arg-type]
        except PermissionDeniedError as exc:
            if started:  # the result is withheld: a refusal of its own after the allow
                g.emit(started, exc, state, policy)
            return g.refuse(exc)

    return wrapper


def _async_wrapper(g: _Guard) -> Callable[..., Any]:
    fn, tool, manager = g.fn, g.tool, g.manager

    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = perf_counter() if SINKS else 0.0
        try:
            policy = manager.policy
            state = _STATE.get()
            if (
                policy is None
                or state is None
                or not state.user.user_id
                or (policy.expires_ts is not None and time() >= policy.expires_ts)
            ):
                g.precheck(policy, state)
            access = policy._cache.get((tool, state.user.roles))  # type: ignore[union-attr]
            if access is not None and access.open and allow_plain(policy, state, tool, access):  # type: ignore[arg-type]
                grants = None  # nothing depends on the arguments or the result
            else:
                grants = authorize_general(policy, state, tool, partial(g.bind, args, kwargs, state), access)  # type: ignore[arg-type]
                if kwargs and CHECKED in kwargs:  # an input condition checked snapshots: call with those
                    args, kwargs = g.checked_call(args, kwargs, kwargs.pop(CHECKED))
        except PermissionDeniedError as exc:
            if started:
                g.emit(started, exc, state, policy)
            if g.on_deny is RAISE:
                raise
            return await _maybe_await(g.refuse(exc))
        except ConfigurationError:
            raise
        except Exception as exc:
            return await _maybe_await(g.refuse(g.internal(exc)))
        if started:
            record(tool, state, True, None, None, started, policy)
        if grants is None:  # no output rules, no provenance to record
            return await fn(*args, **kwargs)
        result = await fn(*args, **kwargs)
        try:
            return g.after(policy, state, grants, result)  # type: ignore[arg-type]
        except PermissionDeniedError as exc:
            if started:  # the result is withheld: a refusal of its own after the allow
                g.emit(started, exc, state, policy)
            return await _maybe_await(g.refuse(exc))

    return wrapper


def _in_running_loop() -> bool:
    """True inside a running event loop; without asyncio imported there cannot be one."""
    aio = sys.modules.get("asyncio")
    return aio is not None and aio._get_running_loop() is not None


async def _maybe_await(value: Any) -> Any:
    if hasattr(value, "__await__"):
        return await value
    return value


@overload
def d2_guard(tool_id: F) -> F: ...


@overload
def d2_guard(
    tool_id: str | None = None,
    *,
    on_deny: Any = ...,
    strict: bool | None = None,
    instance_name: str = "default",
) -> Callable[[F], F]: ...


def d2_guard(
    tool_id: Any = None,
    *,
    on_deny: Any = RAISE,
    strict: bool | None = None,
    instance_name: str = "default",
) -> Any:
    """Guard a function with the policy: ``@d2_guard("tool.id")``, ``@d2_guard()`` or bare ``@d2_guard``.

    Without an id the tool id is ``module.qualname``. ``on_deny``: absent raises the refusal; a value
    is returned instead; a callable is called with the error (awaited when it returns an awaitable in
    an async tool). ``strict`` (default ``D2_STRICT_SYNC``) makes calling a sync tool inside a running
    event loop an error.
    """
    if callable(tool_id):
        return _decorate(tool_id, None, on_deny, strict, instance_name)
    if tool_id is not None and (not isinstance(tool_id, str) or not tool_id):
        raise TypeError(f"d2_guard() takes a non-empty tool id string, got {tool_id!r}")

    def decorator(fn: F) -> F:
        wrapped: F = _decorate(fn, tool_id, on_deny, strict, instance_name)
        return wrapped

    return decorator


def _decorate(fn: Any, tool_id: str | None, on_deny: Any, strict: bool | None, instance_name: str) -> Any:
    if isinstance(fn, (staticmethod, classmethod)):
        raise TypeError("put @d2_guard below @staticmethod/@classmethod, directly on the function")
    if not callable(fn) or isinstance(fn, type):
        raise TypeError(_not_a_function(fn))
    import inspect

    tool = tool_id or f"{fn.__module__}.{fn.__qualname__}"
    manager = get_policy_manager(instance_name)
    g = _Guard(fn, tool, manager, on_deny, _env_strict() if strict is None else strict)
    wrapper = _async_wrapper(g) if inspect.iscoroutinefunction(fn) else _sync_wrapper(g)
    wrapper.__d2_tool_id__ = tool  # type: ignore[attr-defined]
    _hide_original(wrapper, g)
    manager.register_guard(g)
    return wrapper


def _not_a_function(obj: Any) -> str:
    """Say what to do when ``@d2_guard`` meets a framework's tool object instead of a function."""
    module = type(obj).__module__
    kind = f"{module}.{type(obj).__qualname__}"
    head = f"@d2_guard decorates a function, but got an instance of {kind}"
    if module.startswith("langchain"):
        return (
            f"{head}. Guard a LangChain tool object with d2tools.integrations.langchain.guard_tool(tool), "
            "so a refusal reaches the model as a ToolMessage (see docs/integrations.md)."
        )
    if module.startswith("agents"):
        return (
            f"{head}. Put @d2_guard below @function_tool(failure_error_function=tool_error), directly on "
            "the function, or guard the tool object with guard_function_tool(tool); both from "
            "d2tools.integrations.openai_agents (see docs/integrations.md)."
        )
    return (
        f"{head}. A framework's tool decorator returns a tool object: put @d2_guard below it, directly "
        "on the function, or guard the tool object with the adapter in d2tools.integrations (see "
        "docs/integrations.md)."
    )


def _hide_original(wrapper: Any, g: _Guard) -> None:
    """Keep the signature and annotations, but not ``__wrapped__``: ``inspect.unwrap`` must not reach
    the unguarded function (an agent framework that unwraps to read a schema may also call it)."""
    import inspect

    del wrapper.__wrapped__
    try:
        sig = g.signature()
    except (TypeError, ValueError):  # a callable inspect cannot read: nothing more to keep
        return
    try:  # evaluated annotations, since the wrapper's globals are d2's, not the tool's module
        sig = inspect.signature(g.fn, eval_str=True)
        wrapper.__annotations__ = inspect.get_annotations(g.fn, eval_str=True)
    except Exception:
        pass
    wrapper.__signature__ = sig
