"""Input conditions see the arguments the upstream will use: declared defaults, and nothing unseen.

A decorated function's conditions check its defaults too, and a condition naming a parameter it does
not have is refused. Through the proxy the tool's ``inputSchema`` is the signature: a conditioned
argument left out takes its declared default (checked, and sent upstream), or, with no default, is a
value the guard cannot see, so a condition on it refuses; a condition naming an argument the tool
does not declare refuses the tool's calls and says so.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.server.lowlevel.server import Server
from mcp_types import (
    CallToolResult,
    GetPromptResult,
    ListPromptsResult,
    ListToolsResult,
    Prompt,
    PromptArgument,
    PromptMessage,
    TextContent,
    Tool,
)

import d2
from d2tools.mcp import IdentitySpec, Proxy, ProxyConfig, UpstreamSpec, build_server

from .conftest import refusal, text

POLICY = """
policies:
  - role: analyst
    permissions:
      - tool: up.rows
        conditions:
          input:
            limit: {max: 100}
      - tool: up.rows_declared
        conditions:
          input:
            limit: {max: 100}
      - tool: up.typo
        conditions:
          input:
            lmit: {max: 100}
      - tool: up.open
        conditions:
          input:
            limit: {max: 100}
      - up.unconditioned
      - up.slow
      - tool: up.prompts.brief
        conditions:
          input:
            tone: {in: [plain]}
  - role: admin
    permissions: ["*"]
