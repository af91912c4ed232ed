"""What changes between two versions of a policy: grants added or removed per role, conditions changed.

Both sides are read into the same display model ``d2 inspect`` prints (groups expanded), so a grant
that moved from a tool id to a ``@group`` containing it is not reported as a change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from d2._toolkit import SourceDoc
from d2tools.inspect import PolicyView, build_view

__all__ = ["PolicyDiff", "RoleDiff", "diff_docs"]


@dataclass(frozen=True, slots=True)
class RoleDiff:
    """One role's changes; ``status`` is added, removed or changed."""

    role: str
    status: str
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    conditions: tuple[str, ...] = ()
    sequence_added: tuple[str, ...] = ()
    sequence_removed: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PolicyDiff:
    """Everything that changed from ``old`` to ``new``."""

    old: str
    new: str
    roles: tuple[RoleDiff, ...]
    groups_changed: tuple[str, ...]

    @property
    def empty(self) -> bool:
        return not self.roles and not self.groups_changed

    def lines(self) -> list[str]:
        """A plain-text rendering (the view styles it; tests read it)."""
        out = [f"--- {self.old}", f"+++ {self.new}"]
        if self.empty:
            return [*out, "no changes to grants, conditions, sequences or groups"]
        for name in self.groups_changed:
            out.append(f"~ group @{name} members changed")
        for role in self.roles:
            out.append(f"{ {'added': '+', 'removed': '-', 'changed': '~'}[role.status] } role {role.role}")
            out += [f"    + {t}" for t in role.added]
            out += [f"    - {t}" for t in role.removed]
            out += [f"    ~ {c}" for c in role.conditions]
            out += [f"    + sequence {s}" for s in role.sequence_added]
            out += [f"    - sequence {s}" for s in role.sequence_removed]
        return out


def diff_docs(old: SourceDoc, new: SourceDoc) -> PolicyDiff:
    """Compare two parsed policies role by role."""
    a, b = build_view(old), build_view(new)
    roles = []
    old_roles, new_roles = _grants(a), _grants(b)
    old_seq, new_seq = _sequences(a), _sequences(b)
    for name in sorted(set(old_roles) | set(new_roles)):
        before, after = old_roles.get(name), new_roles.get(name)
        if before is None or after is None:
            grants = after if after is not None else before or {}
            status = "added" if before is None else "removed"
            keys = tuple(sorted(grants))
            seq = new_seq.get(name, ()) if before is None else old_seq.get(name, ())
            roles.append(
                RoleDiff(
                    name,
                    status,
                    added=keys if status == "added" else (),
                    removed=keys if status == "removed" else (),
                    sequence_added=seq if status == "added" else (),
                    sequence_removed=seq if status == "removed" else (),
                )
            )
            continue
        changed = tuple(
            f"{tool}: conditions {_short(before[tool])} -> {_short(after[tool])}"
            for tool in sorted(set(before) & set(after))
            if before[tool] != after[tool]
        )
        seq_a, seq_b = set(old_seq.get(name, ())), set(new_seq.get(name, ()))
        diff = RoleDiff(
            name,
            "changed",
            added=tuple(sorted(set(after) - set(before))),
            removed=tuple(sorted(set(before) - set(after))),
            conditions=changed,
            sequence_added=tuple(sorted(seq_b - seq_a)),
            sequence_removed=tuple(sorted(seq_a - seq_b)),
        )
        if diff.added or diff.removed or diff.conditions or diff.sequence_added or diff.sequence_removed:
            roles.append(diff)
    groups = tuple(
        sorted(
            n for n in set(a.groups) | set(b.groups) if set(a.groups.get(n, ())) != set(b.groups.get(n, ()))
        )
    )
    return PolicyDiff(a.file, b.file, tuple(roles), groups)


def _grants(view: PolicyView) -> dict[str, dict[str, Any]]:
    """role -> grant key ("tool", "tool (deny)", "*") -> its conditions as written."""
    out: dict[str, dict[str, Any]] = {}
    for role in view.roles:
        table: dict[str, Any] = out.setdefault(role.name, {})
        if role.wildcard_line is not None:
            table["*"] = None
        for tool in role.tools:
            key = tool.tool if tool.allow else f"{tool.tool} (deny)"
            table[key] = _plain({"input": tool.input, "output": tool.output})
    return out


def _sequences(view: PolicyView) -> dict[str, tuple[str, ...]]:
    return {r.name: tuple(f"{s.kind} [{' -> '.join(s.pattern)}]" for s in r.sequence) for r in view.roles}


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _short(value: Any) -> str:
    import json

    text = json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))
    return text if len(text) <= 80 else text[:77] + "..."
