"""Helpers for the fail-closed regression tests (issue 11): load a policy, call a guarded tool."""

from __future__ import annotations

import signal
import textwrap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

import d2


class Box:
    """A guarded tool per id that returns whatever the test stored in ``value``."""

    def __init__(self) -> None:
        self.value: Any = None
        self.seen: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
        self._tools: dict[str, Callable[..., Any]] = {}

    def tool(self, tool_id: str) -> Callable[..., Any]:
        fn = self._tools.get(tool_id)
        if fn is None:

            def body(*args: Any, **kwargs: Any) -> Any:
                self.seen.append((args, kwargs))
                return self.value

            fn = self._tools[tool_id] = d2.d2_guard(tool_id)(body)
        return fn

    def returns(self, tool_id: str, value: Any, role: str = "r") -> Any:
        """Call ``tool_id`` as a user with ``role``; the tool returns ``value``."""
        self.value = value
        with d2.set_user_context("u", [role]):
            return self.tool(tool_id)()

    def refused(self, tool_id: str, value: Any, role: str = "r") -> d2.PermissionDeniedError:
        """Assert the call (or its result) is refused; return the refusal."""
        with pytest.raises(d2.PermissionDeniedError) as info:
            self.returns(tool_id, value, role)
        return info.value


@pytest.fixture
def load(write_policy: Callable[..., Path]) -> Callable[[str], Path]:
    def do(text: str) -> Path:
        path = write_policy(textwrap.dedent(text))
        d2.configure_rbac_sync(path)
        return path

    return do


@pytest.fixture
def box() -> Box:
    return Box()


class Hang(BaseException):
    """A block overran its :func:`deadline`; not an Exception, so the guard cannot swallow it."""


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Fail a block that runs longer than ``seconds`` (SIGALRM interrupts a pure-Python loop)."""

    def expire(signum: int, frame: Any) -> None:
        raise Hang(f"still running after {seconds} s: the guard hangs")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
