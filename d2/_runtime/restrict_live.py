"""Restrictions that follow the policy in force: ``@groups`` re-expanded after a reload mid-block."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from d2._base.diagnostics import Location
from d2._core.model import Violation
from d2._core.state import RequestLog, RequestState
from d2.exceptions import ConfigurationError, Reason

__all__ = ["NO_PROGRESS", "LiveRestriction", "progress_for"]

# The progress of a restriction without sequence rules: never read or written (check and record
# touch progress only under a sequence), so one shared log spares each block a fresh RequestLog.
NO_PROGRESS = RequestLog()


def progress_for(sequence: Any) -> RequestLog:
    """A fresh log for a restriction with sequence rules; the shared unused one otherwise."""
    return NO_PROGRESS if sequence is None else RequestLog()


# compile_restriction(fragment, policy, *, name) -> Restriction, passed in by d2._runtime.restrict
# (which imports this module), so the two never import each other.
Compile = Callable[..., Any]


class LiveRestriction:
    """A restriction that follows the policy in force: ``@groups`` are re-expanded after a reload.

    Compiled again (once per policy object) when the manager's policy changes; the restriction's own
    sequence progress carries over. If the fragment no longer compiles (a group it names is gone),
    every call is refused until the block ends: a restriction never silently stops narrowing.
    """

    __slots__ = ("_compile", "_current", "_error", "_fragment", "_lock", "_manager", "_policy", "name")

    def __init__(
        self, fragment: Mapping[str, Any], manager: Any, first: Any, compile_restriction: Compile
    ) -> None:
        self._compile = compile_restriction
        self.name = first.name
        self._fragment = fragment
        self._manager = manager
        self._policy = manager.policy
        self._current = first
        self._error: str | None = None
        self._lock = threading.Lock()

    def entered(self) -> LiveRestriction:
        """A copy with its own empty sequence progress, for one ``with`` block of one request.

        A restriction object may be entered by many requests (or twice in one); its sequence progress
        must never carry from one block to another.
        """
        current = self._current
        first = current if current.sequence is None else replace(current, progress=RequestLog())
        copy = LiveRestriction(self._fragment, self._manager, first, self._compile)
        copy._policy, copy._error = self._policy, self._error
        return copy

    def current(self) -> Any:
        """The restriction compiled against the policy in force (None if it no longer compiles)."""
        policy = self._manager.policy
        if policy is not self._policy:
            with self._lock:
                if policy is not self._policy:
                    try:
                        fresh = self._compile(self._fragment, policy, name=self.name)
                        progress = self._current.progress
                        if progress is NO_PROGRESS:
                            progress = progress_for(fresh.sequence)
                        self._current = replace(fresh, progress=progress)
                        self._error = None
                    except ConfigurationError as exc:
                        self._error = str(exc)
                    self._policy = policy
        return None if self._error is not None else self._current

    def check(self, tool: str, args: Mapping[str, Any], state: RequestState) -> Violation | None:
        current = self.current()
        if current is None:
            message = (
                f"restriction '{self.name}' no longer compiles against the policy in force, so every "
                f"call is refused until its block ends: {self._error}"
            )
            where = Location(f"<restriction {self.name}>", 1, 1)
            return Violation(Reason.RESTRICTION, tool, "reload", where, message)
        found: Violation | None = current.check(tool, args, state)
        return found

    def record(self, tool: str) -> None:
        current = self.current()
        if current is not None:
            current.record(tool)
