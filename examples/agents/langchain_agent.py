"""LangChain: guard @tool tools with d2, run them with LangChain's own fake chat model (offline).

The scripted model reads the inbox, then obeys the instruction injected into it. d2 refuses both
injected calls; LangChain hands the model a ToolMessage with status "error" and the reason code.
Run: python examples/agents/langchain_agent.py
"""

from __future__ import annotations

import sys
from pathlib import Path

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, ToolMessage
from langchain_core.tools import tool

import d2
from d2tools.integrations.langchain import guard_tools

sys.path.insert(0, str(Path(__file__).parent))
import agent_tools as demo

lc_tools = [tool(demo.inbox_read), tool(demo.crm_lookup), tool(demo.crm_export), tool(demo.mail_send)]
guarded = {t.name: t for t in guard_tools(lc_tools, tool_id=demo.TOOL_IDS.__getitem__)}


def call(name: str, args: dict[str, object], n: int) -> dict[str, object]:
    return {"name": name, "args": args, "id": f"call-{n}", "type": "tool_call"}


def run() -> list[ToolMessage]:
    steps = [("inbox_read", {}), ("crm_lookup", {"customer_id": "C001"}), *demo.INJECTED_CALLS]
    model = GenericFakeChatModel(
        messages=iter([AIMessage(content="", tool_calls=[call(n, a, i)]) for i, (n, a) in enumerate(steps)])
    )
    replies = []
    with d2.set_user_context("assistant-1", ["assistant"]):
        for _ in steps:
            message = model.invoke("Handle the support inbox.")
            for tool_call in message.tool_calls:
                reply = guarded[tool_call["name"]].invoke(tool_call)
                print(f"{tool_call['name']} -> [{reply.status}] {reply.content}")
                replies.append(reply)
    return replies


if __name__ == "__main__":
    d2.configure_rbac_sync(Path(__file__).parent / "policy.yaml")
    refused = [r for r in run() if r.status == "error"]
    print(f"{len(refused)} injected call(s) refused")
    raise SystemExit(0 if len(refused) == 2 else 1)
