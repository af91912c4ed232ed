"""The policy as the tree shows it: every entry knows its line, so selecting it can show its source.

Built once per loaded policy from :mod:`d2tools.inspect`'s display model (groups expanded with
where they came from), then filtered as the user types; nothing here evaluates a condition.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from d2tools.inspect import PolicyView, RoleView, ToolView, build_view

from ..loaded import LoadedPolicy
from .restrictions import (
    Checked,
    RestrictionExample,
    check_example,
    derived_examples,
    policy_examples,
    scenario_examples,
)

__all__ = ["Entry", "PolicyIndex", "Section", "build_index"]


@dataclass(slots=True, eq=False)  # not frozen: a large policy builds tens of thousands of these at start-up
class Entry:
    """One selectable line of the tree: what it is, what to print, and where it is written."""

    kind: str
    label: str
    line: int
    detail: tuple[str, ...] = ()
    children: tuple[Entry, ...] = ()
    key: str = ""
    payload: Any = None  # what a detail pane needs beyond ``detail`` (a checked restriction example)
    make: Callable[[], tuple[Entry, ...]] | None = None  # children built when first opened

    def matches(self, needle: str) -> bool:
        return needle in self.key

    @property
    def has_children(self) -> bool:
        return bool(self.children) or self.make is not None

    def kids(self) -> tuple[Entry, ...]:
        """The children, building them on first use (restriction examples compile only when opened)."""
        if self.make is not None:
            self.children, self.make = self.make(), None
        return self.children


@dataclass(frozen=True, slots=True)
class Section:
    """A top-level branch (roles, tools, groups, sequences, data flow, diagnostics)."""

    name: str
    entries: tuple[Entry, ...]


@dataclass(frozen=True, slots=True)
class PolicyIndex:
    """Everything the tree can show."""

    sections: tuple[Section, ...]

    def filtered(self, text: str) -> tuple[Section, ...]:
        """Sections keeping entries whose key contains ``text`` (a parent keeps matching children)."""
        needle = text.strip().lower()
        if not needle:
            return self.sections
        out = []
        for section in self.sections:
            kept = []
            for entry in section.entries:
                if entry.matches(needle):
                    kept.append(entry)
                    continue
                children = tuple(c for c in entry.children if c.matches(needle))
                if children:
                    kept.append(_replace_children(entry, children))
            out.append(Section(section.name, tuple(kept)))
        return tuple(out)


def _replace_children(entry: Entry, children: tuple[Entry, ...]) -> Entry:
    return Entry(entry.kind, entry.label, entry.line, entry.detail, children, entry.key, entry.payload)


def build_index(loaded: LoadedPolicy) -> PolicyIndex:
    """Index a loaded policy; a policy that did not parse has only its diagnostics."""
    diags = _diagnostics(loaded)
    if loaded.doc is None:
        return PolicyIndex((Section("diagnostics", diags),))
    view = build_view(loaded.doc)
    group_lines = {
        name: loaded.doc.loc(("metadata", "tool_groups", name), key=True).line for name in view.groups
    }
    roles = tuple(_role(r, group_lines) for r in view.roles)
    return PolicyIndex(
        (
            Section("roles", roles),
            Section("tools", _tools(view, group_lines)),
            Section("groups", _groups(view, group_lines)),
            Section("sequences", _sequences(view)),
            Section("data flow", _flow(loaded, view)),
            Section("restrictions", _restrictions(loaded, view)),
            Section("diagnostics", diags),
        )
    )


def _role(role: RoleView, group_lines: Mapping[str, int]) -> Entry:
    grants = []
    if role.wildcard_line is not None:
        grants.append(Entry("grant", "* every tool", role.wildcard_line, ("grants every tool",), key="*"))
    grants += [_grant(role.name, t, group_lines) for t in role.tools]
    for rule in role.sequence:
        grants.append(_rule_entry(role.name, rule.kind, rule.pattern, rule.line, rule.reason, rule.mode))
    first = min((g.line for g in grants), default=1)
    label = f"{role.name}  ({len(role.tools) + (role.wildcard_line is not None)} grants)"
    return Entry("role", label, first, (f"role {role.name}",), tuple(grants), role.name.lower())


def _grant(role: str, tool: ToolView, group_lines: Mapping[str, int]) -> Entry:
    label = tool.tool if tool.allow else f"{tool.tool}  DENY"
    detail = [f"role {role} {'is granted' if tool.allow else 'is explicitly denied'} {tool.tool}"]
    if tool.via:
        label += f"  ← {tool.via}"
        where = group_lines.get(tool.via[1:])
        detail.append(f"via group {tool.via}" + (f" defined at line {where}" if where else ""))
    for kind, rules in (("input", tool.input), ("output", tool.output)):
        if rules:
            label += f"  [{kind}: {', '.join(str(k) for k in rules)}]"
            detail += [f"{kind} {name}: {compact(rule)}" for name, rule in rules.items()]
    return Entry("grant", label, tool.line, tuple(detail), key=tool.tool.lower())


def _tools(view: PolicyView, group_lines: Mapping[str, int]) -> tuple[Entry, ...]:
    holders: dict[str, list[Entry]] = {}
    for role in view.roles:
        for tool in role.tools:
            label = (
                f"{role.name}"
                + ("  DENY" if not tool.allow else "")
                + (f"  ← {tool.via}" if tool.via else "")
            )
            holders.setdefault(tool.tool, []).append(
                Entry("holder", label, tool.line, (f"role {role.name}",), key=role.name.lower())
            )
    wild = [r.name for r in view.roles if r.wildcard_line is not None]
    out = []
    for name in sorted(holders):
        roles = holders[name]
        extra = f" (+ * for {', '.join(wild)})" if wild else ""
        out.append(
            Entry(
                "tool",
                f"{name}  ({len(roles)} roles{extra})",
                min(r.line for r in roles),
                (f"tool {name}", f"held by {', '.join(r.label.split()[0] for r in roles)}{extra}"),
                tuple(roles),
                name.lower(),
            )
        )
    return tuple(out)


def _groups(view: PolicyView, group_lines: Mapping[str, int]) -> tuple[Entry, ...]:
    return tuple(
        Entry(
            "group",
            f"@{name}  ({len(members)} tools)",
            group_lines.get(name, 1),
            (f"group @{name}", ", ".join(members) or "(empty)"),
            tuple(Entry("member", m, group_lines.get(name, 1), key=m.lower()) for m in members),
            f"@{name}".lower(),
        )
        for name, members in view.groups.items()
    )


def _sequences(view: PolicyView) -> tuple[Entry, ...]:
    return tuple(
        _rule_entry(role.name, rule.kind, rule.pattern, rule.line, rule.reason, rule.mode)
        for role in view.roles
        for rule in role.sequence
    )


def _rule_entry(
    role: str, kind: str, pattern: tuple[str, ...], line: int, reason: str | None, mode: str
) -> Entry:
    text = f"{kind} [{' → '.join(pattern)}]"
    detail = [f"role {role}: sequence {text} (mode {mode})"]
    if reason:
        detail.append(f"reason: {reason}")
    return Entry(
        "sequence", f"{role}: {text}", line, tuple(detail), key=f"{role} {' '.join(pattern)}".lower()
    )


def _flow(loaded: LoadedPolicy, view: PolicyView) -> tuple[Entry, ...]:
    assert loaded.doc is not None
    doc = loaded.doc
    out = []
    for ref, labels in view.flow.labels.items():
        line = doc.loc(("metadata", "data_flow", "labels", ref), key=True).line
        text = f"{ref} adds {', '.join(labels)}"
        out.append(
            Entry("flow", text, line, (f"data flow: {text}",), key=f"{ref} {' '.join(labels)}".lower())
        )
    for label, refs in view.flow.blocks.items():
        line = doc.loc(("metadata", "data_flow", "blocks", label), key=True).line
        text = f"label {label} blocks {', '.join(refs)}"
        out.append(
            Entry("flow", text, line, (f"data flow: {text}",), key=f"{label} {' '.join(refs)}".lower())
        )
    return tuple(out)


def _restrictions(loaded: LoadedPolicy, view: PolicyView) -> tuple[Entry, ...]:
    """Examples written in files first (each checked now), then one lazily built branch per role."""
    assert loaded.doc is not None
    written = policy_examples(loaded.doc.data, loaded.doc.loc, loaded.file)
    found, notes = scenario_examples(loaded.file)
    out = []
    by_file: dict[str, list[RestrictionExample]] = {}
    for example in [*written, *found]:
        by_file.setdefault(example.file, []).append(example)
    for file, examples in by_file.items():
        checked = tuple(_example_entry(check_example(e, loaded.policy)) for e in examples)
        bad = sum(1 for c in checked if c.payload.error is not None)
        label = f"{file}  ({len(checked)} written" + (f", {bad} invalid)" if bad else ")")
        out.append(
            Entry(
                "restrictions",
                label,
                checked[0].line,
                (f"restriction examples written in {file}",),
                checked,
                f"{file} restrict",
                checked[0].payload,
            )
        )
    for note in notes:
        out.append(Entry("restrictions", note, 1, (note,), key=note.lower()))
    for role in view.roles:
        out.append(
            Entry(
                "restrictions",
                f"{role.name}: narrow a request",
                _first_line(role),
                (f"role {role.name}: d2.restrict() fragments derived from its grants",),
                key=f"{role.name} restrict".lower(),
                make=_deriver(role, view, loaded),
            )
        )
    return tuple(out)


def _deriver(role: RoleView, view: PolicyView, loaded: LoadedPolicy) -> Callable[[], tuple[Entry, ...]]:
    def make() -> tuple[Entry, ...]:
        return tuple(_example_entry(c) for c in derived_examples(role, view, loaded.policy, loaded.file))

    return make


def _example_entry(checked: Checked) -> Entry:
    example = checked.example
    mark = "✗ " if checked.error is not None else ""
    detail = (f"d2.restrict: {example.title}", example.why, *checked.effect)
    key = f"{example.title} {' '.join(map(str, example.fragment))} {example.role or ''}".lower()
    return Entry("restriction", mark + example.title, example.line, detail, key=key, payload=checked)


def _first_line(role: RoleView) -> int:
    lines = [t.line for t in role.tools] + [r.line for r in role.sequence]
    if role.wildcard_line is not None:
        lines.append(role.wildcard_line)
    return min(lines, default=1)


def _diagnostics(loaded: LoadedPolicy) -> tuple[Entry, ...]:
    return tuple(
        Entry(
            "diagnostic",
            f"{d.line}:{d.col} {d.code} {d.message}",
            d.line,
            (d.render(),),
            key=f"{d.code} {d.message}".lower(),
        )
        for d in loaded.diagnostics
    )


def compact(value: Any) -> str:
    """One line of policy text for a condition (policy data only, never user data)."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "), default=str)
