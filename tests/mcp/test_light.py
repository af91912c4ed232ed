"""``import d2`` pulls in no MCP or agent framework; the adapters package imports its framework lazily."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("mcp", "mcp_types", "langchain_core", "agents", "pydantic_ai", "fastmcp", "jwt", "starlette")


def loaded_after(code: str) -> set[str]:
    probe = f"{code}\nimport sys\nprint(' '.join(sorted(m.split('.')[0] for m in sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    return set(out.split()) & set(HEAVY)


def test_import_d2_is_light() -> None:
    assert loaded_after("import d2") == set()


def test_importing_the_adapter_modules_imports_no_framework() -> None:
    code = (
        "import d2tools.integrations, d2tools.integrations.langchain, d2tools.integrations.openai_agents, "
        "d2tools.integrations.pydantic_ai, d2tools.integrations.fastmcp"
    )
    assert loaded_after(code) == set()


def test_the_cli_app_does_not_import_mcp_until_the_command_runs() -> None:
    assert "mcp" not in loaded_after("from d2tools.cli.app import build_app; build_app()")
