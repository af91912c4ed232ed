"""Guard the tools of a FastMCP server you own: ``FastMCP(..., middleware=[D2Middleware(user=...)])``.

The middleware does inside your server what ``d2 mcp-proxy`` does in front of one: ``tools/list``
shows only what the caller may call, and every ``tools/call`` runs the d2 pipeline (the call's
arguments, the session's history for sequence and data-flow rules, output rules on the result). A
refusal is a tool error result with the same shape as the proxy's: the reason code and rule in text
and in ``_meta["io.d2/refusal"]``, with a fixed sentence. FastMCP is imported only when the
middleware is created (the ``fastmcp`` extra).

What one request is follows the proxy (docs/mcp.md): the MCP session on handshake-era connections;
on 2026-07-28 connections the authenticated principal over HTTP (refused when there is none) and the
process on stdio.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from contextvars import ContextVar
from functools import cache
from typing import Any, NoReturn

from d2 import PermissionDeniedError, UserContext, d2_guard, get_policy_manager

from ._refusal import Refusal, refusal_for

__all__ = ["D2Middleware", "refuse"]

_CALL: ContextVar[tuple[Any, Any] | None] = ContextVar("d2_fastmcp_call", default=None)
UserSource = UserContext | Callable[[Any], UserContext | None]


def refuse(exc: PermissionDeniedError) -> NoReturn:
    """An ``on_deny`` for ``@d2_guard`` below ``@server.tool``: the reason code and a fixed sentence.

    FastMCP hands a tool's exception text to the client as the tool error; a ``PermissionDeniedError``
    says who called, with which roles and which condition failed. ``ToolError`` carries only the
    refusal text a model may see. The middleware (:func:`D2Middleware`) needs no such handler.
    """
    from fastmcp.exceptions import ToolError

    raise ToolError(refusal_for(exc).text)


def _request_key(ctx: Any, user: UserContext) -> str | None:
    """The request-state key of this call (None: nothing identifies the client across requests)."""
    from mcp_types.version import MODERN_PROTOCOL_VERSIONS

    request = ctx.request_context if ctx is not None else None
    modern = request is not None and request.protocol_version in MODERN_PROTOCOL_VERSIONS
    who = f"{user.user_id}|{','.join(sorted(user.roles))}"
    if not modern:
        return f"session:{ctx.session_id}|{who}" if ctx is not None else None
    from fastmcp.server.dependencies import get_access_token

    token = get_access_token()
    if token is not None:
        return "token:" + hashlib.sha256(token.token.encode()).hexdigest()
    if ctx.transport in ("sse", "streamable-http"):
        return None
    return f"process|{who}"


def _refusal_result(refusal: Refusal) -> Any:
    from fastmcp.tools import ToolResult
    from mcp_types import TextContent

    return ToolResult(
        content=[TextContent(type="text", text=refusal.text)],
        meta={"io.d2/refusal": {"reason": refusal.reason, "rule": refusal.rule}},
        is_error=True,
    )


@cache
def _middleware_class() -> type[Any]:
    from fastmcp.server.middleware import Middleware
    from fastmcp.tools import ToolResult
    from mcp_types import CallToolResult

    from d2tools.mcp._content import from_value, to_value
    from d2tools.mcp._session import request_state, use_state

    class D2Middleware(Middleware):
        """Filter ``tools/list`` and decide every ``tools/call`` with the d2 policy."""

        def __init__(
            self, *, user: UserSource, tool_id: str = "{tool}", instance_name: str = "default"
        ) -> None:
            self.user = user
            self.tool_id = tool_id
            self.instance_name = instance_name
            self._guarded: dict[str, Callable[..., Any]] = {}

        def _user(self, ctx: Any) -> UserContext | None:
            return self.user if isinstance(self.user, UserContext) else self.user(ctx)

        def _visible(self, name: str, user: UserContext) -> bool:
            policy = get_policy_manager(self.instance_name).policy
            if policy is None:
                return False
            access = policy.access(self.tool_id.format(tool=name), user.roles)
            return access.deny is None and bool(access.grants)

        async def on_list_tools(self, context: Any, call_next: Any) -> Any:
            tools = await call_next(context)
            user = self._user(context.fastmcp_context)
            return [t for t in tools if user is not None and self._visible(t.name, user)]

        def _guard_for(self, name: str) -> Callable[..., Any]:
            guarded = self._guarded.get(name)
            if guarded is None:

                async def call(**arguments: Any) -> Any:
                    current = _CALL.get()
                    assert current is not None
                    context, call_next = current
                    result: ToolResult = await call_next(context)
                    return to_value(_as_mcp(result))

                call.__name__ = name
                guarded = d2_guard(self.tool_id.format(tool=name), instance_name=self.instance_name)(call)
                self._guarded[name] = guarded
            return guarded

        async def on_call_tool(self, context: Any, call_next: Any) -> Any:
            ctx = context.fastmcp_context
            user = self._user(ctx)
            key = _request_key(ctx, user) if user is not None else None
            if user is None or key is None:
                return _refusal_result(refusal_for(reason="no_context"))
            name = context.message.name
            box: list[ToolResult] = []
            token = _CALL.set((context, _recording(call_next, box)))
            try:
                with use_state(request_state(f"fastmcp|{id(self):x}|{key}", user)):
                    value = await self._guard_for(name)(**(context.message.arguments or {}))
            except PermissionDeniedError as exc:
                return _refusal_result(refusal_for(exc))
            finally:
                _CALL.reset(token)
            raw = box[0]
            rebuilt = from_value(_as_mcp(raw), value)
            if rebuilt.content is raw.content and rebuilt.structured_content is raw.structured_content:
                return raw
            return ToolResult(
                content=rebuilt.content,
                structured_content=rebuilt.structured_content,
                meta=raw.meta,
                is_error=raw.is_error,
            )

    def _as_mcp(result: ToolResult) -> CallToolResult:
        return CallToolResult(
            content=result.content, structured_content=result.structured_content, is_error=result.is_error
        )

    def _recording(call_next: Any, box: list[ToolResult]) -> Any:
        async def record(context: Any) -> ToolResult:
            result: ToolResult = await call_next(context)
            box.append(result)
            return result

        return record

    return D2Middleware


def D2Middleware(*, user: UserSource, tool_id: str = "{tool}", instance_name: str = "default") -> Any:
    """Create the middleware; ``user`` is the caller (a ``UserContext``, or a function of the context)."""
    cls = _middleware_class()
    return cls(user=user, tool_id=tool_id, instance_name=instance_name)
