"""Validate and compile a parsed policy in one pass: the only path from text to a CompiledPolicy.

The loader, ``d2 lint``, ``d2 test`` and the control plane all call :func:`compile_policy`. It runs the
JSON Schema (shape), then the semantic checks while building the lookup tables, so what lint reports
is exactly what would stop the policy from loading. Each policy section (conditions, sequences, data
flow) plugs in through a compiler function that receives the same :class:`CompileContext`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from d2._base.diagnostics import Diagnostic
from d2._base.gcpause import paused_gc
from d2._core.model import CompiledPolicy, ExplicitDeny, Grant
from d2._lang.compile_context import CompileContext
from d2._lang.schema import schema_diagnostics
from d2._lang.source import JsonPath, SourceDoc

__all__ = ["CompileContext", "CompileResult", "compile_policy", "parse_expiry"]


@dataclass(frozen=True, slots=True)
class CompileResult:
    """A compiled policy (None when any error was found) and every diagnostic, sorted by position."""

    policy: CompiledPolicy | None
    diagnostics: tuple[Diagnostic, ...]

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.is_error)

    @property
    def warnings(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if not d.is_error)


SectionCompiler = Callable[[Any, JsonPath, CompileContext], Any]


def compile_policy(doc: SourceDoc) -> CompileResult:
    """Check ``doc`` completely and build its CompiledPolicy; every problem is reported, none hidden."""
    with paused_gc():
        return _compile(doc)


def _compile(doc: SourceDoc) -> CompileResult:
    ctx = CompileContext(doc)
    ctx.diagnostics.extend(schema_diagnostics(doc))
    data = doc.data if isinstance(doc.data, dict) else {}
    meta: dict[str, Any] = data["metadata"] if isinstance(data.get("metadata"), dict) else {}
    expires = _compile_expiry(meta, ctx)
    _compile_groups(meta, ctx)
    entries_key = _role_list_key(data, ctx)
    builder = _RoleBuilder(ctx)
    entries = data.get(entries_key) if entries_key else None
    if entries_key and isinstance(entries, list):
        for i, entry in enumerate(entries):
            if isinstance(entry, dict):
                builder.add_entry(entry, (entries_key, i))
    sequence = _compile_sequences(builder.sequence_entries, ctx)
    flow = _compile_flow(meta.get("data_flow"), ctx)
    if ctx.label_refs:
        from d2._lang.origin_ops import check_label_refs

        check_label_refs(ctx, flow.untrusted if flow is not None else frozenset())
    _warn_unused_groups(ctx)
    diagnostics = tuple(sorted(ctx.diagnostics, key=lambda d: (d.file, d.line, d.col, d.code)))
    if ctx.has_errors:
        return CompileResult(None, diagnostics)
    policy = CompiledPolicy(
        source=doc.file,
        version=_content_version(data),
        name=meta.get("name") if isinstance(meta.get("name"), str) else None,
        description=meta.get("description") if isinstance(meta.get("description"), str) else None,
        expires=expires,
        tool_groups=dict(ctx.tool_groups),
        roles=frozenset(builder.roles),
        grants={t: {r: tuple(gs) for r, gs in by_role.items()} for t, by_role in builder.grants.items()},
        denies={t: dict(by_role) for t, by_role in builder.denies.items()},
        wildcard=dict(builder.wildcard),
        known_tools=frozenset(builder.grants) | frozenset(builder.denies) | _group_members(ctx),
        raw=data,
        sequence=sequence,
        flow=flow,
    )
    return CompileResult(policy, diagnostics)


def parse_expiry(value: str) -> datetime | None:
    """Parse an ISO 8601 expiry; a date alone means midnight UTC, a naive time is UTC."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed


def _compile_expiry(meta: Mapping[str, Any], ctx: CompileContext) -> datetime | None:
    raw = meta.get("expires")
    if not isinstance(raw, str):
        return None
    parsed = parse_expiry(raw)
    if parsed is None:
        ctx.error(
            "D2E006",
            f"'metadata.expires' is not an ISO 8601 date-time: {raw!r}",
            ("metadata", "expires"),
            hint="write e.g. 2026-12-31T00:00:00Z",
        )
    return parsed


