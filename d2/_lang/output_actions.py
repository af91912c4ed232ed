"""The per-field rules of output conditions, compiled to closures the path walker calls per value.

A validation rule raises on the first operator a value fails. An action rule decides per value
whether it fires (a condition fails, or its ``matches`` pattern is found; with neither, always) and
what it returns: the value, a replacement, or ``REMOVE``. The common unconditional actions compile to
one-line closures, since they run once per row of a result.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from d2._base.diagnostics import Location
from d2._lang.operators import Check, Constraint, show_pattern
from d2._lang.paths import REMOVE, Replace, Stop, remove_always
from d2._lang.regex import Regex
from d2._lang.values import number_text, texts
from d2.exceptions import Reason

__all__ = ["ACTION_ORDER", "REDACTED", "action_rule", "validation_rule"]

Rule = Callable[[Any, Any], Any]
REDACTED = "[REDACTED]"
# At one field: deny is decided on the tool's value, then removal, then rewriting.
ACTION_ORDER = {"deny": 0, "filter": 1, "redact": 2, "truncate": 3}


def validation_rule(constraint: Constraint) -> Rule:
    """Refuse a value that fails any operator; pass it through unchanged otherwise."""
    first = constraint.first_failure
    passes = constraint.passes

    def rule(value: Any, state: Any) -> Any:
        if passes(value, state):
            return value
        check = first(value, state)
        if check is not None:
            raise Stop(
                Reason.OUTPUT_VALIDATION,
                check.op,
                check.location,
                f"failed '{check.op}': {check.expect}",
                value,
            )
        return value

    return rule


def found(rx: Regex, value: Any) -> bool:
    """True when the pattern occurs in the value's text (a string, a number, or any text inside)."""
    if isinstance(value, str):
        return rx.search(value)
    return any(rx.search(text) for _path, text in texts(value))


def redact_matches(rx: Regex, value: Any) -> Any:
    """Replace the matched text of a string or number; a container where it is found goes entirely."""
    if isinstance(value, str):
        return rx.sub(value, REDACTED)
    number = number_text(value)
    if number is not None:
        return rx.sub(number, REDACTED) if rx.search(number) else value
    return REDACTED if found(rx, value) else value


def cut(value: Any, size: int) -> Any:
    """Keep the first ``size`` characters or items; other values have no length to cut."""
    if isinstance(value, (str, list, tuple)) and len(value) > size:
        return value[:size]
    return value


def action_rule(
    action: str,
    conditions: Constraint,
    selector: Regex | None,
    max_length: Any,
    where: Location,
    selector_where: Location,
) -> Rule:
    """Compile one action rule; unconditional ones become constant-time closures."""
    effect = _effect(action, selector, max_length, where, selector_where)
    if not conditions.checks and selector is None:
        return _always(action, effect, max_length)
    first = conditions.first_failure if conditions.checks else None
    passes = conditions.passes

    def rule(value: Any, state: Any) -> Any:
        failed = first(value, state) if first is not None and not passes(value, state) else None
        if failed is None and (selector is None or not found(selector, value)):
            return value
        return effect(value, failed)

    return rule


def _always(action: str, effect: Callable[[Any, Check | None], Any], max_length: Any) -> Rule:
    """An unconditional action as one direct closure (it runs for every row of a result)."""
    if action == "filter":
        return remove_always
    if action == "redact":
        return Replace(REDACTED)
    if action == "truncate":
        size = int(max_length)
        return lambda value, state: cut(value, size)
    return lambda value, state: effect(value, None)


def _effect(
    action: str, selector: Regex | None, max_length: Any, where: Location, selector_where: Location
) -> Callable[[Any, Check | None], Any]:
    if action == "filter":
        return lambda value, failed: REMOVE
    if action == "truncate":
        size = int(max_length)
        return lambda value, failed: cut(value, size)
    if action == "redact":
        if selector is None:
            return lambda value, failed: REDACTED
        return lambda value, failed: REDACTED if failed is not None else redact_matches(selector, value)

    def deny(value: Any, failed: Check | None) -> Any:
        if failed is not None:
            why, op, loc = f"'{failed.op}': {failed.expect}", failed.op, failed.location
        elif selector is not None:
            why, op, loc = f"matches {show_pattern(selector.pattern)}", "matches", selector_where
        else:
            why, op, loc = "the field is present", "action", where
        raise Stop(Reason.OUTPUT_SANITIZATION, op, loc, f"triggered 'action: deny' ({why})", value)

    return deny
