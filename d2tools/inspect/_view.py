"""A display model of a policy, built from the raw document so any valid shape renders.

Grants are shown as written (tool, ``@group`` expanded, conditions verbatim) with the line they come
from. Nothing here evaluates conditions: displaying a policy must never depend on compiling one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from d2._toolkit import SourceDoc
from d2tools.lint._entries import (
    Permission,
    SequenceRule,
    mapping,
    permissions,
    role_entries,
    sequence_rules,
)

__all__ = ["FlowView", "PolicyView", "RoleView", "RuleView", "ToolView", "build_view"]


@dataclass(frozen=True, slots=True)
class ToolView:
    """One tool a role is granted (or denied), with the grant's conditions as written."""

    tool: str
    allow: bool
    line: int
    via: str | None = None
    input: Mapping[str, Any] | None = None
    output: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class RuleView:
    """One sequence rule as written."""

    mode: str
    kind: str  # "deny" or "allow"
    pattern: tuple[str, ...]
    line: int
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class RoleView:
    """Everything one role holds, merged over all its entries."""

    name: str
    wildcard_line: int | None
    tools: tuple[ToolView, ...]
    sequence: tuple[RuleView, ...]


@dataclass(frozen=True, slots=True)
class FlowView:
    """``metadata.data_flow``: labels tools add, tools labels block."""

    labels: Mapping[str, tuple[str, ...]]
    blocks: Mapping[str, tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class PolicyView:
    """The whole policy, ready to print or dump as JSON."""

    file: str
    name: str | None
    expires: str | None
    groups: Mapping[str, tuple[str, ...]]
    roles: tuple[RoleView, ...]
    flow: FlowView

    def to_json(self) -> dict[str, Any]:
        """Plain data for ``--format json``."""
        return {
            "file": self.file,
            "name": self.name,
            "expires": self.expires,
            "tool_groups": {k: list(v) for k, v in self.groups.items()},
            "roles": [_role_json(r) for r in self.roles],
            "data_flow": {
                "labels": {k: list(v) for k, v in self.flow.labels.items()},
                "blocks": {k: list(v) for k, v in self.flow.blocks.items()},
            },
        }


def build_view(doc: SourceDoc, *, role: str | None = None, tool: str | None = None) -> PolicyView:
    """Build the view, keeping only ``role`` and grants of ``tool`` when given."""
    data = mapping(doc.data)
    meta = mapping(data.get("metadata"))
    groups = _groups(meta.get("tool_groups"))
    names = [r for e in role_entries(data) for r in e.roles]
    # Read the entries once: walking them again for every role is quadratic on large policies.
    perms: dict[str, list[Permission]] = {}
    for perm in permissions(doc.data):
        for name in perm.entry.roles:
            perms.setdefault(name, []).append(perm)
    rules: dict[str, list[SequenceRule]] = {}
    for rule in sequence_rules(doc.data):
        for name in rule.entry.roles:
            rules.setdefault(name, []).append(rule)
    roles = []
    for name in dict.fromkeys(names):
        if role is not None and name != role:
            continue
        view = _role(doc, name, groups, perms.get(name, []), rules.get(name, []))
        if tool is not None:
            view = _only_tool(view, tool, groups)
        roles.append(view)
    return PolicyView(
        file=doc.file,
        name=meta.get("name") if isinstance(meta.get("name"), str) else None,
        expires=str(meta["expires"]) if meta.get("expires") is not None else None,
        groups=groups,
        roles=tuple(roles),
        flow=_flow(meta.get("data_flow")),
    )


def _role(
    doc: SourceDoc,
    name: str,
    groups: Mapping[str, tuple[str, ...]],
    perms: list[Permission],
    all_rules: list[SequenceRule],
) -> RoleView:
    wildcard: int | None = None
    tools: list[ToolView] = []
    for perm in perms:
        if name not in perm.entry.roles:
            continue
        line = doc.loc(perm.path).line
        if perm.ref == "*":
            wildcard = wildcard if wildcard is not None else line
            continue
        cond = perm.conditions or {}
        inp = cond.get("input") if isinstance(cond.get("input"), Mapping) else None
        out = cond.get("output") if isinstance(cond.get("output"), Mapping) else None
        via = perm.ref if perm.ref.startswith("@") else None
        members = groups.get(perm.ref[1:], ()) if via else (perm.ref,)
        tools += [ToolView(t, perm.allow, line, via, inp, out) for t in members]
    rules = []
    for rule in all_rules:
        if name not in rule.entry.roles:
            continue
        for kind in ("deny", "allow"):
            pattern = rule.data.get(kind)
            if isinstance(pattern, list):
                reason = rule.data.get("reason")
                rules.append(
                    RuleView(
                        rule.mode,
                        kind,
                        tuple(str(p) for p in pattern),
                        doc.loc(rule.path).line,
                        reason if isinstance(reason, str) else None,
                    )
                )
    return RoleView(name, wildcard, tuple(tools), tuple(rules))


def _only_tool(view: RoleView, tool: str, groups: Mapping[str, tuple[str, ...]]) -> RoleView:
    def names(ref: str) -> tuple[str, ...]:
        return groups.get(ref[1:], ()) if ref.startswith("@") else (ref,)

    tools = tuple(t for t in view.tools if t.tool == tool)
    rules = tuple(r for r in view.sequence if any(tool in names(p) for p in r.pattern))
    return RoleView(view.name, view.wildcard_line, tools, rules)


def _groups(node: Any) -> dict[str, tuple[str, ...]]:
    if not isinstance(node, Mapping):
        return {}
    return {str(k): tuple(str(m) for m in v) for k, v in node.items() if isinstance(v, list)}


def _flow(node: Any) -> FlowView:
    section = mapping(node)

    def table(key: str) -> dict[str, tuple[str, ...]]:
        raw = section.get(key)
        if not isinstance(raw, Mapping):
            return {}
        return {str(k): tuple(str(x) for x in v) for k, v in raw.items() if isinstance(v, list)}

    return FlowView(table("labels"), table("blocks"))


def _role_json(role: RoleView) -> dict[str, Any]:
    return {
        "role": role.name,
        "wildcard": role.wildcard_line is not None,
        "tools": [
            {
                "tool": t.tool,
                "allow": t.allow,
                "line": t.line,
                "via": t.via,
                "conditions": {k: v for k, v in (("input", t.input), ("output", t.output)) if v is not None},
            }
            for t in role.tools
        ],
        "sequence": [
            {"mode": r.mode, "kind": r.kind, "pattern": list(r.pattern), "line": r.line, "reason": r.reason}
            for r in role.sequence
        ],
    }
