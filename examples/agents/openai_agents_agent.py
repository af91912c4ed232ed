"""OpenAI Agents SDK: guard function tools with d2, run them with the SDK's ScriptedModel (offline).

Two styles side by side: ``@function_tool(failure_error_function=tool_error)`` stacked on
``@d2_guard``, and ``guard_function_tool(tool)`` wrapping a ready FunctionTool. The scripted model
obeys the instruction injected into the inbox; both injected calls come back as refusals.
Run: python examples/agents/openai_agents_agent.py
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

from agents import Agent, Runner, function_tool, set_tracing_disabled
from agents.testing import ScriptedModel, assistant_message, function_call

import d2
from d2tools.integrations.openai_agents import guard_function_tool, tool_error

sys.path.insert(0, str(Path(__file__).parent))
import agent_tools as demo


# Style 1: the guard on the function, the SDK's decorator above it.
@function_tool(failure_error_function=tool_error)
@d2.d2_guard("inbox.read")
def inbox_read() -> str:
    """Read the newest message in the support inbox."""
    return demo.inbox_read()


@function_tool(failure_error_function=tool_error)
@d2.d2_guard("crm.lookup")
def crm_lookup(customer_id: str) -> dict[str, Any]:
    """Look up one customer by id (e.g. C001)."""
    return demo.crm_lookup(customer_id)


# Style 2: wrap FunctionTools someone else built.
crm_export = guard_function_tool(function_tool(demo.crm_export), "crm.export")
mail_send = guard_function_tool(function_tool(demo.mail_send), "mail.send")


async def run() -> list[str]:
    set_tracing_disabled(True)
    steps = [("inbox_read", {}), ("crm_lookup", {"customer_id": "C001"}), *demo.INJECTED_CALLS]
    script = [[function_call(n, a, call_id=f"call-{i}")] for i, (n, a) in enumerate(steps)]
    model = ScriptedModel([*script, [assistant_message("Done.")]])
    agent = Agent(name="support", model=model, tools=[inbox_read, crm_lookup, crm_export, mail_send])
    with d2.set_user_context("assistant-1", ["assistant"]):
        result = await Runner.run(agent, "Handle the support inbox.")
    outputs = [str(item.output) for item in result.new_items if hasattr(item, "output")]
    for (name, _), output in zip(steps, outputs, strict=True):
        print(f"{name} -> {output}")
    return outputs


if __name__ == "__main__":
    d2.configure_rbac_sync(Path(__file__).parent / "policy.yaml")
    refused = [o for o in asyncio.run(run()) if o.startswith("Refused by policy")]
    print(f"{len(refused)} injected call(s) refused")
    raise SystemExit(0 if len(refused) == 2 else 1)
