"""The compiled policy: immutable lookup tables the engine decides from.

Everything that can be worked out before a call is worked out here, once: group expansion, role
merging, explicit denies, and (memoised per tool and role set) the grants a caller holds. A call
then costs a few dictionary lookups.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from d2._base.diagnostics import Location
from d2._core.verdict import MissingAttribute, Violation

if TYPE_CHECKING:
    from datetime import datetime

    from d2._core.state import RequestState

__all__ = [
    "Access",
    "CompiledPolicy",
    "ExplicitDeny",
    "Grant",
    "InputCheck",
    "MissingAttribute",
    "OutputRules",
    "Violation",
]

_ACCESS_CACHE_LIMIT = 65_536


class InputCheck(Protocol):
    """Compiled input conditions of one grant."""

    params: frozenset[str]
    location: Location

    def check(self, args: Mapping[str, Any], state: RequestState) -> Violation | None: ...


class OutputRules(Protocol):
    """Compiled output validation and sanitization of one grant."""

    location: Location

    def apply(self, value: Any, state: RequestState) -> tuple[Any, Violation | None]: ...


@dataclass(frozen=True, slots=True)
class Grant:
    """One role's permission for one tool, with the conditions attached to it."""

    tool: str
    role: str
    location: Location
    input: InputCheck | None = None
    output: OutputRules | None = None
    via: str | None = None

    @property
    def unconditional(self) -> bool:
        return self.input is None


@dataclass(frozen=True, slots=True)
class ExplicitDeny:
    """An ``allow: false`` entry: this role may not call this tool, whatever else grants it."""

    tool: str
    role: str
    location: Location


@dataclass(frozen=True, slots=True)
class Access:
    """What a caller with a given role set holds for one tool (memoised on the policy)."""

    deny: ExplicitDeny | None
    grants: tuple[Grant, ...]
    needs_args: bool
    has_output: bool
    # A plain allow: some grant is unconditional and no grant carries output rules.
    open: bool


@dataclass(frozen=True, slots=True, eq=False)
class CompiledPolicy:
    """An immutable, validated policy ready for the engine."""

    source: str
    version: str
    name: str | None
    description: str | None
    expires: datetime | None
    tool_groups: Mapping[str, frozenset[str]]
    roles: frozenset[str]
    grants: Mapping[str, Mapping[str, tuple[Grant, ...]]]
    denies: Mapping[str, Mapping[str, ExplicitDeny]]
    wildcard: Mapping[str, Grant]
    known_tools: frozenset[str]
    raw: Mapping[str, Any] = field(repr=False)
    sequence: Any = None
    flow: Any = None
    _cache: dict[tuple[str, frozenset[str]], Access] = field(default_factory=dict, repr=False)
    # Derived once: the guard compares it with time() on every call.
    expires_ts: float | None = field(init=False, repr=False, default=None)

    def __post_init__(self) -> None:
        object.__setattr__(self, "expires_ts", self.expires.timestamp() if self.expires is not None else None)

    def access(self, tool: str, roles: frozenset[str]) -> Access:
        """Return the grants (or the explicit deny) ``roles`` hold for ``tool``, memoised."""
        key = (tool, roles)
        found = self._cache.get(key)
        if found is None:
            found = self._resolve(tool, roles)
            if len(self._cache) >= _ACCESS_CACHE_LIMIT:
                self._cache.clear()
            self._cache[key] = found
        return found

    def _resolve(self, tool: str, roles: frozenset[str]) -> Access:
        by_role_deny = self.denies.get(tool, {})
        for role in sorted(roles):
            deny = by_role_deny.get(role)
            if deny is not None:
                return Access(deny, (), False, False, False)
        grants: list[Grant] = []
        by_role = self.grants.get(tool, {})
        for role in sorted(roles):
            grants.extend(by_role.get(role, ()))
            wild = self.wildcard.get(role)
            if wild is not None:
                grants.append(wild)
        has_output = any(g.output is not None for g in grants)
        needs_args = any(g.input is not None for g in grants)
        open_ = not has_output and any(g.unconditional for g in grants)
        return Access(None, tuple(grants), needs_args, has_output, open_)

    def tools_for(self, role: str) -> frozenset[str]:
        """Tools a role is granted by name or group (``*`` not expanded)."""
        return frozenset(t for t, by_role in self.grants.items() if role in by_role)
