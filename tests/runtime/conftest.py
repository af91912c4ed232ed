"""Runtime test helpers: load policy text, guard tools by name, replay call sequences as one request."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

import d2
from d2._lang.compiler import CompileResult, compile_policy
from d2._lang.source import parse_policy_text

FIXTURES = Path(__file__).parents[1] / "fixtures" / "policies"


class Seq:
    """Load a policy, make guarded tools on demand, and play call sequences as one request."""

    def __init__(self, write_policy: Callable[..., Path], fixtures: Path) -> None:
        self._write = write_policy
        self.fixtures = fixtures
        self._tools: dict[str, Callable[[], str]] = {}
        self.errors: list[d2.PermissionDeniedError] = []

    def load(self, text: str) -> Path:
        path = self._write(textwrap.dedent(text))
        d2.configure_rbac_sync(path)
        return path

    def load_fixture(self, name: str) -> Path:
        path = self.fixtures / name
        d2.configure_rbac_sync(path)
        return path

    def tool(self, name: str) -> Callable[[], str]:
        fn = self._tools.get(name)
        if fn is None:

            def body() -> str:
                return name

            fn = self._tools[name] = d2.d2_guard(name)(body)
        return fn

    def call(self, name: str) -> bool:
        """Call a tool in the current request; True when it ran, False when refused."""
        try:
            assert self.tool(name)() == name
        except d2.PermissionDeniedError as exc:
            exc.__traceback__ = None  # no frame cycle keeps this test's guards alive
            self.errors.append(exc)
            return False
        return True

    def play(self, names: Iterable[str], roles: Iterable[str], user: str = "u") -> list[bool]:
        """Play ``names`` in order as one new request of ``user``; report which calls ran."""
        with d2.set_user_context(user, list(roles)):
            return [self.call(n) for n in names]

    @property
    def last_error(self) -> d2.PermissionDeniedError:
        assert self.errors, "no call was refused"
        return self.errors[-1]

    @staticmethod
    def compile_text(text: str, file: str = "policy.yaml") -> CompileResult:
        return compile_policy(parse_policy_text(textwrap.dedent(text), file))

    @staticmethod
    def codes(result: CompileResult) -> list[str]:
        return [d.code for d in result.diagnostics]


@pytest.fixture
def seq(write_policy: Any) -> Seq:
    return Seq(write_policy, FIXTURES / "sequence")


@pytest.fixture
def flow(write_policy: Any) -> Seq:
    return Seq(write_policy, FIXTURES / "dataflow")
