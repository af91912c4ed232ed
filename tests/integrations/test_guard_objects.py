"""``@d2_guard`` above a framework's tool decorator gets a tool object: a short error that says what to do."""

from __future__ import annotations

import pytest

import d2


def test_stacked_above_openai_function_tool_says_what_to_do() -> None:
    agents = pytest.importorskip("agents")

    def send(to: str) -> str:
        return to

    tool = agents.function_tool(send)
    with pytest.raises(TypeError) as info:
        d2.d2_guard("mail.send")(tool)
    message = str(info.value)
    assert "agents.tool.FunctionTool" in message
    assert "Put @d2_guard below @function_tool(failure_error_function=tool_error)" in message
    assert "guard_function_tool(tool)" in message and "d2tools.integrations.openai_agents" in message
    assert len(message) < 400


def test_stacked_above_langchain_tool_says_what_to_do() -> None:
    lc = pytest.importorskip("langchain_core.tools")

    def send(to: str) -> str:
        """Send."""
        return to

    with pytest.raises(TypeError) as info:
        d2.d2_guard("mail.send")(lc.tool(send))
    assert "d2tools.integrations.langchain.guard_tool(tool)" in str(info.value)
    assert len(str(info.value)) < 400


def test_a_class_is_not_a_function() -> None:
    with pytest.raises(TypeError, match="decorates a function"):
        d2.d2_guard("x")(int)
