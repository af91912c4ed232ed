"""The data of one request: who acts (:class:`UserContext`) and what the request did (:class:`RequestLog`).

Plain data shared by the language, the engine and the runtime. The runtime's context API
(``d2._runtime.context``) decides which :class:`RequestState` is current; nothing here holds globals.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

__all__ = ["HISTORY_LIMIT", "RequestLog", "RequestState", "UserContext"]

HISTORY_LIMIT = 10_000
_EMPTY: Mapping[str, Any] = MappingProxyType({})


def _freeze(value: Any) -> Any:
    """Deep-freeze attribute values so no code path can change them for the rest of the request."""
    if isinstance(value, Mapping):
        return MappingProxyType({str(k): _freeze(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, (set, frozenset)):
        return frozenset(_freeze(v) for v in value)
    return value


@dataclass(frozen=True, slots=True)
class UserContext:
    """Who is acting: a user id, their roles, and immutable attributes (tenant, payees, ...)."""

    user_id: str | None
    roles: frozenset[str] = frozenset()
    attributes: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    # Read-only snapshots of the request, filled in by ``get_user_context()`` (vendor SDK fields).
    # Nothing decides from them: enforcement reads the request's own log, so a caller-made
    # UserContext carrying a history or facts changes nothing. Not compared.
    request_id: str | None = field(default=None, compare=False)
    call_history: tuple[str, ...] = field(default=(), compare=False)
    facts: frozenset[str] = field(default=frozenset(), compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.roles, str):
            raise TypeError("roles must be a collection of role names, not a single string")
        object.__setattr__(self, "roles", frozenset(str(r) for r in self.roles))
        if self.attributes is not _EMPTY:
            object.__setattr__(
                self, "attributes", _freeze(self.attributes or {}) if self.attributes else _EMPTY
            )


class RequestLog:
    """Mutable state of one request, shared by all its tasks and threads (mutations under ``lock``)."""

    __slots__ = (
        "calls",
        "facts",
        "history",
        "last_tool",
        "lock",
        "origins",
        "progress",
        "request_id",
        "shared",
    )

    def __init__(self) -> None:
        self.request_id = os.urandom(12).hex()
        self.history: deque[str] = deque(maxlen=HISTORY_LIMIT)
        # Every call appended to ``history`` counts here too: it keeps counting once the history is
        # full, so sequence progress knows when a rebuild would read a truncated history.
        self.calls = 0
        self.facts: set[str] = set()
        self.progress: dict[int, int] = {}
        self.last_tool: str | None = None
        self.lock = threading.Lock()
        # Where values came from (d2._core.origins): request values and provenance, made on first use.
        self.origins: Any = None
        # A d2._core.session.SharedSession when this log mirrors a session other processes share.
        self.shared: Any = None


@dataclass(frozen=True, slots=True)
class RequestState:
    """The current actor plus the request's shared log and active restrictions."""

    user: UserContext
    log: RequestLog
    restrictions: tuple[Any, ...] = ()
