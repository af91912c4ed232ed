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
from dataclasses import dataclass, field, fields, replace
from types import TracebackType
from typing import TYPE_CHECKING, Any

from d2._base.diagnostics import Location
from d2._base.suggest import suggest
from d2._core.model import MissingAttribute, Violation
from d2._engine.decide import missing_attribute
from d2._runtime.context import RequestLog, RequestState, current_state, push_state, reset_state
from d2._runtime.restrict_live import LiveRestriction, progress_for
from d2._sources.manager import get_policy_manager
from d2.exceptions import ConfigurationError, D2NoContextError, Reason

if TYPE_CHECKING:
    from contextvars import Token

    from d2._core.model import CompiledPolicy, InputCheck
    from d2._lang.compile_context import CompileContext
    from d2._runtime.restrict_live import LiveRestriction

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
        if self.tools is not None and tool not in self.tools:
            return Violation(
                Reason.RESTRICTION,
                tool,
                "tools",
                self._here(),
                f"restriction '{self.name}' does not include this tool",
            )
        if tool in self.denied:
            return Violation(
                Reason.RESTRICTION, tool, "deny", self._here(), f"restriction '{self.name}' denies this tool"
            )
        cond = self.conditions.get(tool)
        if cond is not None:
            if not args.keys() >= cond.params:
                # A condition that cannot apply must not pass: refuse, naming the typo.
                unknown = sorted(cond.params - args.keys())
                return Violation(
                    Reason.RESTRICTION,
                    unknown[0],
                    "parameter",
                    self._here(),
                    self._no_such(tool, unknown, args),
                )
            try:
                violation = cond.check(args, state)
            except MissingAttribute as exc:
                violation = missing_attribute(exc)
            if violation is not None:
                reason = (
                    violation.reason if violation.reason == Reason.MISSING_ATTRIBUTE else Reason.RESTRICTION
                )
                return replace(
                    violation,
                    reason=reason,
                    message=f"restriction '{self.name}': {violation.message}",
                    location=self._here(violation.location),
                )
        if self.sequence is not None:
            with self.progress.lock:
                found: Violation | None = self.sequence.check(self.progress, tool, _ROLES)
            if found is not None:
                return replace(
                    found,
                    reason=Reason.RESTRICTION,
                    message=f"restriction '{self.name}': {found.message}",
                    location=self._here(found.location),
                )
        return None

    def _here(self, where: Location | None = None) -> Location:
        """Name this restriction in a rule location (compiled parts are shared by equal fragments)."""
        return Location(f"<restriction {self.name}>", where.line if where else 1, where.col if where else 1)

    def _no_such(self, tool: str, unknown: list[str], args: Mapping[str, Any]) -> str:
        names = [n for n in args if isinstance(n, str)]
        hints = [f"'{n}' (did you mean '{g}'?)" if (g := suggest(n, names)) else f"'{n}'" for n in unknown]
        return (
            f"restriction '{self.name}' has a condition on parameter {', '.join(hints)}, which tool "
            f"'{tool}' does not have (it has {', '.join(repr(n) for n in names) or 'no parameters'}); "
            "the call is refused rather than let through unchecked"
        )

    def record(self, tool: str) -> None:
        """Advance this restriction's own sequence progress once the call is allowed."""
        if self.sequence is not None:
            log = self.progress
            with log.lock:
                log.history.append(tool)  # so progress can be rebuilt after a recompile (reload)
                log.calls += 1
                self.sequence.record(log, tool)
                log.last_tool = tool


# Compiled parts of recent small fragments, keyed by (policy content version, fragment repr): a
# request handler that restricts every request the same way compiles its fragment once. Only
# successful compilations of plain-JSON fragments are kept (so equal reprs mean equal fragments);
# each use still gets a fresh Restriction with its own name and sequence progress.
_COMPILED: dict[tuple[str | None, str], tuple[Any, ...]] = {}
_COMPILED_LIMIT = 256
_CACHEABLE_REPR = 4096
_CACHEABLE_NODES = 256


