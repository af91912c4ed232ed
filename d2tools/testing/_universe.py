"""The rules of a policy a test suite should exercise, each with its place in the policy file.

Read from the policy's own data and source positions (not from compiled objects), so coverage keeps
working whatever shape the compiled conditions, sequence programs and data-flow maps take. Each
unit has a span (its first and last position in the file); a refusal's location falls inside the
span of the rule that refused, which is how a decision is attributed to a rule.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from d2._toolkit import JsonPath, SourceDoc

__all__ = ["Kind", "Unit", "build_units"]

_Pos = tuple[int, int]


class Kind:
    """Unit kinds, in the order a report lists them."""

    GRANT = "grant"
    DENY = "deny"
    CONDITION = "condition"
    OUTPUT = "output rule"
    SEQUENCE = "sequence rule"
    LABEL = "label"
    BLOCK = "block"
    ORDER = (GRANT, DENY, CONDITION, OUTPUT, SEQUENCE, LABEL, BLOCK)


# Output actions that transform the value: exercised when a step asserts the output they shape.
TRANSFORMS = frozenset({"filter", "redact", "truncate"})
_GLOBALS = ("max_bytes", "deny_if_patterns", "require_fields_absent")


@dataclass(frozen=True, slots=True)
class Unit:
    """One rule: what it is, where it is written, and what decides that a step exercised it."""

    kind: str
    label: str
    path: JsonPath
    start: _Pos
    end: _Pos
    owner: JsonPath = ()
    roles: tuple[str, ...] = ()
    by_allow: bool = False
    pattern: tuple[str, ...] = ()
    mode: str = "allow"
    sources: tuple[str, ...] = ()

    def contains(self, pos: _Pos) -> bool:
        return self.start <= pos <= self.end


def build_units(doc: SourceDoc) -> list[Unit]:
    """List every grant, condition, output rule, sequence rule, label and block of a policy."""
    data: Mapping[str, Any] = doc.data if isinstance(doc.data, dict) else {}
    found: list[tuple[str, str, JsonPath, dict[str, Any]]] = []
    key = "policies" if "policies" in data else "roles"
    entries = data.get(key)
    for i, entry in enumerate(entries if isinstance(entries, list) else []):
        if isinstance(entry, dict):
            found.extend(_entry_units(entry, (key, i)))
    meta = data.get("metadata")
    flow = meta.get("data_flow") if isinstance(meta, dict) else None
    if isinstance(flow, dict):
        found.extend(_flow_units(flow, ("metadata", "data_flow")))
    ends = _ends(doc, {f[2] for f in found})
    units = []
    for kind, label, path, extra in found:
        start = _start(doc, path)
        units.append(Unit(kind, label, path, start, max(ends.get(path, start), start), **extra))
    return units


def _roles(entry: Mapping[str, Any]) -> tuple[str, ...]:
    raw = entry.get("role", entry.get("roles"))
    names = [raw] if isinstance(raw, str) else raw if isinstance(raw, list) else []
    return tuple(n for n in names if isinstance(n, str))


def _entry_units(
    entry: Mapping[str, Any], path: JsonPath
) -> Iterator[tuple[str, str, JsonPath, dict[str, Any]]]:
    roles = _roles(entry)
    who = "/".join(roles) or "?"
    perms = entry.get("permissions")
    for j, perm in enumerate(perms if isinstance(perms, list) else []):
        p: JsonPath = (*path, "permissions", j)
        if isinstance(perm, str):
            yield Kind.GRANT, f"{who} may call {perm}", p, {"roles": roles}
        elif isinstance(perm, dict) and isinstance(perm.get("tool"), str):
            tool = perm["tool"]
            if perm.get("allow", True) is False:
                yield Kind.DENY, f"{who} is denied {tool}", p, {"roles": roles}
                continue
            yield Kind.GRANT, f"{who} may call {tool}", p, {"roles": roles}
            conditions = perm.get("conditions")
            if isinstance(conditions, dict):
                yield from _input_units(conditions.get("input"), (*p, "conditions", "input"), tool, p)
                yield from _output_units(conditions.get("output"), (*p, "conditions", "output"), tool, p)
    seq = entry.get("sequence")
    mode = "allow"
    rules_path: JsonPath = (*path, "sequence")
    if isinstance(seq, dict):
        mode = seq.get("mode", "allow") if seq.get("mode") in ("allow", "deny") else "allow"
        if mode == "deny":
            label = f"{who}: mode deny (a call off the allowed workflow is refused)"
            yield Kind.SEQUENCE, label, (*path, "sequence", "mode"), {"roles": roles}
        seq, rules_path = seq.get("rules"), (*rules_path, "rules")
    for k, rule in enumerate(seq if isinstance(seq, list) else []):
        if not isinstance(rule, dict):
            continue
        action = "deny" if "deny" in rule else "allow"
        pattern = rule.get(action)
        if isinstance(pattern, list) and all(isinstance(t, str) for t in pattern):
            label = f"{who}: {action} [{' -> '.join(pattern)}]"
            extra = {"roles": roles, "pattern": tuple(pattern), "mode": mode, "by_allow": action == "allow"}
            yield Kind.SEQUENCE, label, (*rules_path, k), extra


def _input_units(
    node: Any, path: JsonPath, tool: str, owner: JsonPath
) -> Iterator[tuple[str, str, JsonPath, dict[str, Any]]]:
    if not isinstance(node, dict):
        return
    for param, rule in node.items():
        if not isinstance(rule, dict):
            continue
        for op, value in rule.items():
            if op.startswith("x-") or (op == "required" and value is not True):
                continue
            yield Kind.CONDITION, f"{tool}: input {param} {op}", (*path, param, op), {"owner": owner}


def _output_units(
    node: Any, path: JsonPath, tool: str, owner: JsonPath
) -> Iterator[tuple[str, str, JsonPath, dict[str, Any]]]:
    if not isinstance(node, dict):
        return
    for name, rule in node.items():
        if name in _GLOBALS:
            items = rule if isinstance(rule, list) else [rule]
            for k in range(len(items)):
                p: JsonPath = (*path, name, k) if isinstance(rule, list) else (*path, name)
                yield Kind.OUTPUT, f"{tool}: output {name}", p, {"owner": owner}
            continue
        if not isinstance(rule, dict):
            continue
        action = rule.get("action")
        if action is not None:
            label = f"{tool}: output {name} action {action}"
            yield Kind.OUTPUT, label, (*path, name), {"owner": owner, "by_allow": action in TRANSFORMS}
            continue
        for op, value in rule.items():
            if op.startswith("x-") or (op == "required" and value is not True):
                continue
            yield Kind.OUTPUT, f"{tool}: output {name} {op}", (*path, name, op), {"owner": owner}


def _flow_units(
    flow: Mapping[str, Any], path: JsonPath
) -> Iterator[tuple[str, str, JsonPath, dict[str, Any]]]:
    labels = flow.get("labels")
    for source, names in labels.items() if isinstance(labels, dict) else []:
        shown = ", ".join(n for n in names if isinstance(n, str)) if isinstance(names, list) else "?"
        label = f"{source} adds {shown}"
        yield Kind.LABEL, label, (*path, "labels", source), {"sources": (source,), "by_allow": True}
    blocks = flow.get("blocks")
    for name, targets in blocks.items() if isinstance(blocks, dict) else []:
        shown = ", ".join(t for t in targets if isinstance(t, str)) if isinstance(targets, list) else "?"
        yield Kind.BLOCK, f"{name} blocks {shown}", (*path, "blocks", name), {}


def _start(doc: SourceDoc, path: JsonPath) -> _Pos:
    pos = doc.key_pos.get(path) or doc.value_pos.get(path)
    if pos is None:
        loc = doc.loc(path, key=True)
        return (loc.line, loc.col)
    return pos


def _ends(doc: SourceDoc, wanted: set[JsonPath]) -> dict[JsonPath, _Pos]:
    """The last position recorded inside each wanted path (one pass over the document's positions)."""
    ends: dict[JsonPath, _Pos] = {}
    for table in (doc.value_pos, doc.key_pos):
        for path, pos in table.items():
            for n in range(len(path), 0, -1):
                prefix = path[:n]
                if prefix in wanted and pos > ends.get(prefix, (0, 0)):
                    ends[prefix] = pos
    return ends
