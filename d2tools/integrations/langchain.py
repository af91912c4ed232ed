"""Guard LangChain tools: ``guard_tool(tool)`` / ``guard_tools([...])`` (the ``langchain`` extra).

The guarded tool has the original's name, description and argument schema; each call runs the d2
pipeline under the tool id (the tool's name unless given), then invokes the original. A refusal is
raised as a ``ToolException``, LangChain's own tool-error path: the model receives a ``ToolMessage``
with ``status="error"`` carrying the reason code and a fixed sentence, never the exception's detail.
LangChain is imported only when a function here is called.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from d2 import PermissionDeniedError, d2_guard

from ._refusal import refusal_for

if TYPE_CHECKING:
    from langchain_core.tools import BaseTool

__all__ = ["guard_tool", "guard_tools", "refuse"]


def refuse(exc: PermissionDeniedError) -> Any:
    """An ``on_deny`` for ``@d2_guard`` on a function a LangChain tool wraps with ``handle_tool_error=True``.

    Raises a ``ToolException`` with the reason code and the fixed sentence, which LangChain hands the
    model as an error ``ToolMessage``: ``StructuredTool.from_function(d2_guard(id, on_deny=refuse)(fn),
    handle_tool_error=True)``. For tools :func:`guard_tool` cannot wrap (an ``InjectedToolCallId``
    argument), and for anyone who prefers to guard the function.
    """
    from langchain_core.tools import ToolException

    raise ToolException(refusal_for(exc).text)


def _refusal_exception() -> type[Exception]:
    from langchain_core.tools import ToolException

    class D2Refusal(ToolException):
        """A d2 refusal on its way to the model through LangChain's tool-error handling."""

    return D2Refusal


def _error_handler(original: Any, refusal: type[Exception]) -> Callable[[Exception], str]:
    """Show refusals to the model; treat the tool's own errors as the original tool was set up to."""

    def handle(error: Exception) -> str:
        if isinstance(error, refusal):
            return str(error)
        if original is True:
            return str(error.args[0]) if error.args else "Tool execution error"
        if isinstance(original, str):
            return original
        if callable(original):
            return str(original(error))
        raise error

    return handle


def guard_tool(tool: BaseTool, tool_id: str | None = None, *, instance_name: str = "default") -> BaseTool:
    """Return a copy of ``tool`` whose every call is decided by the policy under ``tool_id``."""
    from langchain_core.tools import BaseTool, StructuredTool

    if not isinstance(tool, BaseTool):
        raise TypeError(
            f"guard_tool() takes a LangChain BaseTool (e.g. from @tool), got {type(tool).__name__}; "
            "for a plain function make it a tool first: guard_tool(tool(fn))"
        )
    injected = _tool_call_id_arguments(tool)
    if injected:
        raise TypeError(
            f"guard_tool() cannot wrap tool {tool.name!r}: its argument {injected[0]!r} is an "
            "InjectedToolCallId, which LangChain fills only when the tool itself gets the model's tool "
            "call. Guard the function it wraps instead: StructuredTool.from_function(d2_guard('<tool id>', "
            "on_deny=refuse)(fn), handle_tool_error=True), with refuse from d2tools.integrations.langchain"
        )
    refusal = _refusal_exception()

    def on_deny(exc: PermissionDeniedError) -> Any:
        raise refusal(refusal_for(exc).text)

    name = tool_id or tool.name
    # The guarded copy validates the arguments and handles errors as the original was set up to; the
    # original then only runs: its errors reach that handling, and its raw output (a content and
    # artifact pair included) reaches the output rules and the guarded copy's formatting.
    inner = tool.model_copy(
        update={"handle_tool_error": False, "handle_validation_error": False, "response_format": "content"}
    )

    def run(**kwargs: Any) -> Any:
        return inner.invoke(kwargs)

    async def arun(**kwargs: Any) -> Any:
        return await inner.ainvoke(kwargs)

    run.__name__ = arun.__name__ = tool.name
    schema = tool.args_schema if tool.args_schema is not None else tool.get_input_schema()
    return StructuredTool.from_function(
        func=d2_guard(name, on_deny=on_deny, instance_name=instance_name)(run),
        coroutine=d2_guard(name, on_deny=on_deny, instance_name=instance_name)(arun),
        name=tool.name,
        description=tool.description,
        args_schema=schema,
        infer_schema=False,
        return_direct=tool.return_direct,
        response_format=tool.response_format,
        handle_tool_error=_error_handler(tool.handle_tool_error, refusal),
        handle_validation_error=tool.handle_validation_error,
    )


def _tool_call_id_arguments(tool: BaseTool) -> list[str]:
    """The arguments LangChain fills with the calling tool call's id (``InjectedToolCallId``)."""
    from langchain_core.tools import InjectedToolCallId

    fields = getattr(tool.args_schema, "model_fields", None)
    if not isinstance(fields, dict):
        return []
    return [
        name
        for name, field in fields.items()
        if any(
            m is InjectedToolCallId
            or isinstance(m, InjectedToolCallId)
            or (isinstance(m, type) and issubclass(m, InjectedToolCallId))
            for m in getattr(field, "metadata", ())
        )
    ]


def guard_tools(
    tools: Iterable[BaseTool], *, tool_id: Callable[[str], str] | None = None, instance_name: str = "default"
) -> list[BaseTool]:
    """Guard every tool of a list; ``tool_id`` maps a tool's name to its id (default: the name)."""
    return [guard_tool(t, tool_id(t.name) if tool_id else None, instance_name=instance_name) for t in tools]
