"""Sequence rules: forbidden (or, in deny mode, permitted) orders of tool calls.

A role entry's ``sequence`` is a list of rules (allow mode) or ``{mode: allow|deny, rules: [...]}``;
each rule is ``{deny: [...]}`` or ``{allow: [...]}`` over tool ids and ``@groups``, with an optional
``reason``. Rules of several entries of one role add up. This module validates them and builds the
:class:`~d2._lang.seqprogram.SequenceProgram` the engine runs; see docs/sequences.md for the semantics.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from d2._base.diagnostics import Location
from d2._base.suggest import suggest
from d2._lang.seqprogram import RoleRules, SeqRule, SequenceProgram, Workflow
from d2._lang.seqrefs import error_once, known_tools, resolve_ref
from d2._lang.source import JsonPath

if TYPE_CHECKING:
    from d2._lang.compile_context import CompileContext

__all__ = ["compile_sequences"]

MODES = ("allow", "deny")
KINDS = ("deny", "allow")
Entry = tuple[tuple[str, ...], Any, JsonPath]


def compile_sequences(entries: list[Entry], ctx: CompileContext) -> SequenceProgram | None:
    """Compile every role entry's ``sequence`` into one program (None when no rule binds anyone)."""
    builder = _Builder(ctx, known_tools(ctx))
    for roles, node, path in entries:
        builder.add_entry(roles, node, path)
    return builder.build()


@dataclass
class _RoleAcc:
    """What the entries of one role declared so far."""

    location: Location
    mode: str = "allow"
    mode_path: JsonPath | None = None
    denies: list[int] = field(default_factory=list)
    allows: list[int] = field(default_factory=list)


