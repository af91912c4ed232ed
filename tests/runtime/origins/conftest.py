"""Helpers for list-argument, request-value and provenance tests: policy text in, guarded tools out."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import d2
from d2._toolkit import CompileResult, compile_policy, parse_policy_text


def grant(body: str, *, tool: str = "t", meta: str = "") -> str:
    """A one-role policy: role ``r`` may call ``tool`` when its input conditions ``body`` pass."""
    indented = textwrap.indent(textwrap.dedent(body).strip("\n"), " " * 12)
    head = textwrap.dedent(meta).strip("\n") + "\n" if meta else ""
    return (
        f"{head}policies:\n  - role: r\n    permissions:\n      - tool: {tool}\n        conditions:\n"
        f"          input:\n{indented}\n"
    )


class Agent:
    """Load a policy and call one guarded tool ``t(x=None)``; report refusals instead of raising."""

    def __init__(self, write_policy: Callable[..., Path]) -> None:
        self._write = write_policy

        @d2.d2_guard("t")
        def t(x: Any = None) -> str:
            return "ran"

        self.t = t

    def load(self, text: str) -> None:
        d2.configure_rbac_sync(self._write(textwrap.dedent(text)))

    def load_input(self, body: str, *, meta: str = "") -> None:
        self.load(grant(body, meta=meta))

    def verdict(self, *args: Any, **kwargs: Any) -> d2.PermissionDeniedError | None:
        """Call ``t`` in the current request: None when it ran, else the refusal."""
        try:
            assert self.t(*args, **kwargs) == "ran"
        except d2.PermissionDeniedError as exc:
            exc.__traceback__ = None
            return exc
        return None

    def passes(self, value: Any) -> bool:
        with d2.set_user_context("u", ["r"]):
            return self.verdict(value) is None


def compile_text(text: str) -> CompileResult:
    return compile_policy(parse_policy_text(textwrap.dedent(text), "policy.yaml"))


def errors(text: str) -> list[str]:
    return [d.render() for d in compile_text(text).errors]


@pytest.fixture
def agent(write_policy: Any) -> Agent:
    return Agent(write_policy)
