"""Output rules: validate a tool's result, sanitize a copy of it, then check the global rules.

Order, as the semantics fix it: validation rules (no ``action``) first, on the tool's value; then the
actions (``deny``, ``filter``, ``redact``, ``truncate``, in that order at each field); then the global
rules (``require_fields_absent``, ``deny_if_patterns``, ``max_bytes``) on the sanitized value. The tool's
object is never mutated: the caller gets a copy of whatever changed, sharing the rest.

In an action rule the operators are conditions (the action fires on a value that fails one; with no
condition it always fires), except ``matches``, which names the text the action is about: the action
fires where the pattern is found, and ``redact`` replaces only the matched text.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from d2._base.diagnostics import Location
from d2._core.model import Violation
from d2._lang.constraint import compile_constraint, report
from d2._lang.inspection import Opaque
from d2._lang.operators import OPERATORS, OperandError, prepare_pattern, show_pattern
from d2._lang.output_actions import ACTION_ORDER, action_rule, validation_rule
from d2._lang.paths import PathError, PathNode, Presence, Stop, parse_path, visit
from d2._lang.regex import Regex, RegexError, compile_regex
from d2._lang.values import byte_size, texts
from d2.exceptions import Reason

if TYPE_CHECKING:
    from d2._core.state import RequestState
    from d2._lang.compile_context import CompileContext
    from d2._lang.source import JsonPath

__all__ = ["OutputRulesImpl", "compile_output_rules"]

GLOBALS = frozenset({"max_bytes", "deny_if_patterns", "require_fields_absent"})
# Keys of an action rule that parameterise the action rather than condition it.
_ACTION_PARAMS = {
    "deny": frozenset({"action", "matches"}),
    "filter": frozenset({"action", "matches"}),
    "redact": frozenset({"action", "matches"}),
    "truncate": frozenset({"action", "matches", "maxLength"}),
}


class OutputRulesImpl:
    """The compiled ``conditions.output`` of one grant (implements the ``OutputRules`` protocol)."""

    __slots__ = ("_absent", "_any_pattern", "_max_bytes", "_patterns", "_sanitize", "_validate", "location")

    def __init__(
        self,
        location: Location,
        validate: PathNode | None,
        sanitize: PathNode | None,
        absent: PathNode | None,
        patterns: tuple[tuple[Regex, Location, int], ...],
        max_bytes: tuple[int, Location] | None,
    ) -> None:
        self.location = location
        self._validate = validate
        self._sanitize = sanitize
        self._absent = absent
        self._patterns = patterns
        self._any_pattern = _combine(patterns)
        self._max_bytes = max_bytes

    def __repr__(self) -> str:
        return f"<OutputRules at {self.location}>"

    def apply(self, value: Any, state: RequestState) -> tuple[Any, Violation | None]:
        """Return the sanitized value, or the value and the first violation."""
        if self._validate is not None:
            try:
                visit(value, self._validate, state)
            except Stop as stop:
                return value, self._violation(stop, Reason.OUTPUT_VALIDATION)
            except Opaque as exc:
                return value, self._opaque(exc, Reason.OUTPUT_VALIDATION)
        try:
            if self._sanitize is not None:
                value = visit(value, self._sanitize, state)
            if self._absent is not None:
                visit(value, self._absent, state)
            if self._patterns:
                self._scan(value)
            if self._max_bytes is not None:
                self._check_size(value, *self._max_bytes)
        except Stop as stop:
            return value, self._violation(stop, Reason.OUTPUT_SANITIZATION)
        except Opaque as exc:
            return value, self._opaque(exc, Reason.OUTPUT_SANITIZATION)
        return value, None

    def _opaque(self, exc: Opaque, phase: Reason) -> Violation:
        """A value an operator or the text scan could not look inside: the result is refused."""
        return Violation(phase, "$", "inspect", self.location, f"output (or a value inside it) {exc.message}")

    def _violation(self, stop: Stop, phase: Reason) -> Violation:
        target = stop.target()
        subject = "output" if target == "$" else f"field '{target}'"
        return Violation(
            stop.reason or phase,
            target,
            stop.operator,
            stop.location or self.location,
            f"{subject} {stop.message}",
            stop.value,
        )

    def _scan(self, value: Any) -> None:
        hit = self._any_pattern.search if self._any_pattern is not None else None
        for path, text in texts(value):
            if hit is not None and not hit(text):
                continue
            for rx, where, index in self._patterns:
                if rx.search(text):
                    stop = Stop(
                        Reason.OUTPUT_SANITIZATION,
                        "deny_if_patterns",
                        where,
                        f"matches deny_if_patterns[{index}] {show_pattern(rx.pattern)}",
                        text,
                    )
                    stop.parts.extend(reversed(path))
                    raise stop

    @staticmethod
    def _check_size(value: Any, limit: int, where: Location) -> None:
        size = byte_size(value, limit)  # limit + 1 when counting stopped early
        if size > limit:
            shown = f"is {size} bytes, over" if size > limit + 1 else "is over"
            raise Stop(
                Reason.OUTPUT_SANITIZATION,
                "max_bytes",
                where,
                f"{shown} max_bytes {limit}",
                value,
            )


def _combine(patterns: tuple[tuple[Regex, Location, int], ...]) -> Regex | None:
    """One RE2 program for all patterns, so a clean text is scanned once, not once per pattern.

    Inline flags stay scoped to their group in RE2, so ``(?i)`` in one pattern does not leak into the
    others. Should the union be too large to compile, each text is scanned pattern by pattern instead.
    """
    if not patterns:
        return None
    if len(patterns) == 1:
        return patterns[0][0]
    try:
        return compile_regex("|".join(f"(?:{rx.pattern})" for rx, _where, _i in patterns))
    except RegexError:
        return None


def compile_output_rules(node: Any, path: JsonPath, ctx: CompileContext) -> OutputRulesImpl | None:
    """Compile ``conditions.output`` of one grant; report every problem; None when empty or invalid."""
    if not isinstance(node, dict):
        return None  # the shape check reports it
    fields = _FieldRules(ctx)
    ok = True
    for key, rule in node.items():
        if key in GLOBALS:
            continue
        ok = fields.add(key, rule, (*path, key)) and ok
    patterns = _compile_patterns(node.get("deny_if_patterns"), (*path, "deny_if_patterns"), ctx)
    absent, absent_ok = _compile_absent(
        node.get("require_fields_absent"), (*path, "require_fields_absent"), ctx
    )
    max_bytes = node.get("max_bytes")
    size = None
    if isinstance(max_bytes, int) and not isinstance(max_bytes, bool) and max_bytes >= 0:
        size = (max_bytes, ctx.loc((*path, "max_bytes"), key=True))
    elif "max_bytes" in node:
        report(ctx, "D2E003", "'max_bytes' must be a whole number >= 0", (*path, "max_bytes"))
        ok = False
    if not ok or patterns is None or not absent_ok:
        return None
    validate, sanitize = fields.tries()
    if validate is None and sanitize is None and absent is None and not patterns and size is None:
        return None
    return OutputRulesImpl(ctx.loc(path, key=True), validate, sanitize, absent, patterns, size)


class _FieldRules:
    """Collect field rules into the validation and sanitization tries."""

    def __init__(self, ctx: CompileContext) -> None:
        self.ctx = ctx
        self.validation: list[tuple[tuple[str, ...], Callable[[Any, Any], Any], Presence | None]] = []
        self.actions: list[tuple[int, tuple[str, ...], Callable[[Any, Any], Any], Presence | None]] = []

    def add(self, key: str, rule: Any, path: JsonPath) -> bool:
        ctx = self.ctx
        try:
            parts = parse_path(key)
        except PathError as exc:
            report(ctx, "D2E105", exc.message, path, exc.hint, key=True)
            return False
        if not isinstance(rule, dict):
            return False  # the shape check reports it
        action = rule.get("action")
        if action is not None and action not in ACTION_ORDER:
            return False  # the shape check reports it, with a did-you-mean
        if rule.get("required") is True and "**" in parts:
            report(
                ctx,
                "D2E106",
                f"'required' cannot apply to '{key}': a '**' path names no single place the field must be",
                (*path, "required"),
                "use a path from the root, or require_fields_absent for the opposite check",
            )
            return False
        if action is None:
            return self._add_validation(parts, rule, path)
        return self._add_action(action, parts, rule, path)

    def _add_validation(self, parts: tuple[str, ...], rule: dict[str, Any], path: JsonPath) -> bool:
        constraint = compile_constraint(rule, path, self.ctx)
        if constraint is None:
            return False
        if not constraint.checks and not constraint.required:
            self.ctx.warning("D2W101", f"the rule for '{path[-1]}' checks nothing", path, key=True)
            return True
        presence = None
        if constraint.required:
            where = constraint.required_location or self.ctx.loc(path, key=True)
            presence = Presence(Reason.OUTPUT_VALIDATION, where, "is required but missing")
        self.validation.append((parts, validation_rule(constraint), presence))
        return True

    def _add_action(self, action: str, parts: tuple[str, ...], rule: dict[str, Any], path: JsonPath) -> bool:
        ctx = self.ctx
        ok = True
        if action == "truncate":
            ok = self._truncate_size(rule, path)
        if rule.get("required") is True and action != "deny":
            report(
                ctx,
                "D2E106",
                f"'required' has no meaning with 'action: {action}': a missing field has nothing to {action}",
                (*path, "required"),
                "move 'required' to a validation rule (no action) or use 'action: deny'",
            )
            ok = False
        conditions = compile_constraint(rule, path, ctx, skip=_ACTION_PARAMS[action])
        selector, selector_ok = self._selector(rule, path)
        if conditions is None or not selector_ok or not ok:
            return False
        where = ctx.loc((*path, "action"), key=True)
        size = rule.get("maxLength")
        fn = action_rule(action, conditions, selector, size, where, ctx.loc((*path, "matches"), key=True))
        presence = None
        if conditions.required:
            presence = Presence(
                Reason.OUTPUT_SANITIZATION,
                conditions.required_location or where,
                "is missing, and its 'action: deny' rule requires it",
            )
        self.actions.append((ACTION_ORDER[action], parts, fn, presence))
        return True

    def _truncate_size(self, rule: dict[str, Any], path: JsonPath) -> bool:
        if "maxLength" not in rule:
            message = "'action: truncate' needs 'maxLength' (how much to keep)"
            report(self.ctx, "D2E106", message, path, key=True)
            return False
        try:
            OPERATORS["maxLength"].prepare(rule["maxLength"])
        except OperandError as exc:
            report(self.ctx, exc.code, f"'maxLength': {exc.message}", (*path, "maxLength"), exc.hint)
            return False
        return True

    def _selector(self, rule: dict[str, Any], path: JsonPath) -> tuple[Regex | None, bool]:
        if "matches" not in rule:
            return None, True
        try:
            rx: Regex = prepare_pattern(rule["matches"], searched=True)
        except OperandError as exc:
            report(self.ctx, exc.code, f"'matches': {exc.message}", (*path, "matches"), exc.hint)
            return None, False
        return rx, True

    def tries(self) -> tuple[PathNode | None, PathNode | None]:
        validate = sanitize = None
        if self.validation:
            validate = PathNode()
            for parts, fn, presence in self.validation:
                validate.insert(parts, fn, presence)
            validate.seal()
        if self.actions:
            sanitize = PathNode()
            for _order, parts, fn, presence in sorted(self.actions, key=lambda a: a[0]):
                sanitize.insert(parts, fn, presence)
            sanitize.seal()
        return validate, sanitize


def _compile_patterns(
    raw: Any, path: JsonPath, ctx: CompileContext
) -> tuple[tuple[Regex, Location, int], ...] | None:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        return None  # the shape check reports it
    out: list[tuple[Regex, Location, int]] = []
    ok = True
    for i, item in enumerate(raw):
        try:
            rx: Regex = prepare_pattern(item, searched=True)
        except OperandError as exc:
            report(ctx, exc.code, f"'deny_if_patterns[{i}]': {exc.message}", (*path, i), exc.hint)
            ok = False
            continue
        out.append((rx, ctx.loc((*path, i)), i))
    return tuple(out) if ok else None


def _compile_absent(raw: Any, path: JsonPath, ctx: CompileContext) -> tuple[PathNode | None, bool]:
    """Compile ``require_fields_absent``: a bare name is forbidden at any depth, a dotted path right there."""
    if raw is None:
        return None, True
    if not isinstance(raw, list):
        return None, False
    trie = PathNode()
    ok = True
    for i, item in enumerate(raw):
        if not isinstance(item, str):
            ok = False
            continue
        try:
            parts = parse_path(item)
        except PathError as exc:
            report(ctx, "D2E105", exc.message, (*path, i), exc.hint)
            ok = False
            continue
        if len(parts) == 1 and parts[0] not in ("*", "**"):
            parts = ("**", parts[0])
        trie.insert(parts, _forbidden(ctx.loc((*path, i))))
    return (trie.seal() if raw else None), ok


def _forbidden(where: Location) -> Callable[[Any, Any], Any]:
    def rule(value: Any, _state: Any) -> Any:
        raise Stop(
            Reason.OUTPUT_SANITIZATION,
            "require_fields_absent",
            where,
            "is present, but require_fields_absent forbids it",
            value,
        )

    return rule
