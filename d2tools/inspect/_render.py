"""Rich renderings of a policy view and of an explanation (text is never parsed as markup)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from rich.console import Group
from rich.text import Text
from rich.tree import Tree

from ._explain import Explanation
from ._view import PolicyView, RoleView, ToolView

__all__ = ["compact", "render_explanation", "render_tree"]


def compact(value: Any) -> str:
    """Show a policy value on one line (policy text only; never call this on user data)."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "), default=str)


def render_tree(view: PolicyView, *, tool: str | None = None) -> Tree:
    """Policy → roles → tools → conditions, then sequence rules and data flow."""
    title = Text.assemble(("policy ", "bold"), (view.name or view.file, "bold cyan"))
    if view.name:
        title.append(f"  {view.file}")
    if view.expires:
        title.append(f"  expires {view.expires}", style="yellow")
    root = Tree(title)
    if view.groups and tool is None:
        groups = root.add(Text("tool groups", style="bold"))
        for name, members in view.groups.items():
            groups.add(Text.assemble((f"@{name}", "magenta"), ": ", ", ".join(members) or "(empty)"))
    for role in view.roles:
        _role(root.add(Text.assemble(("role ", "bold"), (role.name, "bold green"))), role)
    if (view.flow.labels or view.flow.blocks) and tool is None:
        flow = root.add(Text("data flow", style="bold"))
        for ref, labels in view.flow.labels.items():
            flow.add(Text(f"{ref} adds labels {', '.join(labels)}"))
        for label, refs in view.flow.blocks.items():
            flow.add(Text(f"label {label} blocks {', '.join(refs)}"))
    return root


def _role(node: Tree, role: RoleView) -> None:
    if role.wildcard_line is not None:
        node.add(Text.assemble(("*", "bold yellow"), " every tool", (f"  line {role.wildcard_line}", "dim")))
    for tool in role.tools:
        _tool(node, tool)
    if not role.tools and role.wildcard_line is None:
        node.add(Text("(no tools)", style="dim"))
    for rule in role.sequence:
        label = Text.assemble(
            (f"sequence {rule.kind}", "bold red" if rule.kind == "deny" else "bold blue"),
            f" [{' → '.join(rule.pattern)}]",
            (f"  line {rule.line}", "dim"),
        )
        if rule.mode == "deny":
            label.append("  (mode: deny)", style="dim")
        if rule.reason:
            label.append(f"  {rule.reason}", style="italic")
        node.add(label)


def _tool(parent: Tree, tool: ToolView) -> None:
    label = Text(tool.tool, style="cyan" if tool.allow else "red strike")
    if not tool.allow:
        label.append("  DENY", style="bold red")
    if tool.via:
        label.append(f"  via {tool.via}", style="magenta")
    label.append(f"  line {tool.line}", style="dim")
    node = parent.add(label)
    _conditions(node, "input", tool.input)
    _conditions(node, "output", tool.output)


def _conditions(node: Tree, kind: str, rules: Mapping[str, Any] | None) -> None:
    if not rules:
        return
    branch = node.add(Text(kind, style="bold"))
    for name, rule in rules.items():
        if isinstance(rule, Mapping):
            shown = ", ".join(f"{op}: {compact(v)}" for op, v in rule.items())
        else:
            shown = compact(rule)
        branch.add(Text.assemble((str(name), "bold"), f"  {shown}"))


def render_explanation(result: Explanation) -> Group:
    """The verdict, the deciding rule, and every grant the role holds for the tool."""
    args = compact(dict(result.args)) if result.args else "no arguments"
    lines: list[Text] = [Text(f"role '{result.role}' calls '{result.tool}' with {args}")]
    if result.history:
        lines.append(Text(f"after: {' → '.join(result.history)}", style="dim"))
    if result.allowed:
        first = next((g for g in result.grants if g.passed), None)
        where = f" by the grant at {first.location}" if first else ""
        lines.append(Text.assemble(("ALLOWED", "bold green"), where))
    else:
        lines.append(Text.assemble(("DENIED", "bold red"), f" ({result.reason})"))
        if result.detail:
            lines.append(Text(f"  why: {result.detail}"))
        if result.location:
            lines.append(Text(f"  rule: {result.location}"))
    if result.grants:
        lines.append(Text("grants held for this tool:", style="bold"))
        for g in result.grants:
            mark = ("pass", "green") if g.passed else ("fail", "red")
            text = Text.assemble("  ", mark, f"  {g.location}  role {g.role}")
            if g.via:
                text.append(f" via {g.via}")
            if g.detail:
                text.append(f": {g.detail}")
            lines.append(text)
    for location in result.output_rules:
        lines.append(Text(f"output rules at {location} apply to the result"))
    return Group(*lines)
