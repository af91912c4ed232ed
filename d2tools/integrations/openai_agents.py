"""Guard OpenAI Agents SDK function tools (the ``openai-agents`` extra).

Two ways, same result:

- decorate the function: ``@function_tool(failure_error_function=tool_error)`` above ``@d2_guard(...)``;
  the SDK turns the refusal into the tool's output through ``tool_error`` (its own error path);
- wrap a ready tool: ``guard_function_tool(tool, "crm.send_email")`` returns a ``FunctionTool`` that
  asks the policy first (for tools you did not write, e.g. from a library).

``@d2_guard`` *above* ``@function_tool`` gets a tool object, not a function, and says so in a
``TypeError`` pointing here. The model sees the reason code and a fixed sentence, never the detail.
The Agents SDK is imported only when a function here is called.
"""

from __future__ import annotations

import json
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from d2 import PermissionDeniedError, d2_guard

from ._refusal import refusal_for

if TYPE_CHECKING:
    from agents import FunctionTool, RunContextWrapper

__all__ = ["guard_function_tool", "tool_error"]

_CALL: ContextVar[tuple[Any, str] | None] = ContextVar("d2_agents_call", default=None)


def tool_error(ctx: RunContextWrapper[Any], error: Exception) -> str:
    """A ``failure_error_function``: a refusal as reason code + sentence; other errors as the SDK does."""
    if isinstance(error, PermissionDeniedError):
        return refusal_for(error).text
    from agents.tool import default_tool_error_function

    return default_tool_error_function(ctx, error)


def _text(exc: PermissionDeniedError) -> str:
    return refusal_for(exc).text


def guard_function_tool(
    tool: FunctionTool, tool_id: str | None = None, *, instance_name: str = "default"
) -> FunctionTool:
    """Return a copy of ``tool`` whose calls the policy decides under ``tool_id`` (default: its name)."""
    import dataclasses

    from agents import FunctionTool

    if not isinstance(tool, FunctionTool):
        raise TypeError(f"guard_function_tool() takes an agents.FunctionTool, got {type(tool).__name__}")
    original = tool.on_invoke_tool

    async def call(**arguments: Any) -> Any:
        current = _CALL.get()
        assert current is not None
        return await original(*current)

    call.__name__ = tool.name
    guarded = d2_guard(tool_id or tool.name, on_deny=_text, instance_name=instance_name)(call)

    async def on_invoke_tool(ctx: Any, raw_arguments: str) -> Any:
        try:
            arguments = json.loads(raw_arguments) if raw_arguments else {}
        except ValueError:
            arguments = None
        if not isinstance(arguments, dict):  # arguments the guard cannot read: refused, never run
            return refusal_for(reason="input_validation").text
        token = _CALL.set((ctx, raw_arguments))
        try:
            return await guarded(**arguments)
        finally:
            _CALL.reset(token)

    return dataclasses.replace(tool, on_invoke_tool=on_invoke_tool)
