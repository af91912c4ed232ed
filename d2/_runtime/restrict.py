"""Request-scoped narrowing: ``with d2.restrict(...)`` can only ever remove permissions.

A restriction is a small policy fragment in the same language (allowed tools, denied tools, extra
input conditions per tool, extra sequence rules). The engine consults restrictions only after the
policy has allowed a call, so the effective decision is the policy AND every active restriction: a
restriction cannot grant a tool or relax a condition however it is written. Restrictions live in the
request state, so they travel with the request's tasks and threads and end with the ``with`` block.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import TracebackType
from typing import TYPE_CHECKING, Any

from d2._base.diagnostics import Location
from d2._core.model import MissingAttribute, Violation
from d2._engine.decide import missing_attribute
from d2._runtime.context import RequestLog, RequestState, current_state, push_state, reset_state
from d2.exceptions import ConfigurationError, D2NoContextError, Reason

if TYPE_CHECKING:
    from contextvars import Token

    from d2._core.model import CompiledPolicy, InputCheck
    from d2._lang.compile_context import CompileContext

__all__ = ["Restriction", "compile_restriction", "restrict"]

_COUNTER = itertools.count(1)
# The pseudo-role under which a restriction's own sequence rules are compiled and checked.
_ROLES = frozenset({"*restriction*"})


@dataclass(frozen=True, slots=True, eq=False)
class Restriction:
    """A compiled restriction; ``check`` returns a Violation when the call falls outside it."""

    name: str
    tools: frozenset[str] | None
    denied: frozenset[str]
    conditions: Mapping[str, InputCheck]
    sequence: Any = None
    progress: RequestLog = field(default_factory=RequestLog, repr=False)

    def check(self, tool: str, args: Mapping[str, Any], state: RequestState) -> Violation | None:
        where = Location(f"<restriction {self.name}>", 1, 1)
        if self.tools is not None and tool not in self.tools:
            return Violation(
                Reason.RESTRICTION,
                tool,
                "tools",
                where,
                f"restriction '{self.name}' does not include this tool",
            )
        if tool in self.denied:
            return Violation(
                Reason.RESTRICTION, tool, "deny", where, f"restriction '{self.name}' denies this tool"
            )
        cond = self.conditions.get(tool)
        if cond is not None:
            try:
                violation = cond.check(args, state)
            except MissingAttribute as exc:
                violation = missing_attribute(exc)
            if violation is not None:
                reason = (
                    violation.reason if violation.reason == Reason.MISSING_ATTRIBUTE else Reason.RESTRICTION
                )
                return replace(
                    violation, reason=reason, message=f"restriction '{self.name}': {violation.message}"
                )
        if self.sequence is not None:
            with self.progress.lock:
                found: Violation | None = self.sequence.check(self.progress, tool, _ROLES)
            if found is not None:
                return replace(
                    found, reason=Reason.RESTRICTION, message=f"restriction '{self.name}': {found.message}"
                )
        return None

    def record(self, tool: str) -> None:
        """Advance this restriction's own sequence progress once the call is allowed."""
        if self.sequence is not None:
            log = self.progress
            with log.lock:
                self.sequence.record(log, tool)
                log.last_tool = tool