def _compile_groups(meta: Mapping[str, Any], ctx: CompileContext) -> None:
    groups = meta.get("tool_groups")
    if not isinstance(groups, dict):
        return
    for name, members in groups.items():
        path: JsonPath = ("metadata", "tool_groups", name)
        if not isinstance(members, list):
            continue
        tools: set[str] = set()
        for i, member in enumerate(members):
            if not isinstance(member, str):
                continue
            if member.startswith("@") or member == "*":
                ctx.error(
                    "D2E011",
                    f"tool group '{name}' may list only tool ids, not '{member}'",
                    (*path, i),
                    hint="list the member tools directly; groups do not nest",
                )
            elif member in tools:
                ctx.warning("D2W005", f"tool '{member}' is listed twice in group '{name}'", (*path, i))
            tools.add(member)
        ctx.tool_groups[name] = frozenset(tools)


def _role_list_key(data: Mapping[str, Any], ctx: CompileContext) -> str | None:
    if "policies" in data and "roles" in data:
        ctx.error(
            "D2E007",
            "the policy has both 'policies' and 'roles'",
            ("roles",),
            key=True,
            hint="use one of them ('policies' is canonical)",
        )
        return None
    if "policies" in data:
        return "policies"
    if "roles" in data:
        return "roles"
    if isinstance(ctx.doc.data, dict):
        ctx.error(
            "D2E004",
            "the policy has no 'policies' list",
            (),
            hint="add 'policies:' with at least one role entry",
        )
    return None


class _RoleBuilder:
    """Merge role entries into per-tool grant tables; several entries for one role add up."""

    def __init__(self, ctx: CompileContext) -> None:
        self.ctx = ctx
        self.roles: set[str] = set()
        self.grants: dict[str, dict[str, list[Grant]]] = {}
        self.denies: dict[str, dict[str, ExplicitDeny]] = {}
        self.wildcard: dict[str, Grant] = {}
        self.sequence_entries: list[tuple[tuple[str, ...], Any, JsonPath]] = []
        self._seen: dict[tuple[str, str], JsonPath] = {}

    def add_entry(self, entry: Mapping[str, Any], path: JsonPath) -> None:
        roles = self._entry_roles(entry, path)
        if not roles:
            return
        self.roles.update(roles)
        perms = entry.get("permissions")
        if isinstance(perms, list):
            base = (*path, "permissions")
            for i, perm in enumerate(perms):
                self._add_permission(roles, perm, (*base, i))
        if "sequence" in entry:
            self.sequence_entries.append((roles, entry["sequence"], (*path, "sequence")))

    def _entry_roles(self, entry: Mapping[str, Any], path: JsonPath) -> tuple[str, ...]:
        if "role" in entry and "roles" in entry:
            self.ctx.error(
                "D2E008",
                "a role entry has both 'role' and 'roles'",
                (*path, "roles"),
                key=True,
                hint="use one of them",
            )
            return ()
        raw = entry.get("role", entry.get("roles"))
        if raw is None:
            self.ctx.error(
                "D2E004", "role entry names no role", path, hint="add 'role: NAME' or 'roles: [A, B]'"
            )
            return ()
        names = [raw] if isinstance(raw, str) else raw if isinstance(raw, list) else []
        return tuple(dict.fromkeys(n for n in names if isinstance(n, str) and n))

    def _add_permission(self, roles: tuple[str, ...], perm: Any, path: JsonPath) -> None:
        if isinstance(perm, str):
            self._grant(roles, perm, True, None, path, path)
        elif isinstance(perm, dict) and isinstance(perm.get("tool"), str):
            allow = perm.get("allow", True)
            self._grant(
                roles, perm["tool"], allow is not False, perm.get("conditions"), path, (*path, "tool")
            )

    def _grant(
        self,
        roles: tuple[str, ...],
        ref: str,
        allow: bool,
        conditions: Any,
        path: JsonPath,
        ref_path: JsonPath,
    ) -> None:
        ctx = self.ctx
        loc = ctx.loc(path)
        if ref == "*":
            if conditions is not None:
                ctx.error(
                    "D2E012",
                    "'*' cannot carry conditions",
                    (*path, "conditions"),
                    key=True,
                    hint="grant the tools by name or @group to attach conditions",
                )
            for role in roles:
                if allow:
                    self.wildcard.setdefault(role, Grant("*", role, loc))
                else:
                    ctx.error(
                        "D2E012",
                        "'allow: false' on '*' would deny everything",
                        path,
                        hint="remove the role's grants instead",
                    )
            return
        if not ref.startswith("@") and ("*" in ref or "?" in ref):
            ctx.warning(
                "D2W006",
                f"'{ref}' is a literal tool id, not a pattern: only '*' on its own is a wildcard",
                ref_path,
                hint="list the tools, or name a @group of them under metadata.tool_groups",
            )
        tools = ctx.expand(ref, ref_path)
        if tools is None:
            return
        input_check = output_rules = None
        if conditions is not None:
            input_check, output_rules = _compile_conditions(conditions, (*path, "conditions"), ctx, allow)
        via = ref if ref.startswith("@") else None
        ordered = sorted(tools) if len(tools) > 1 else tools
        grants = self.grants
        for role in roles:
            for tool in ordered:
                if allow:
                    # Only a grant can repeat a grant: a deny is never a duplicate (deleting it, as the
                    # D2W004 fix says, would give the tool back).
                    self._check_duplicate(role, tool, ref, path)
                    grant = Grant(tool, role, loc, input_check, output_rules, via)
                    by_role = grants.get(tool)
                    if by_role is None:
                        grants[tool] = {role: [grant]}
                    elif role in by_role:
                        by_role[role].append(grant)
                    else:
                        by_role[role] = [grant]
                else:
                    self.denies.setdefault(tool, {}).setdefault(role, ExplicitDeny(tool, role, loc))

    def _check_duplicate(self, role: str, tool: str, ref: str, path: JsonPath) -> None:
        key = (role, tool)
        first = self._seen.get(key)
        if first is None:
            self._seen[key] = path
            return
        if not ref.startswith("@"):
            where = self.ctx.loc(first)
            self.ctx.warning(
                "D2W004", f"role '{role}' is granted '{tool}' again (first at line {where.line})", path
            )


