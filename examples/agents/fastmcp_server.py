"""FastMCP: a server you own, guarded inside by D2Middleware; driven by FastMCP's in-memory client.

The "agent" reads the inbox and obeys the injected instruction; both injected calls come back as
MCP tool errors with the reason code, exactly as ``d2 mcp-proxy`` would answer them.
Run: python examples/agents/fastmcp_server.py
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

from fastmcp import Client, FastMCP

import d2
from d2tools.integrations.fastmcp import D2Middleware

sys.path.insert(0, str(Path(__file__).parent))
import agent_tools as demo

ASSISTANT = d2.UserContext("assistant-1", frozenset({"assistant"}))
server = FastMCP("support", middleware=[D2Middleware(user=ASSISTANT, tool_id="{tool}")])
for fn in (demo.inbox_read, demo.crm_lookup, demo.crm_export, demo.mail_send):
    server.tool(fn, name=demo.TOOL_IDS[fn.__name__])


async def run() -> list[Any]:
    steps = [("inbox_read", {}), ("crm_lookup", {"customer_id": "C001"}), *demo.INJECTED_CALLS]
    results = []
    async with Client(server) as client:
        print("tools:", ", ".join(t.name for t in await client.list_tools()))
        for name, args in steps:
            result = await client.call_tool(demo.TOOL_IDS[name], args, raise_on_error=False)
            print(f"{name} -> {'[error] ' if result.is_error else ''}{result.content[0].text}")
            results.append(result)
    return results


if __name__ == "__main__":
    d2.configure_rbac_sync(Path(__file__).parent / "policy.yaml")
    refused = [r for r in asyncio.run(run()) if r.is_error]
    print(f"{len(refused)} injected call(s) refused")
    raise SystemExit(0 if len(refused) == 2 else 1)