"""
LIMIT = {"type": "integer"}


def upstream() -> tuple[Server[Any], list[dict[str, Any]]]:
    """A server whose tools report the arguments they received (the server's own default: 500)."""
    seen: list[dict[str, Any]] = []
    tools = [
        Tool(name="rows", input_schema={"type": "object", "properties": {"limit": LIMIT}}),
        Tool(
            name="rows_declared",
            input_schema={"type": "object", "properties": {"limit": {**LIMIT, "default": 50}}},
        ),
        Tool(name="typo", input_schema={"type": "object", "properties": {"limit": LIMIT}}),
        Tool(name="open", input_schema={"type": "object"}),
        Tool(name="unconditioned", input_schema={"type": "object", "properties": {"limit": LIMIT}}),
        Tool(name="slow", input_schema={"type": "object"}),
    ]

    async def list_tools(ctx: Any, params: Any) -> ListToolsResult:
        return ListToolsResult(tools=tools)

    async def call_tool(ctx: Any, params: Any) -> CallToolResult:
        arguments = dict(params.arguments or {})
        seen.append(arguments)
        if params.name == "slow":
            await anyio.sleep(5)
        limit = arguments.get("limit", 500)
        return CallToolResult(content=[TextContent(type="text", text=json.dumps({"rows": limit}))])

    async def list_prompts(ctx: Any, params: Any) -> ListPromptsResult:
        return ListPromptsResult(prompts=[Prompt(name="brief", arguments=[PromptArgument(name="tone")])])

    async def get_prompt(ctx: Any, params: Any) -> GetPromptResult:
        seen.append(dict(params.arguments or {}))
        tone = (params.arguments or {}).get("tone", "sarcastic")
        message = PromptMessage(role="user", content=TextContent(type="text", text=f"Write it {tone}."))
        return GetPromptResult(messages=[message])

    server = Server(
        "up",
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_list_prompts=list_prompts,
        on_get_prompt=get_prompt,
    )
    return server, seen


@asynccontextmanager
async def proxied(
    write_policy: Any, role: str = "analyst", timeout: float = 30.0
) -> AsyncIterator[tuple[Client, list[dict[str, Any]]]]:
    d2.configure_rbac_sync(write_policy(POLICY))
    server, seen = upstream()
    spec = UpstreamSpec("up", server=server, timeout=timeout)
    config = ProxyConfig(policy=None, upstreams=(spec,), identity=IdentitySpec("u1", (role,)))
    async with Client(build_server(Proxy(config)), cache=None) as client:
        yield client, seen


async def test_a_left_out_argument_with_no_declared_default_is_refused(write_policy: Any) -> None:
    """The attack: leave ``limit`` out, and the server's own default (500) passes a ``max: 100``."""
    async with proxied(write_policy) as (client, seen):
        result = await client.call_tool("up.rows", {})
        assert refusal(result)["reason"] == "input_validation"
        assert seen == []  # the server never ran
        allowed = await client.call_tool("up.rows", {"limit": 20})
    assert json.loads(text(allowed)) == {"rows": 20}


async def test_a_left_out_argument_takes_its_declared_default_checked_and_sent(write_policy: Any) -> None:
    async with proxied(write_policy) as (client, seen):
        result = await client.call_tool("up.rows_declared", {})
    assert json.loads(text(result)) == {"rows": 50}
    assert seen == [{"limit": 50}]  # the value checked is the value the server used


async def test_a_schema_that_takes_anything_still_refuses_what_it_cannot_see(write_policy: Any) -> None:
    async with proxied(write_policy) as (client, seen):
        assert refusal(await client.call_tool("up.open", {}))["reason"] == "input_validation"
        assert refusal(await client.call_tool("up.open", {"limit": 101}))["reason"] == "input_validation"
        assert not (await client.call_tool("up.open", {"limit": 7})).is_error
    assert seen == [{"limit": 7}]


async def test_a_grant_without_a_condition_on_it_sends_nothing_for_it(write_policy: Any) -> None:
    async with proxied(write_policy, role="admin") as (client, seen):
        result = await client.call_tool("up.rows", {})  # admin's "*" has no condition on limit
    assert json.loads(text(result)) == {"rows": 500}
    assert seen == [{}]  # no placeholder reached the server


async def test_a_condition_on_an_undeclared_argument_refuses_the_tool(
    write_policy: Any, caplog: pytest.LogCaptureFixture
) -> None:
    events: list[d2.DecisionEvent] = []
    remove = d2.add_decision_sink(events.append)
    try:
        with caplog.at_level(logging.ERROR, logger="d2.mcp"):
            async with proxied(write_policy) as (client, seen):
                for arguments in ({"limit": 5}, {"lmit": 5}, {}):
                    result = await client.call_tool("up.typo", arguments)
                    assert refusal(result)["reason"] == "internal_error"
        assert d2.flush_events()
    finally:
        remove()
    assert seen == []
    assert [(e.allowed, e.reason) for e in events if e.tool_id == "up.typo"] == [
        (False, "internal_error")
    ] * 3
    logged = [r.getMessage() for r in caplog.records if "lmit" in r.getMessage()]
    assert len(logged) == 1  # once per policy version, not per call
    assert "declares no such argument" in logged[0] and "'limit'" in logged[0]


async def test_prompt_arguments_follow_the_same_rules(write_policy: Any) -> None:
    async with proxied(write_policy) as (client, seen):
        from mcp import MCPError

        with pytest.raises(MCPError) as info:
            await client.get_prompt("up.prompts.brief", {})  # the server would pick "sarcastic"
        assert "input_validation" in str(info.value.error.data)
        got = await client.get_prompt("up.prompts.brief", {"tone": "plain"})
    assert "plain" in got.messages[0].content.text  # type: ignore[union-attr]
    assert seen == [{"tone": "plain"}]


async def test_an_upstream_that_fails_after_the_allow_is_a_refusal_event(write_policy: Any) -> None:
    """The client sees a refusal (upstream_unavailable); the decision log must not show only the allow."""
    events: list[d2.DecisionEvent] = []
    remove = d2.add_decision_sink(events.append)
    try:
        async with proxied(write_policy, timeout=0.2) as (client, _):
            result = await client.call_tool("up.slow", {})
        assert d2.flush_events()
    finally:
        remove()
    assert refusal(result)["reason"] == "upstream_unavailable"
    mine = [(e.allowed, e.reason) for e in events if e.tool_id == "up.slow"]
    assert mine == [(True, None), (False, "upstream_unavailable")]


async def test_a_conditioned_argument_of_another_type_than_declared_is_refused(write_policy: Any) -> None:
    """``limit`` is declared an integer: a string or a list is no value ``max: 100`` was written for."""
    async with proxied(write_policy) as (client, seen):
        for sent in ("20", [20], {"n": 20}, True):
            result = await client.call_tool("up.rows", {"limit": sent})
            assert refusal(result)["reason"] == "input_validation", sent
        assert not (await client.call_tool("up.rows", {"limit": 20.0})).is_error  # JSON: 20.0 is 20
    assert seen == [{"limit": 20.0}]


async def test_without_a_condition_an_argument_goes_upstream_as_sent(write_policy: Any) -> None:
    async with proxied(write_policy, role="admin") as (client, seen):
        await client.call_tool("up.rows", {"limit": "lots"})
    assert seen == [{"limit": "lots"}]
