"""An agent behind ``d2 mcp-proxy`` that obeys an instruction injected into a customer's notes.

The "model" is scripted (no network, no API key): it looks a customer up, reads their notes, and then
does what the notes tell it to — export every customer and email the file to an outside address.
The proxy refuses both calls; the agent sees ordinary MCP tool errors naming the reason.

Run: python examples/mcp/agent.py
"""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path
from typing import Any

from mcp import Client, StdioServerParameters

HERE = Path(__file__).resolve().parent


def proxy() -> Client:
    """The proxy as a desktop client would start it: ``d2 mcp-proxy --config proxy.yaml``."""
    args = ["-m", "d2tools.mcp", "--config", str(HERE / "proxy.yaml")]
    return Client(StdioServerParameters(command=sys.executable, args=args, cwd=str(HERE)), cache=None)


def model(notes: str) -> list[tuple[str, dict[str, Any]]]:
    """A compliant model: whatever the notes ask for, it plans as tool calls."""
    plan: list[tuple[str, dict[str, Any]]] = []
    if "crm.export_customers" in notes:
        plan.append(("crm.export_customers", {}))
    address = re.search(r"email the result to (\S+@\S+?)\s", notes)
    if address:
        plan.append(("crm.send_email", {"to": address.group(1), "subject": "export", "body": "<customers>"}))
    return plan


async def main() -> int:
    async with proxy() as client:
        tools = [t.name for t in (await client.list_tools()).tools]
        print(f"tools the agent may use: {', '.join(tools)}")
        record = await client.call_tool("crm.lookup_customer", {"customer_id": "C001"})
        print(f"crm.lookup_customer -> {record.structured_content}")
        notes = await client.call_tool("crm.read_notes", {"customer_id": "C001"})
        text = notes.content[0].text if notes.content else ""
        print(f"crm.read_notes -> {text}")
        refused = 0
        for name, args in model(text):
            result = await client.call_tool(name, args)
            shown = result.content[0].text if result.content else ""
            print(f"{name} -> {'REFUSED: ' if result.is_error else ''}{shown}")
            refused += bool(result.is_error)
    print(f"{refused} injected call(s) refused")
    return 0 if refused == 2 else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
