"""docs/guardrails.md and examples/guardrails stay true: every snippet compiles, every script runs."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).parents[3]
DOC = ROOT / "docs" / "guardrails.md"
EXAMPLE = ROOT / "examples" / "guardrails"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(), flags=re.S)


@pytest.mark.parametrize("index", range(len(_blocks("yaml"))))
def test_every_yaml_snippet_of_the_doc_loads_clean(kit: Any, index: int) -> None:
    result = kit.compile_text(_blocks("yaml")[index], "docs/guardrails.md")
    assert result.policy is not None, [d.render() for d in result.errors]
    assert not result.warnings, [d.render() for d in result.warnings]


@pytest.mark.parametrize("index", range(len(_blocks("python"))))
def test_every_python_snippet_of_the_doc_runs(index: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    exec(compile(_blocks("python")[index], f"docs/guardrails.md[python {index}]", "exec"), {})


def test_the_example_prints_the_docs_tables() -> None:
    out = subprocess.run(
        [sys.executable, str(EXAMPLE / "app.py")], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout
    assert out == (EXAMPLE / "expected_output.txt").read_text()


def test_the_example_policy_loads_without_warnings(kit: Any) -> None:
    result = kit.compile_text((EXAMPLE / "policy.yaml").read_text(), "policy.yaml")
    assert result.policy is not None and not result.diagnostics
