"""Guard Pydantic AI tools and toolsets (the ``pydantic-ai`` extra).

- A function tool: ``@agent.tool_plain`` above ``@d2_guard("id", on_deny=refuse)``, or
  ``Tool(guard(fn, "id"))``.
- A whole toolset (your functions, or an MCP server's tools): ``guard_toolset(toolset)``; the model
  is offered only the tools the current user may call, and every call runs the d2 pipeline.

A refusal is raised as ``ToolFailed``, Pydantic AI's path for a failed tool call the model should see
and not retry (it does not use up the tool's retry budget). Pydantic AI is imported only when a
function here is called. The acting user is the d2 request around ``agent.run(...)``.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from functools import cache
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from d2 import PermissionDeniedError, d2_guard, get_policy_manager, get_user_context

from ._refusal import refusal_for

if TYPE_CHECKING:
    from pydantic_ai.toolsets import AbstractToolset

__all__ = ["guard", "guard_toolset", "refuse"]

F = TypeVar("F", bound=Callable[..., Any])
_CALL: ContextVar[tuple[Any, Any] | None] = ContextVar("d2_pydantic_ai_call", default=None)


def refuse(exc: PermissionDeniedError) -> NoReturn:
    """An ``on_deny`` for ``@d2_guard``: hand the model the reason code and a fixed sentence."""
    from pydantic_ai.exceptions import ToolFailed

    raise ToolFailed(refusal_for(exc).text)


def guard(func: F, tool_id: str | None = None, *, instance_name: str = "default") -> F:
    """``@d2_guard`` with the Pydantic AI refusal path, for a function you register as a tool."""
    wrapped: F = d2_guard(tool_id, on_deny=refuse, instance_name=instance_name)(func)
    return wrapped


def _may_call(tool_id: str, instance_name: str) -> bool:
    user = get_user_context()
    policy = get_policy_manager(instance_name).policy
    if user is None or policy is None:
        return False
    access = policy.access(tool_id, user.roles)
    return access.deny is None and bool(access.grants)


@cache
def _toolset_class() -> type[Any]:
    from dataclasses import dataclass, field

    from pydantic_ai.toolsets import WrapperToolset

    @dataclass
    class D2Toolset(WrapperToolset[Any]):
        """Offer only the tools the user may call; decide every call with the policy."""

        tool_id: Callable[[str], str] = field(default=lambda name: name)
        instance_name: str = "default"
        _guarded: dict[str, Callable[..., Any]] = field(default_factory=dict, repr=False)

        async def get_tools(self, ctx: Any) -> dict[str, Any]:
            tools = await super().get_tools(ctx)
            return {n: t for n, t in tools.items() if _may_call(self.tool_id(n), self.instance_name)}

        def _guard_for(self, name: str) -> Callable[..., Any]:
            guarded = self._guarded.get(name)
            if guarded is None:
                wrapped = self.wrapped

                async def call(**arguments: Any) -> Any:
                    current = _CALL.get()
                    assert current is not None
                    ctx, tool = current
                    return await wrapped.call_tool(name, arguments, ctx, tool)

                call.__name__ = name
                guarded = d2_guard(self.tool_id(name), on_deny=refuse, instance_name=self.instance_name)(call)
                self._guarded[name] = guarded
            return guarded

        async def call_tool(self, name: str, tool_args: dict[str, Any], ctx: Any, tool: Any) -> Any:
            token = _CALL.set((ctx, tool))
            try:
                return await self._guard_for(name)(**tool_args)
            finally:
                _CALL.reset(token)

    return D2Toolset


def guard_toolset(
    toolset: AbstractToolset[Any],
    *,
    tool_id: Callable[[str], str] | None = None,
    instance_name: str = "default",
) -> AbstractToolset[Any]:
    """Wrap ``toolset``: ``tool_id`` maps a tool name to its policy id (default: the name itself)."""
    cls = _toolset_class()
    toolset_guarded: AbstractToolset[Any] = cls(
        wrapped=toolset, tool_id=tool_id or (lambda name: name), instance_name=instance_name
    )
    return toolset_guarded
