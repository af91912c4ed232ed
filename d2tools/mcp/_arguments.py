"""An upstream tool's declared arguments as the signature input conditions are checked against.

A decorated function binds its arguments with defaults applied, so a condition also checks the value
the function will use when the caller leaves an argument out, and a condition naming a parameter the
function does not have is refused rather than passed. The proxy has no Python signature, only the
tool's ``inputSchema``; this module gives it the same two guarantees:

- A conditioned argument the caller left out takes the schema's declared ``default``, which is also
  what the proxy sends upstream (the value checked is the value used). With no declared default the
  server would pick a value the guard cannot see, so the argument becomes :data:`UNSEEN` and any
  condition on it refuses the call; a grant without a condition on it lets the call through, and the
  placeholder is removed before the call goes upstream.
- A condition naming an argument the schema does not declare (a typo, or a renamed argument) refuses
  every call of that tool with ``internal_error``, logged once with the rule's location. A schema that
  declares no ``properties`` takes anything (like ``**kwargs``), so only the first guarantee applies.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from d2 import PermissionDeniedError
from d2._toolkit import UNSEEN, CompiledPolicy
from d2.exceptions import Reason

__all__ = ["UNSEEN", "ArgumentPlan", "declared_names", "declared_properties", "without_unseen"]

log = logging.getLogger("d2.mcp")
_NO_DEFAULT: Any = object()


def declared_properties(schema: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Top-level property names and their defaults (:data:`_NO_DEFAULT` when none); None: takes anything."""
    properties = schema.get("properties") if isinstance(schema, Mapping) else None
    if not isinstance(properties, Mapping) or not properties:
        return None
    return {
        str(name): spec.get("default", _NO_DEFAULT) if isinstance(spec, Mapping) else _NO_DEFAULT
        for name, spec in properties.items()
    }


def declared_names(names: Iterable[str]) -> dict[str, Any]:
    """Arguments declared by name only (a prompt's): none has a default the proxy could check."""
    return dict.fromkeys(names, _NO_DEFAULT)


@dataclass(frozen=True, slots=True)
class ArgumentPlan:
    """What to do with one tool's arguments under one policy, worked out once per policy version."""

    policy: CompiledPolicy | None
    fill: tuple[tuple[str, Any], ...] = ()  # conditioned argument -> its declared default, or UNSEEN
    problem: str | None = None  # a condition names an argument the tool does not declare

    @classmethod
    def build(
        cls, policy: CompiledPolicy | None, tool_id: str, declared: Mapping[str, Any] | None
    ) -> ArgumentPlan:
        if policy is None:
            return cls(policy)
        named: dict[str, str] = {}
        for grants in policy.grants.get(tool_id, {}).values():
            for grant in grants:
                if grant.input is not None:
                    for name in grant.input.params:
                        named.setdefault(name, str(grant.input.location))
        if not named:
            return cls(policy)
        if declared is not None:
            unknown = sorted(name for name in named if name not in declared)
            if unknown:
                name = unknown[0]
                problem = (
                    f"{named[name]}: input condition names argument '{name}', but tool '{tool_id}' "
                    f"declares no such argument (it has {_listed(declared)}); fix the policy"
                )
                log.error("d2 mcp-proxy: %s; every call of it is refused", problem)
                return cls(policy, problem=problem)
        fill = tuple(
            (name, UNSEEN if declared is None or declared[name] is _NO_DEFAULT else declared[name])
            for name in sorted(named)
        )
        return cls(policy, fill)

    def apply(self, tool_id: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """The arguments the guard decides on (and, placeholders removed, the upstream gets)."""
        if self.problem is not None:
            raise PermissionDeniedError(reason=Reason.INTERNAL_ERROR, tool_id=tool_id, detail=self.problem)
        for name, default in self.fill:
            if name not in arguments:
                arguments[name] = default if default is UNSEEN else copy.deepcopy(default)
        return arguments


def without_unseen(arguments: dict[str, Any]) -> dict[str, Any]:
    """Drop the placeholders of arguments the caller did not pass (a grant with no condition on them)."""
    for value in arguments.values():
        if value is UNSEEN:
            return {name: value for name, value in arguments.items() if value is not UNSEEN}
    return arguments


def _listed(names: Iterable[str]) -> str:
    shown = sorted(names)
    return ", ".join(repr(n) for n in shown[:10]) + (", ..." if len(shown) > 10 else "")