class _Builder:
    def __init__(self, ctx: CompileContext, known: frozenset[str]) -> None:
        self.ctx = ctx
        self.known = known
        self.rules: list[SeqRule] = []
        self.roles: dict[str, _RoleAcc] = {}

    def add_entry(self, roles: tuple[str, ...], node: Any, path: JsonPath) -> None:
        mode, rules, rules_path = self._split(node, path)
        if rules is None:
            return
        compiled = [
            rule
            for i, raw in enumerate(rules)
            if (rule := self._rule(raw, (*rules_path, i), frozenset(roles))) is not None
        ]
        for role in roles:
            acc = self.roles.setdefault(role, _RoleAcc(self.ctx.loc(path)))
            if mode is not None:
                self._set_mode(role, acc, mode, (*path, "mode"))
            for rule in compiled:
                (acc.denies if rule.kind == "deny" else acc.allows).append(rule.index)

    def _split(self, node: Any, path: JsonPath) -> tuple[str | None, list[Any] | None, JsonPath]:
        """Return (explicit mode or None, rules, path of the rules) of a ``sequence`` value."""
        if isinstance(node, list):
            return None, node, path
        if not isinstance(node, dict):
            error_once(self.ctx, "D2E003", "'sequence' must be a list of rules or {mode, rules}", path)
            return None, None, path
        mode = node.get("mode")
        if mode is not None and mode not in MODES:
            guess = suggest(str(mode), MODES)
            error_once(
                self.ctx,
                "D2E203",
                f"unknown sequence mode {mode!r}",
                (*path, "mode"),
                hint=f"did you mean '{guess}'?" if guess else "use 'allow' (the default) or 'deny'",
            )
            mode = None  # keep compiling the rules, so every error is reported at once
        rules = node.get("rules")
        if not isinstance(rules, list):
            error_once(self.ctx, "D2E004", "a sequence block needs a 'rules' list", path)
            return None, None, path
        return mode, rules, (*path, "rules")

    def _set_mode(self, role: str, acc: _RoleAcc, mode: str, path: JsonPath) -> None:
        if acc.mode_path is not None and acc.mode != mode:
            first = self.ctx.loc(acc.mode_path)
            self.ctx.warning(
                "D2W201",
                f"role '{role}' declares sequence mode '{mode}' here and '{acc.mode}' at line {first.line}; "
                "deny mode applies",
                path,
                hint="declare one mode per role",
            )
        if acc.mode_path is None or (mode == "deny" and acc.mode != "deny"):
            acc.mode, acc.mode_path = mode, path
            acc.location = self.ctx.loc(path, key=True)

    def _rule(self, raw: Any, path: JsonPath, roles: frozenset[str]) -> SeqRule | None:
        if not isinstance(raw, dict):
            error_once(self.ctx, "D2E003", "a sequence rule must be a mapping like {deny: [a, b]}", path)
            return None
        kinds = [k for k in KINDS if k in raw]
        if len(kinds) != 1:
            self.ctx.error(
                "D2E201",
                "a sequence rule needs exactly one of 'deny' or 'allow'"
                + (", not both" if len(kinds) > 1 else ""),
                path,
                hint="write {deny: [a, b], reason: ...} or {allow: [a, b]}",
            )
            return None
        kind = kinds[0]
        steps = self._steps(raw[kind], (*path, kind))
        if steps is None:
            return None
        refs, sets = steps
        reason = raw.get("reason")
        rule = SeqRule(
            index=len(self.rules),
            kind=kind,
            steps=sets,
            refs=refs,
            reason=reason if isinstance(reason, str) and reason else None,
            location=self.ctx.loc(path),
            roles=roles,
            last=len(sets) - 1,
        )
        self.rules.append(rule)
        return rule

    def _steps(
        self, pattern: Any, path: JsonPath
    ) -> tuple[tuple[str, ...], tuple[frozenset[str], ...]] | None:
        if not isinstance(pattern, list):
            error_once(self.ctx, "D2E003", "a sequence pattern must be a list of tools or @groups", path)
            return None
        if not pattern:
            error_once(
                self.ctx,
                "D2E202",
                "a sequence pattern must not be empty",
                path,
                hint="list the tools in call order, e.g. [database.read, web.http_post]",
            )
            return None
        refs: list[str] = []
        sets: list[frozenset[str]] = []
        ok = True
        for i, ref in enumerate(pattern):
            members = self._step(ref, (*path, i))
            if members is None:
                ok = False
                continue
            refs.append(ref)
            sets.append(members)
        return (tuple(refs), tuple(sets)) if ok else None

    def _step(self, ref: Any, path: JsonPath) -> frozenset[str] | None:
        if not isinstance(ref, str) or not ref:
            error_once(self.ctx, "D2E003", "a pattern step must be a tool id or @group", path)
            return None
        if ref == "*":
            self.ctx.error(
                "D2E204",
                "'*' cannot be a step of a sequence pattern",
                path,
                hint="name the tools, or declare a @group of them under metadata.tool_groups",
            )
            return None
        return resolve_ref(
            self.ctx, ref, path, known=self.known, typo_code="D2W202", where="sequence pattern"
        )

    def build(self) -> SequenceProgram | None:
        role_rules: dict[str, RoleRules] = {}
        workflows: dict[str, Workflow] = {}
        for role, acc in sorted(self.roles.items()):
            if acc.mode == "allow" and not acc.denies:
                continue  # allow patterns alone override nothing: this role is bound by no rule
            role_rules[role] = RoleRules(acc.mode, tuple(acc.denies), tuple(acc.allows), acc.location)
            if acc.mode == "deny":
                if not acc.allows and acc.mode_path is not None:
                    self.ctx.warning(
                        "D2W203",
                        f"role '{role}' uses sequence mode deny without allow patterns: "
                        "every guarded call it makes is refused",
                        acc.mode_path,
                        hint="add {allow: [first.tool, next.tool]} workflow steps, or use mode allow",
                    )
                workflows[role] = _workflow(role, [self.rules[i] for i in acc.allows], acc.location)
        if not role_rules:
            return None
        return SequenceProgram(tuple(self.rules), role_rules, workflows)


def _workflow(role: str, rules: list[SeqRule], location: Location) -> Workflow:
    """Build the allowed-steps graph of a deny-mode role from its allow patterns."""
    starts = tuple(dict.fromkeys(rule.steps[0] for rule in rules))
    anywhere = frozenset().union(*(rule.steps[0] for rule in rules if rule.last == 0))
    edges: dict[str, dict[frozenset[str], None]] = {}
    for rule in rules:
        for i in range(rule.last):
            for tool in rule.steps[i]:
                edges.setdefault(tool, {})[rule.steps[i + 1]] = None
    frozen: Mapping[str, tuple[frozenset[str], ...]] = {t: tuple(nxt) for t, nxt in edges.items()}
    return Workflow((role,), tuple(rules), starts, anywhere, frozen, location)
