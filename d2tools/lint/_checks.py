"""Checks only ``d2 lint`` makes: expiry, grants that ``*`` makes pointless, sequence rules that cannot fire.

They run on a policy that compiled cleanly and read both the compiled tables (who may call what) and
the raw document (where each permission and sequence element is written).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

from d2._toolkit import CompiledPolicy, Diagnostic, SourceDoc

from ._diag import make
from ._entries import RoleEntry, permission_conditions, permissions, sequence_elements

__all__ = [
    "EXPIRY_WARNING",
    "check_expiry",
    "check_negative_types",
    "check_sequences",
    "check_shadowed",
    "lint_checks",
]

EXPIRY_WARNING = timedelta(days=7)


def lint_checks(doc: SourceDoc, policy: CompiledPolicy, *, now: datetime | None = None) -> list[Diagnostic]:
    """Run every lint-only policy check."""
    out = list(check_expiry(doc, policy, now=now))
    out += check_shadowed(doc, policy)
    out += check_sequences(doc, policy)
    out += check_negative_types(doc)
    return out


def check_expiry(
    doc: SourceDoc, policy: CompiledPolicy, *, now: datetime | None = None
) -> Iterator[Diagnostic]:
    """An expired policy is an error (it would refuse every call); one expiring within a week, a warning."""
    if policy.expires is None:
        return
    current = now or datetime.now(timezone.utc)
    when = policy.expires.isoformat()
    path = ("metadata", "expires")
    if policy.expires <= current:
        yield make(doc, "D2E701", f"the policy expired at {when}", path, hint="move metadata.expires forward")
    elif policy.expires - current < EXPIRY_WARNING:
        left = _duration(policy.expires - current)
        yield make(
            doc, "D2W701", f"the policy expires at {when}, in {left}", path, hint="renew it before then"
        )


def check_shadowed(doc: SourceDoc, policy: CompiledPolicy) -> Iterator[Diagnostic]:
    """Warn about a grant every role of whose entry already holds ``*``; output rules still matter."""
    if not policy.wildcard:
        return  # no role holds '*': nothing can be shadowed (skips a walk of every permission)
    for perm in permissions(doc.data):
        if not perm.allow or perm.ref == "*" or not perm.entry.roles:
            continue
        if perm.conditions is not None and "output" in perm.conditions:
            continue  # its output rules apply whenever its input conditions pass, even beside '*'
        if not all(role in policy.wildcard for role in perm.entry.roles):
            continue
        roles = ", ".join(f"'{r}'" for r in perm.entry.roles)
        line = policy.wildcard[perm.entry.roles[0]].location.line
        extra = "; its input conditions restrict nothing" if perm.conditions else ""
        yield make(
            doc,
            "D2W702",
            f"'{perm.ref}' has no effect: role {roles} is granted '*' (line {line}){extra}",
            perm.ref_path,
            hint="delete this grant, or remove '*' from the role",
        )


def check_sequences(doc: SourceDoc, policy: CompiledPolicy) -> Iterator[Diagnostic]:
    """Warn about a sequence element no role may call: the rule containing it can never complete.

    ``*`` counts only for the roles of the entry that declares the rule (roles granted ``*`` are exempt
    from other entries' sequence rules), so a misspelt tool id is caught even when an admin holds ``*``.
    """
    for element in sequence_elements(doc.data):
        if element.ref == "*":
            continue
        if element.ref.startswith("@"):
            tools = policy.tool_groups.get(element.ref[1:], frozenset())
        else:
            tools = frozenset((element.ref,))
        if any(_may_call(policy, tool, element.entry) for tool in tools):
            continue
        what = (
            f"no role may call any tool of '{element.ref}'"
            if element.ref.startswith("@")
            else (f"no role may call '{element.ref}'")
        )
        yield make(
            doc,
            "D2W703",
            f"this {element.kind} rule can never fire: {what}",
            element.path,
            hint="grant the tool to a role, fix the tool id, or delete the rule",
        )


NEGATIVE = ("not_in", "ne", "not_contains")


def check_negative_types(doc: SourceDoc) -> Iterator[Diagnostic]:
    """Warn about a negative operator with no ``type`` beside it.

    Such a rule names what it forbids, not what it expects: at run time a value of a type none of its
    operands has is refused (never compared), which the author should know when writing it.
    """
    for path, conditions in permission_conditions(doc.data):
        for section in ("input", "output"):
            rules = conditions.get(section)
            if not isinstance(rules, dict):
                continue
            for name, rule in rules.items():
                if not isinstance(rule, dict) or "type" in rule:
                    continue
                for op in NEGATIVE:
                    if op in rule:
                        yield make(
                            doc,
                            "D2W707",
                            f"'{op}' on '{name}' has no 'type': a value of another type (a list, bytes, a "
                            "number) is refused at run time, never compared",
                            (*path, "conditions", section, name, op),
                            key=True,
                            hint=f"say what '{name}' is, e.g. 'type: string' beside '{op}'",
                        )


def _may_call(policy: CompiledPolicy, tool: str, entry: RoleEntry) -> bool:
    denied = policy.denies.get(tool, {})
    if any(role in policy.wildcard and role not in denied for role in entry.roles):
        return True
    return any(role not in denied for role in policy.grants.get(tool, {}))


def _duration(delta: timedelta) -> str:
    hours = int(delta.total_seconds() // 3600)
    if hours >= 48:
        return f"{hours // 24} days"
    if hours >= 1:
        return f"{hours} hour{'s' if hours != 1 else ''}"
    return "less than an hour"