def compile_restriction(
    fragment: Mapping[str, Any], policy: CompiledPolicy | None, *, name: str
) -> Restriction:
    """Validate and compile a fragment with the policy's validator; errors name a path into the fragment."""
    version = policy.version if policy is not None else None
    key = None
    text = _plain_repr(fragment)  # the usual fragment: exact JSON types, looked up without a copy
    if text is not None:
        key = (version, text)
        parts = _COMPILED.get(key)
        if parts is not None:
            return _from_parts(name, parts)
    from d2._lang.fastschema import json_only

    data = _plain(fragment)
    if key is None and _small(data) and json_only(data):
        text = repr(data)
        if len(text) <= _CACHEABLE_REPR:
            key = (version, text)
            parts = _COMPILED.get(key)
            if parts is not None:
                return _from_parts(name, parts)
    restriction = _compile(data, policy, name)
    if key is not None:
        if len(_COMPILED) >= _COMPILED_LIMIT:
            _COMPILED.clear()
            _FITTED.clear()
        _COMPILED[key] = (restriction.tools, restriction.denied, restriction.conditions, restriction.sequence)
    return restriction


def _from_parts(name: str, parts: tuple[Any, ...]) -> Restriction:
    """A fresh Restriction (its own name and sequence progress) around cached compiled parts."""
    tools, denied, conditions, sequence = parts
    return Restriction(name, tools, denied, conditions, sequence, progress_for(sequence))


_EXACT_SCALARS = frozenset({str, int, float, bool, type(None)})


def _plain_repr(data: Any) -> str | None:
    """``repr(data)`` when ``data`` is small and built of exact JSON types alone; None otherwise.

    Exact ``dict`` (``str`` keys), ``list``, ``str``, ``int``, ``float``, ``bool`` and ``None`` have
    reprs that tell every value apart (``True`` from ``1``, ``1`` from ``1.0``), so equal texts mean
    equal fragments and :func:`_plain` would return an equal copy: the cache key needs no copy.
    """
    budget = _CACHEABLE_NODES
    stack = [data]
    scalars = _EXACT_SCALARS
    while stack:
        item = stack.pop()
        kind = item.__class__
        if kind is dict:
            budget -= len(item)
            if budget < 0:
                return None
            for key, child in item.items():
                if key.__class__ is not str:
                    return None
                if child.__class__ not in scalars:
                    stack.append(child)
        elif kind is list:
            budget -= len(item)
            if budget < 0:
                return None
            for child in item:
                if child.__class__ not in scalars:
                    stack.append(child)
        elif kind not in scalars:
            return None
    text = repr(data)
    return text if len(text) <= _CACHEABLE_REPR else None


def _small(data: Any, budget: int = _CACHEABLE_NODES) -> bool:
    """True when ``data`` has at most ``budget`` values (counting stops there, so long lists cost nothing)."""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, (dict, list)):
            budget -= len(item)
            if budget < 0:
                return False
            stack.extend(item.values() if isinstance(item, dict) else item)
    return True


def _compile(data: Any, policy: CompiledPolicy | None, name: str) -> Restriction:
    from d2._lang.compile_context import CompileContext
    from d2._lang.schema import schema_diagnostics
    from d2._lang.source import SourceDoc

    doc = SourceDoc(file=f"<restriction {name}>", data=data)
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
    return Restriction(name, tools, denied, conditions, sequence, progress_for(sequence))


_LEAVES = frozenset({str, int, float, bool, type(None)})


def _plain(value: Any) -> Any:
    kind = type(value)
    if kind in _LEAVES:
        return value
    if kind is dict or isinstance(value, Mapping):
        return {k if type(k) is str else str(k): _plain(v) for k, v in value.items()}
    if kind is list or isinstance(value, (list, tuple, set, frozenset)):
        if set(map(type, value)) <= _LEAVES:  # a list of plain values (say 10,000 ids): copy it in C
            return list(value)
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


