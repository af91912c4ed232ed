"""Pydantic AI: guard a toolset with d2, run it with Pydantic AI's FunctionModel (offline).

The model is offered only the tools the user may call; it reads the inbox and obeys the injected
instruction, and both injected calls fail with ToolFailed carrying the reason code.
Run: python examples/agents/pydantic_ai_agent.py
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

from pydantic_ai import Agent
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart, ToolReturnPart
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.toolsets import FunctionToolset

import d2
from d2tools.integrations.pydantic_ai import guard_toolset

sys.path.insert(0, str(Path(__file__).parent))
import agent_tools as demo

STEPS = [("inbox_read", {}), ("crm_lookup", {"customer_id": "C001"}), *demo.INJECTED_CALLS]


def scripted(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    done = sum(isinstance(p, ToolReturnPart) for m in messages for p in m.parts)
    if done < len(STEPS):
        name, args = STEPS[done]
        return ModelResponse(parts=[ToolCallPart(name, args)])
    return ModelResponse(parts=[TextPart("Done.")])


toolset = guard_toolset(
    FunctionToolset([demo.inbox_read, demo.crm_lookup, demo.crm_export, demo.mail_send]),
    tool_id=demo.TOOL_IDS.__getitem__,
)
agent = Agent(FunctionModel(scripted), toolsets=[toolset])


async def run() -> list[Any]:
    with d2.set_user_context("assistant-1", ["assistant"]):
        result = await agent.run("Handle the support inbox.")
    returns = [p for m in result.all_messages() for p in m.parts if isinstance(p, ToolReturnPart)]
    for part in returns:
        print(f"{part.tool_name} -> [{part.outcome}] {part.content}")
    return returns


if __name__ == "__main__":
    d2.configure_rbac_sync(Path(__file__).parent / "policy.yaml")
    refused = [p for p in asyncio.run(run()) if p.outcome == "failed"]
    print(f"{len(refused)} injected call(s) refused")
    raise SystemExit(0 if len(refused) == 2 else 1)