def compile_restriction(
    fragment: Mapping[str, Any], policy: CompiledPolicy | None, *, name: str
) -> Restriction:
    """Validate and compile a fragment with the policy's validator; errors name a path into the fragment."""
    from d2._lang.compile_context import CompileContext
    from d2._lang.schema import schema_diagnostics
    from d2._lang.source import SourceDoc

    doc = SourceDoc(file=f"<restriction {name}>", data=_plain(fragment))
    ctx = CompileContext(doc)
    ctx.diagnostics.extend(schema_diagnostics(doc, "restriction.schema.json"))
    if policy is not None:
        ctx.tool_groups.update(policy.tool_groups)
    data = doc.data if isinstance(doc.data, dict) else {}
    tools = _tool_set(data.get("tools"), ("tools",), ctx)
    denied = _tool_set(data.get("deny"), ("deny",), ctx) or frozenset()
    conditions = _conditions(data.get("conditions"), ctx)
    if ctx.label_refs:
        from d2._lang.origin_ops import check_label_refs

        flow = policy.flow if policy is not None else None
        check_label_refs(ctx, flow.untrusted if flow is not None else frozenset(), origin="loaded policy")
    sequence = _sequence(data.get("sequence"), ctx)
    errors = [d for d in ctx.diagnostics if d.is_error]
    if errors:
        lines = "\n  ".join(
            f"{_dotted(d.path)}: {d.message}" + (f" ({d.hint})" if d.hint else "") for d in errors
        )
        raise ConfigurationError(f"invalid restriction '{name}':\n  {lines}")
    return Restriction(name, tools, denied, conditions, sequence)


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(v) for v in value]
    return value


def _dotted(path: tuple[str | int, ...]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "<restriction>"


def _tool_set(node: Any, path: tuple[str | int, ...], ctx: CompileContext) -> frozenset[str] | None:
    if not isinstance(node, list):
        return None
    tools: set[str] = set()
    for i, ref in enumerate(node):
        if not isinstance(ref, str):
            continue
        if ref == "*":
            ctx.error(
                "D2E801",
                "'*' is not allowed in a restriction",
                (*path, i),
                hint="a restriction only narrows; list the tools the request may use",
            )
            continue
        members = ctx.expand(ref, (*path, i))
        if members is not None:
            tools |= members
    return frozenset(tools)


def _conditions(node: Any, ctx: CompileContext) -> dict[str, InputCheck]:
    from d2._lang.sections import compile_input_conditions

    out: dict[str, InputCheck] = {}
    if not isinstance(node, dict):
        return out
    for ref, cond in node.items():
        if not isinstance(cond, dict) or "input" not in cond:
            continue
        members = ctx.expand(ref, ("conditions", ref))
        check = compile_input_conditions(cond["input"], ("conditions", ref, "input"), ctx)
        if members is not None and check is not None:
            for tool in members:
                out[tool] = check
    return out


def _sequence(node: Any, ctx: CompileContext) -> Any:
    if node is None:
        return None
    from d2._lang.sections import compile_sequences

    return compile_sequences([(tuple(_ROLES), node, ("sequence",))], ctx)


class _RestrictScope:
    def __init__(self, restriction: Restriction) -> None:
        self.restriction = restriction
        self._token: Token[RequestState | None] | None = None

    def __enter__(self) -> Restriction:
        state = current_state()
        if state is None:
            raise D2NoContextError("d2.restrict() needs a user context; set the user first")
        self._token = push_state(replace(state, restrictions=(*state.restrictions, self.restriction)))
        return self.restriction

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._token is not None:
            reset_state(self._token)
            self._token = None

    async def __aenter__(self) -> Restriction:
        return self.__enter__()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.__exit__(exc_type, exc, tb)


def restrict(
    fragment: Mapping[str, Any] | None = None,
    *,
    tools: list[str] | None = None,
    deny: list[str] | None = None,
    conditions: Mapping[str, Any] | None = None,
    sequence: Any = None,
    name: str | None = None,
    instance_name: str = "default",
) -> _RestrictScope:
    """Narrow what the current request may do for the duration of a ``with`` block.

    Pass a fragment mapping (``{"tools": [...], "deny": [...], "conditions": {tool: {"input": {...}}},
    "sequence": [...]}``) or the same parts as keywords. Nested restrictions all apply.
    """
    from d2._sources.manager import get_policy_manager

    parts: dict[str, Any] = dict(fragment or {})
    for key, value in (("tools", tools), ("deny", deny), ("conditions", conditions), ("sequence", sequence)):
        if value is not None:
            parts[key] = value
    label = name or f"restriction-{next(_COUNTER)}"
    policy = get_policy_manager(instance_name).policy
    return _RestrictScope(compile_restriction(parts, policy, name=label))
