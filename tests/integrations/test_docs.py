"""docs/integrations.md: the policy block loads and every Python example runs against it, offline."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import d2
from d2tools.integrations import refusal_for

DOC = Path(__file__).resolve().parents[2] / "docs" / "integrations.md"
TEXT = DOC.read_text(encoding="utf-8")
EXAMPLES = re.findall(r"## ([^\n]+)\n(?:(?!## ).)*?```python\n(.*?)```", TEXT, flags=re.S)
NEEDS = {"LangChain": "langchain_core", "OpenAI Agents SDK": "agents", "Pydantic AI": "pydantic_ai",
         "FastMCP": "fastmcp"}  # fmt: skip


def test_every_framework_has_an_example() -> None:
    assert [title for title, _ in EXAMPLES] == list(NEEDS)


@pytest.mark.parametrize(("title", "code"), EXAMPLES, ids=[t for t, _ in EXAMPLES])
def test_example_runs(title: str, code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip(NEEDS[title])
    (policy,) = re.findall(r"```yaml\n(.*?)```", TEXT, flags=re.S)
    (tmp_path / "policy.yaml").write_text(policy)
    monkeypatch.chdir(tmp_path)
    exec(compile(code, f"{DOC}:{title}", "exec"), {"__name__": "doc"})


def test_the_sample_refusal_is_what_the_adapters_send(tmp_path: Path) -> None:
    """The sample is the refusal of the page's own call under the page's own policy, rule line included."""
    (sample,) = re.findall(r"```text\n(.*?)\n```", TEXT, flags=re.S)
    (policy,) = re.findall(r"```yaml\n(.*?)```", TEXT, flags=re.S)
    (tmp_path / "policy.yaml").write_text(policy)
    d2.configure_rbac_sync(tmp_path / "policy.yaml")

    @d2.d2_guard("mail.send", on_deny=lambda exc: refusal_for(exc).text)
    def send(to: str, body: str) -> str:
        return f"sent to {to}"

    with d2.set_user_context("alice", ["assistant"]):
        assert send("x@evil.example", "hi") == sample
