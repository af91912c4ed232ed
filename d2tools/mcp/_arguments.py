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
- A conditioned argument whose JSON type is not the one the schema declares (a list where it says
  ``string``) is checked as :class:`Unseen` too: an operator meant for the declared type can mean
  something else on another (``not_contains`` on a list asks about elements, not text), and the
  server may still read the value as the declared type. Without a condition it goes upstream as sent.
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
from d2._toolkit import UNSEEN, CompiledPolicy, Unseen
from d2.exceptions import Reason

__all__ = ["UNSEEN", "ArgumentPlan", "Declared", "declared_names", "declared_properties", "without_unseen"]

log = logging.getLogger("d2.mcp")
_NO_DEFAULT: Any = object()


# What one argument is declared as: its default (or _NO_DEFAULT) and its JSON types (None: any).
Declared = tuple[Any, frozenset[str] | None]
_JSON_TYPES = frozenset({"string", "integer", "number", "boolean", "array", "object", "null"})
# A declared property whose type this check cannot read: only a plain scalar passes for it.
_UNREADABLE = frozenset({"string", "integer", "number", "boolean", "null"})
_COMPOSED = ("$ref", "allOf", "anyOf", "oneOf", "not", "if")


def declared_properties(schema: Mapping[str, Any] | None) -> dict[str, Declared] | None:
    """Top-level properties: their defaults and declared JSON types; None: the schema takes anything.

    A property's type written behind a local ``$ref`` (``#/$defs/...``) or in ``allOf`` is looked up;
    one that still cannot be read is :data:`_UNREADABLE`, so a list or an object sent for it is not
    taken for whatever the server reads it as.
    """
    properties = schema.get("properties") if isinstance(schema, Mapping) else None
    if not isinstance(properties, Mapping) or not properties:
        return None
    assert isinstance(schema, Mapping)
    out: dict[str, Declared] = {}
    for name, spec in properties.items():
        if not isinstance(spec, Mapping):
            out[str(name)] = (_NO_DEFAULT, None)  # ``true``: any value
            continue
        resolved = _resolve(spec, schema)
        if resolved is None:
            out[str(name)] = (_NO_DEFAULT, _UNREADABLE)
            continue
        default = resolved.get("default", _NO_DEFAULT)
        if "type" in resolved:
            types = _types(resolved["type"])
            out[str(name)] = (default, types if types is not None else _UNREADABLE)
        elif any(k in spec for k in _COMPOSED):
            out[str(name)] = (default, _UNREADABLE)  # the type is hidden in a construct not read here
        else:
            out[str(name)] = (default, None)  # no type declared: any value
    return out


def _resolve(spec: Any, root: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """``spec`` with local ``$ref`` followed and the type of its first typed ``allOf`` member.

    None when a reference cannot be followed (not local, missing, or a cycle).
    """
    for _ in range(8):  # a chain of references, bounded (a cycle is unreadable)
        if not isinstance(spec, Mapping):
            return None
        ref = spec.get("$ref")
        if ref is None:
            break
        target: Any = root
        if not isinstance(ref, str) or not ref.startswith("#/"):
            return None
        for part in ref[2:].split("/"):
            target = (
                target.get(part.replace("~1", "/").replace("~0", "~"))
                if isinstance(target, Mapping)
                else None
            )
        spec = (
            {**target, **{k: v for k, v in spec.items() if k != "$ref"}}
            if isinstance(target, Mapping)
            else None
        )
    else:
        return None
    if not isinstance(spec, Mapping):
        return None
    if "type" not in spec and isinstance(spec.get("allOf"), list):
        for member in spec["allOf"]:
            found = _resolve(member, root)
            if found is not None and "type" in found:
                return {**spec, "type": found["type"]}
    return spec


def declared_names(names: Iterable[str]) -> dict[str, Declared]:
    """A prompt's arguments: strings (the protocol's rule), none with a default the proxy could check."""
    return dict.fromkeys(names, (_NO_DEFAULT, frozenset({"string"})))


def _types(declared: Any) -> frozenset[str] | None:
    names = [declared] if isinstance(declared, str) else declared
    if not isinstance(names, list) or not names or not all(n in _JSON_TYPES for n in names):
        return None  # no type, or one this check does not know: the server decides
    return frozenset(names)


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "integer" if value.is_integer() else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null" if value is None else type(value).__name__


def _fits(value: Any, types: frozenset[str]) -> bool:
    kind = _json_type(value)
    return kind in types or (kind == "integer" and "number" in types)


@dataclass(frozen=True, slots=True)
class ArgumentPlan:
    """What to do with one tool's arguments under one policy, worked out once per policy version."""

    policy: CompiledPolicy | None
    # Per conditioned argument: its declared default (or UNSEEN) and its declared JSON types.
    fill: tuple[tuple[str, Any, frozenset[str] | None], ...] = ()
    problem: str | None = None  # a condition names an argument the tool does not declare

    @classmethod
    def build(
        cls, policy: CompiledPolicy | None, tool_id: str, declared: Mapping[str, Declared] | None
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
        fill = []
        for name in sorted(named):
            default, types = declared[name] if declared is not None else (_NO_DEFAULT, None)
            fill.append((name, UNSEEN if default is _NO_DEFAULT else default, types))
        return cls(policy, tuple(fill))

    def apply(self, tool_id: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """The arguments the guard decides on (and, placeholders removed, the upstream gets)."""
        if self.problem is not None:
            raise PermissionDeniedError(reason=Reason.INTERNAL_ERROR, tool_id=tool_id, detail=self.problem)
        for name, default, types in self.fill:
            value = arguments.get(name, _NO_DEFAULT)
            if value is _NO_DEFAULT:
                arguments[name] = default if default is UNSEEN else copy.deepcopy(default)
            elif types is not None and not _fits(value, types):
                declared = (
                    "a type this check cannot read" if types is _UNREADABLE else " or ".join(sorted(types))
                )
                why = f"is of type {_json_type(value)}, but the tool declares {declared}"
                arguments[name] = Unseen(why, value)
        return arguments


def without_unseen(arguments: dict[str, Any]) -> dict[str, Any]:
    """The arguments as the client sent them, for a grant with no condition on the ones held back."""
    for value in arguments.values():
        if value.__class__ is Unseen:
            return {
                name: value.sent if value.__class__ is Unseen else value
                for name, value in arguments.items()
                if value is not UNSEEN
            }
    return arguments


def _listed(names: Iterable[str]) -> str:
    shown = sorted(names)
    return ", ".join(repr(n) for n in shown[:10]) + (", ..." if len(shown) > 10 else "")