def _compile_conditions(node: Any, path: JsonPath, ctx: CompileContext, allow: bool) -> tuple[Any, Any]:
    if not isinstance(node, dict):
        return None, None
    if not allow and node:
        ctx.error(
            "D2E013",
            "an 'allow: false' entry cannot carry conditions",
            path,
            key=True,
            hint="a deny is unconditional; remove 'conditions' or make it an allow",
        )
        return None, None
    from d2._lang.sections import compile_input_conditions, compile_output_rules

    input_check = compile_input_conditions(node["input"], (*path, "input"), ctx) if "input" in node else None
    output_rules = compile_output_rules(node["output"], (*path, "output"), ctx) if "output" in node else None
    return input_check, output_rules


def _compile_sequences(entries: list[tuple[tuple[str, ...], Any, JsonPath]], ctx: CompileContext) -> Any:
    if not entries:
        return None
    from d2._lang.sections import compile_sequences

    return compile_sequences(entries, ctx)


def _compile_flow(node: Any, ctx: CompileContext) -> Any:
    if node is None:
        return None
    from d2._lang.sections import compile_data_flow

    return compile_data_flow(node, ("metadata", "data_flow"), ctx)


def _warn_unused_groups(ctx: CompileContext) -> None:
    for name in sorted(set(ctx.tool_groups) - ctx.used_groups):
        ctx.warning(
            "D2W002", f"tool group '{name}' is never used", ("metadata", "tool_groups", name), key=True
        )


def _group_members(ctx: CompileContext) -> frozenset[str]:
    out: set[str] = set()
    for members in ctx.tool_groups.values():
        out |= members
    return frozenset(out)


def _content_version(data: Any) -> str:
    # Parsed policy data is a tree (aliases are copied out), so the encoder's cycle check is skipped.
    canonical = json.dumps(
        data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, check_circular=False
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]
