"""The framework examples in examples/agents run offline and refuse the injected calls."""

from __future__ import annotations

import importlib.util
import inspect
import sys
from pathlib import Path
from types import ModuleType

import pytest

import d2

AGENTS = Path(__file__).resolve().parents[2] / "examples" / "agents"
EXAMPLES = {
    "langchain_agent": "langchain_core",
    "openai_agents_agent": "agents",
    "pydantic_ai_agent": "pydantic_ai",
    "fastmcp_server": "fastmcp",
}


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", AGENTS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", sorted(EXAMPLES))
async def test_example_refuses_both_injected_calls(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip(EXAMPLES[name])
    d2.configure_rbac_sync(AGENTS / "policy.yaml")
    module = load(name)
    try:
        outcome = module.run()
        if inspect.isawaitable(outcome):
            await outcome
    finally:
        sys.path.remove(str(AGENTS))
    out = capsys.readouterr().out
    assert "reason: sequence_violation" in out and "reason: input_validation" in out
    assert "123-45-6789" not in out  # the lookup's ssn was filtered on the way to the model