# RequestState has exactly these fields, so the scope can build the narrowed state directly.
_PLAIN_STATE = tuple(f.name for f in fields(RequestState)) == ("user", "log", "restrictions")


class _RestrictScope:
    def __init__(self, restriction: LiveRestriction) -> None:
        self.restriction = restriction
        self._token: Token[RequestState | None] | None = None

    def __enter__(self) -> LiveRestriction:
        state = current_state()
        if state is None:
            raise D2NoContextError("d2.restrict() needs a user context; set the user first")
        active = self.restriction.entered()
        restrictions = (*state.restrictions, active)
        if _PLAIN_STATE and state.__class__ is RequestState:  # replace() inspects fields: ~1 µs more
            self._token = push_state(RequestState(state.user, state.log, restrictions))
        else:
            self._token = push_state(replace(state, restrictions=restrictions))
        return active

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._token is not None:
            reset_state(self._token)
            self._token = None

    async def __aenter__(self) -> LiveRestriction:
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
    parts: dict[str, Any] = dict(fragment) if fragment else {}
    if tools is not None:
        parts["tools"] = tools
    if deny is not None:
        parts["deny"] = deny
    if conditions is not None:
        parts["conditions"] = conditions
    if sequence is not None:
        parts["sequence"] = sequence
    label = name or f"restriction-{next(_COUNTER)}"
    manager = get_policy_manager(instance_name)
    first = compile_restriction(parts, manager.policy, name=label)  # errors surface here, at once
    _check_parameters(first, manager)
    return _RestrictScope(LiveRestriction(parts, manager, first, compile_restriction))


# Fragments already checked against a manager's guards: (manager, conditions, the guards then).
# Compiled conditions are shared by equal fragments (see _COMPILED), so a handler restricting every
# request the same way checks its guards once, until a guard is added or collected.
_FITTED: dict[tuple[int, int], tuple[Any, Any, frozenset[Any]]] = {}


def _check_parameters(restriction: Restriction, manager: Any) -> None:
    """Reject, at creation, a condition naming a parameter an already guarded tool does not have."""
    if not restriction.conditions:
        return
    guards = manager._guards
    # WeakSet keeps its weak references in ``data``: a set compare tells whether any guard changed.
    members = getattr(guards, "data", None)
    key = (id(manager), id(restriction.conditions))
    seen = _FITTED.get(key)
    if (
        seen is not None
        and members is not None
        and seen[0] is manager
        and seen[1] is restriction.conditions
        and members == seen[2]
    ):
        return
    snapshot = frozenset(members) if members is not None else None
    _check_guards(restriction, guards)
    # Remember only conditions the compile cache shares (a one-off fragment is never met again).
    if snapshot is not None and _shared(restriction.conditions):
        if len(_FITTED) >= _COMPILED_LIMIT:
            _FITTED.clear()
        _FITTED[key] = (manager, restriction.conditions, snapshot)


def _shared(conditions: Mapping[str, Any]) -> bool:
    """True when ``conditions`` came from the compile cache (at most 256 entries, read on a miss only)."""
    return any(parts[2] is conditions for parts in list(_COMPILED.values()))


def _check_guards(restriction: Restriction, guards: Any) -> None:
    import inspect

    problems: list[str] = []
    for guard in list(guards):
        cond = restriction.conditions.get(guard.tool)
        if cond is None:
            continue
        try:
            params = guard.signature().parameters
        except (TypeError, ValueError):
            continue
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
            continue
        for name in sorted(cond.params - params.keys()):
            guess = suggest(name, params)
            hint = f" (did you mean '{guess}'?)" if guess else ""
            problems.append(
                f"conditions.{guard.tool}.input.{name}: tool '{guard.tool}' has no parameter '{name}'{hint}; "
                f"its parameters: {', '.join(params) or 'none'}"
            )
    if problems:
        raise ConfigurationError(f"invalid restriction '{restriction.name}':\n  " + "\n  ".join(problems))
