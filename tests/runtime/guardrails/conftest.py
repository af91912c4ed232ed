"""Helpers for guardrail tests: compile policy text, and build one grant's input or output rules."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from d2._core.model import CompiledPolicy
from d2._core.state import RequestLog, RequestState, UserContext
from d2._lang.compiler import CompileResult, compile_policy
from d2._lang.source import parse_policy_text

FIXTURES = Path(__file__).parents[2] / "fixtures" / "policies" / "guardrails"


class Kit:
    """Compile policy snippets the way the loader does (schema, then compilers)."""

    fixtures = FIXTURES
    state = RequestState(UserContext("tester", frozenset({"r"})), RequestLog())

    @staticmethod
    def compile_text(text: str, file: str = "policy.yaml") -> CompileResult:
        return compile_policy(parse_policy_text(textwrap.dedent(text), file))

    def policy_from(self, text: str) -> CompiledPolicy:
        result = self.compile_text(text)
        assert result.policy is not None, "\n".join(d.render() for d in result.errors)
        return result.policy

    @staticmethod
    def grant_policy(section: str, body: str) -> str:
        """A one-role, one-tool ('t') policy whose grant has ``section`` (input/output) = ``body``."""
        indented = textwrap.indent(textwrap.dedent(body).strip("\n"), " " * 12)
        return (
            "policies:\n  - role: r\n    permissions:\n      - tool: t\n        conditions:\n"
            f"          {section}:\n{indented}\n"
        )

    def output_rules(self, body: str) -> Any:
        grant = self.policy_from(self.grant_policy("output", body)).grants["t"]["r"][0]
        assert grant.output is not None
        return grant.output

    def input_rules(self, body: str) -> Any:
        grant = self.policy_from(self.grant_policy("input", body)).grants["t"]["r"][0]
        assert grant.input is not None
        return grant.input

    def sanitize(self, body: str, value: Any) -> Any:
        """Apply output rules and return the value; fail the test on a violation."""
        out, violation = self.output_rules(body).apply(value, self.state)
        assert violation is None, violation
        return out

    def violation(self, body: str, value: Any) -> Any:
        """Apply output rules and return the violation; fail the test if there is none."""
        _out, violation = self.output_rules(body).apply(value, self.state)
        assert violation is not None
        return violation

    def errors_of(self, section: str, body: str) -> list[str]:
        return [d.render() for d in self.compile_text(self.grant_policy(section, body)).errors]


@pytest.fixture
def kit() -> Kit:
    return Kit()
