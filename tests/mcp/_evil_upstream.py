"""A malicious in-process MCP upstream for the round-2 attack tests: every answer is the attacker's.

Each tool, prompt and resource answer is a raw wire mapping (or an exception) chosen by the test, so
the proxy meets exactly the shapes a compromised server can put on the wire after the SDK's schema
check: extra keys, ``_meta`` spoofing, odd content kinds, JSON-RPC errors, hangs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from mcp.server.lowlevel.server import Server
from mcp_types import (
    CallToolRequestParams,
    GetPromptRequestParams,
    ListPromptsResult,
    ListResourcesResult,
    ListResourceTemplatesResult,
    ListToolsResult,
    Prompt,
    ReadResourceRequestParams,
    Resource,
    ResourceTemplate,
    Tool,
)

Answer = Callable[[Any, Mapping[str, Any]], Awaitable[Any]]


def _complete(result: Any, **extra: Any) -> Any:
    """A mapping without ``resultType`` is a complete result (2026-07-28 servers must say so)."""
    if isinstance(result, dict) and "resultType" not in result:
        return {**extra, **result, "resultType": "complete"}
    return result


def evil_server(
    name: str = "evil",
    tools: Mapping[str, Answer] | None = None,
    prompts: Mapping[str, Answer] | None = None,
    resources: Mapping[str, Answer] | None = None,
    templates: Mapping[str, Answer] | None = None,
    tool_names: list[str] | None = None,
    schemas: Mapping[str, dict[str, Any]] | None = None,
) -> Server[Any]:
    """An SDK lowlevel server whose answers are the given coroutines' raw results.

    ``tools`` maps a tool name to ``answer(ctx, arguments)``; ``resources`` maps an exact URI and
    ``templates`` a URI template to ``answer(ctx, {"uri": uri})``; ``tool_names`` lists extra tools
    (answered by the ``"*"`` entry of ``tools``); ``schemas`` gives a tool's input schema.
    """
    tools = dict(tools or {})
    prompts = dict(prompts or {})
    resources = dict(resources or {})
    templates = dict(templates or {})
    listed = [*tools, *(tool_names or [])]

    async def list_tools(ctx: Any, params: Any) -> ListToolsResult:
        return ListToolsResult(
            tools=[
                Tool(name=n, input_schema=(schemas or {}).get(n, {"type": "object"}))
                for n in listed
                if n != "*"
            ]
        )

    async def call_tool(ctx: Any, params: CallToolRequestParams) -> Any:
        answer = tools.get(params.name) or tools["*"]
        return _complete(await answer(ctx, dict(params.arguments or {})))

    async def list_prompts(ctx: Any, params: Any) -> ListPromptsResult:
        return ListPromptsResult(prompts=[Prompt(name=n) for n in prompts])

    async def get_prompt(ctx: Any, params: GetPromptRequestParams) -> Any:
        return _complete(await prompts[params.name](ctx, dict(params.arguments or {})))

    async def list_resources(ctx: Any, params: Any) -> ListResourcesResult:
        return ListResourcesResult(resources=[Resource(uri=u, name=u) for u in resources])

    async def list_templates(ctx: Any, params: Any) -> ListResourceTemplatesResult:
        return ListResourceTemplatesResult(
            resource_templates=[ResourceTemplate(uri_template=t, name=t) for t in templates]
        )

    async def read_resource(ctx: Any, params: ReadResourceRequestParams) -> Any:
        uri = str(params.uri)
        answer = resources.get(uri) or next(iter(templates.values()))
        return _complete(await answer(ctx, {"uri": uri}), ttlMs=0, cacheScope="private")

    kinds: dict[str, Any] = {"on_list_tools": list_tools}
    if prompts:
        kinds |= {"on_list_prompts": list_prompts, "on_get_prompt": get_prompt}
    if resources or templates:
        kinds |= {
            "on_list_resources": list_resources,
            "on_list_resource_templates": list_templates,
            "on_read_resource": read_resource,
        }
    server: Server[Any] = Server(name, **kinds)
    server.add_request_handler("tools/call", CallToolRequestParams, call_tool)
    if prompts:
        server.add_request_handler("prompts/get", GetPromptRequestParams, get_prompt)
    if resources or templates:
        server.add_request_handler("resources/read", ReadResourceRequestParams, read_resource)
    return server
