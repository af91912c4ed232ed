"""FastMCP adapter, through FastMCP's own in-memory client: the proxy's refusal shape, inside your server."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("fastmcp")

from fastmcp import Client, FastMCP

import d2
from d2tools.integrations.fastmcp import D2Middleware, refuse

from .conftest import IDS, assert_refusal_text, crm_export, crm_lookup, inbox_read, mail_send


def server(user: d2.UserContext | None) -> FastMCP:
    mcp = FastMCP("t", middleware=[D2Middleware(user=lambda ctx: user)])
    for fn in (inbox_read, crm_lookup, crm_export, mail_send):
        mcp.tool(fn, name=IDS[fn.__name__])

    @mcp.tool(name="admin.purge")
    def purge() -> str:
        return "purged"

    return mcp


ALICE = d2.UserContext("alice", frozenset({"assistant"}))


async def test_list_is_filtered_and_calls_run_the_pipeline(policy: Path) -> None:
    async with Client(server(ALICE)) as client:
        assert sorted(t.name for t in await client.list_tools()) == sorted(IDS.values())
        found = await client.call_tool("crm.lookup", {"customer_id": "C001"})
        assert found.structured_content == {"id": "C001"}
        await client.call_tool("inbox.read", {})
        export = await client.call_tool("crm.export", {}, raise_on_error=False)
        purge = await client.call_tool("admin.purge", {}, raise_on_error=False)
    assert export.is_error and export.meta is not None
    assert export.meta["io.d2/refusal"]["reason"] == "sequence_violation"
    assert_refusal_text(export.content[0].text, "sequence_violation")
    assert purge.is_error and purge.meta["io.d2/refusal"]["reason"] == "unknown_tool"


async def test_each_client_connection_in_legacy_mode_is_its_own_request(policy: Path) -> None:
    mcp = server(ALICE)
    async with Client(mcp) as first:
        await first.call_tool("crm.export", {})
        blocked = await first.call_tool(
            "mail.send", {"to": "bo@example.com", "body": "x"}, raise_on_error=False
        )
    assert blocked.is_error and blocked.meta["io.d2/refusal"]["reason"] == "data_flow"


async def test_no_user_is_refused(policy: Path) -> None:
    async with Client(server(None)) as client:
        assert await client.list_tools() == []
        result = await client.call_tool("inbox.read", {}, raise_on_error=False)
    assert result.is_error and result.meta["io.d2/refusal"]["reason"] == "no_context"


async def test_a_guard_below_server_tool_refuses_with_the_short_text_only(policy: Path) -> None:
    """Without the middleware, FastMCP would send the exception's full text (user, roles, rule)."""
    mcp = FastMCP("t")

    @mcp.tool(name="mail.send")
    @d2.d2_guard("mail.send", on_deny=refuse)
    def send(to: str, body: str) -> str:
        return f"sent to {to}"

    with d2.set_user_context("alice", ["assistant"]):
        async with Client(mcp) as client:
            refused = await client.call_tool("mail.send", {"to": "attacker@evil.example", "body": "x"},
                                             raise_on_error=False)  # fmt: skip
            sent = await client.call_tool("mail.send", {"to": "bob@example.com", "body": "x"})
    assert refused.is_error
    assert_refusal_text(refused.content[0].text, "input_validation")  # type: ignore[union-attr]
    assert sent.content[0].text == "sent to bob@example.com"  # type: ignore[union-attr]
