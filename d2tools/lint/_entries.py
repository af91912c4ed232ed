"""Walk the raw role entries of a policy the way the compiler reads them, keeping every JSON path.

Lint-only checks need positions of individual permissions, condition keys and sequence elements,
which the compiled policy does not keep. This module only reads a document the compiler has already
accepted, so it follows the compiler's rules (``policies``/``roles``, ``role``/``roles``) and never
re-validates shape.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from d2._toolkit import JsonPath

__all__ = [
    "Permission",
    "RoleEntry",
    "SequenceElement",
    "SequenceRule",
    "mapping",
    "permission_conditions",
    "permissions",
    "role_entries",
    "sequence_elements",
    "sequence_rules",
]


@dataclass(frozen=True, slots=True)
class RoleEntry:
    """One item of ``policies:``: the roles it names and where it is."""

    roles: tuple[str, ...]
    data: Mapping[str, Any]
    path: JsonPath


@dataclass(frozen=True, slots=True)
class Permission:
    """One permission of a role entry: a tool id, ``@group`` or ``*``, with its conditions."""

    entry: RoleEntry
    ref: str
    allow: bool
    conditions: Mapping[str, Any] | None
    path: JsonPath  # the permission item
    ref_path: JsonPath  # the tool reference itself (the item, or its ``tool`` value)


@dataclass(frozen=True, slots=True)
class SequenceElement:
    """One tool reference inside a sequence rule's ``deny``/``allow`` pattern."""

    entry: RoleEntry
    kind: str  # "deny" or "allow"
    ref: str
    rule_path: JsonPath
    path: JsonPath


def mapping(value: Any) -> Mapping[str, Any]:
    """``value`` when it is a mapping, else an empty one: lets callers walk optional sections."""
    return value if isinstance(value, Mapping) else {}


def _is_mapping(value: Any) -> bool:
    # Parsed data holds plain dicts: test that first, the ABC check is many times slower.
    return type(value) is dict or isinstance(value, Mapping)


def role_entries(data: Any) -> Iterator[RoleEntry]:
    """Yield the role entries of a policy document, in file order."""
    if not isinstance(data, Mapping):
        return
    key = "policies" if "policies" in data else "roles"
    entries = data.get(key)
    if not isinstance(entries, list):
        return
    for i, entry in enumerate(entries):
        if _is_mapping(entry):
            raw = entry.get("role", entry.get("roles"))
            names = [raw] if isinstance(raw, str) else raw if isinstance(raw, list) else []
            roles = tuple(dict.fromkeys(n for n in names if isinstance(n, str) and n))
            yield RoleEntry(roles, entry, (key, i))


def permissions(data: Any) -> Iterator[Permission]:
    """Yield every permission of every role entry."""
    for entry in role_entries(data):
        perms = entry.data.get("permissions")
        if not isinstance(perms, list):
            continue
        for i, perm in enumerate(perms):
            path: JsonPath = (*entry.path, "permissions", i)
            if isinstance(perm, str):
                yield Permission(entry, perm, True, None, path, path)
            elif _is_mapping(perm) and isinstance(perm.get("tool"), str):
                cond = perm.get("conditions")
                yield Permission(
                    entry,
                    perm["tool"],
                    perm.get("allow", True) is not False,
                    cond if _is_mapping(cond) else None,
                    path,
                    (*path, "tool"),
                )


def permission_conditions(data: Any) -> Iterator[tuple[JsonPath, Mapping[str, Any]]]:
    """The ``path`` and ``conditions`` of each permission :func:`permissions` yields with conditions.

    A check that reads conditions alone walks a big policy several times faster this way: the plain
    grants, most of them, are passed over without building a :class:`Permission` each.
    """
    for entry in role_entries(data):
        perms = entry.data.get("permissions")
        if not isinstance(perms, list):
            continue
        for i, perm in enumerate(perms):
            if isinstance(perm, str) or not _is_mapping(perm) or not isinstance(perm.get("tool"), str):
                continue
            cond = perm.get("conditions")
            if _is_mapping(cond):
                yield (*entry.path, "permissions", i), cond


@dataclass(frozen=True, slots=True)
class SequenceRule:
    """One rule of a role entry's ``sequence`` (list form or ``{mode, rules}`` form)."""

    entry: RoleEntry
    mode: str  # the block's mode: "allow" (default) or "deny"
    data: Mapping[str, Any]
    path: JsonPath


def sequence_rules(data: Any) -> Iterator[SequenceRule]:
    """Yield every sequence rule of every role entry, in file order."""
    for entry in role_entries(data):
        node = entry.data.get("sequence")
        base: JsonPath = (*entry.path, "sequence")
        mode = "allow"
        if isinstance(node, Mapping):
            mode = "deny" if node.get("mode") == "deny" else "allow"
            rules, base = node.get("rules"), (*base, "rules")
        else:
            rules = node
        if not isinstance(rules, list):
            continue
        for i, rule in enumerate(rules):
            if isinstance(rule, Mapping):
                yield SequenceRule(entry, mode, rule, (*base, i))


def sequence_elements(data: Any) -> Iterator[SequenceElement]:
    """Yield every tool reference of every sequence rule's ``deny``/``allow`` pattern."""
    for rule in sequence_rules(data):
        for kind in ("deny", "allow"):
            pattern = rule.data.get(kind)
            if not isinstance(pattern, list):
                continue
            for j, ref in enumerate(pattern):
                if isinstance(ref, str):
                    yield SequenceElement(rule.entry, kind, ref, rule.path, (*rule.path, kind, j))
