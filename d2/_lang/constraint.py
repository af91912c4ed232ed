"""Compile one parameter's or field's operators into a :class:`Constraint`, reporting every bad operand.

Beyond each operator's own operand check, a constraint is refused when no value could pass it (``min``
above ``max``, ``matches`` beside ``type: int``): such a rule would deny every call, and the author
meant something else.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from d2._lang.attrs import AttrRef
from d2._lang.extra_ops import EXTRA_OPERATORS, compile_extra
from d2._lang.fuse import fuse
from d2._lang.operators import (
    NON_OPERATORS,
    OPERATORS,
    Check,
    Constraint,
    OperandError,
    operand_test,
    type_names,
)

if TYPE_CHECKING:
    from d2._lang.compile_context import CompileContext
    from d2._lang.source import JsonPath

__all__ = ["compile_constraint", "report"]


def report(
    ctx: CompileContext,
    code: str,
    message: str,
    path: JsonPath,
    hint: str | None = None,
    *,
    key: bool = False,
) -> None:
    """Report an error unless the shape check already reported one at (or inside) the same place."""
    target = tuple(path)
    if any(d.is_error and d.path[: len(target)] == target for d in ctx.diagnostics):
        return
    ctx.error(code, message, path, key=key, hint=hint)


def compile_constraint(
    node: Mapping[str, Any], path: JsonPath, ctx: CompileContext, *, skip: frozenset[str] = frozenset()
) -> Constraint | None:
    """Compile one field's operators (minus ``skip``); report every bad operand; None on any error."""
    checks: list[Check] = []
    prepared: dict[str, Any] = {}
    ok = True
    for op, raw in node.items():
        if op in skip or op in NON_OPERATORS or op.startswith("x-"):
            continue
        spec = OPERATORS.get(op)
        if spec is None:
            if op in EXTRA_OPERATORS:  # each, in_request, not_from (d2._lang.extra_ops)
                extra = compile_extra(op, raw, (*path, op), ctx, compile_constraint, report)
                if extra is None:
                    ok = False
                else:
                    checks.append(extra)
                    prepared[op] = raw
                continue
            ok = False  # the shape check names it, with a did-you-mean
            continue
        where = ctx.loc((*path, op), key=True)
        try:
            test, expect, operand = operand_test(spec, raw, op=op, where=where)
        except OperandError as exc:
            report(ctx, exc.code, f"'{op}': {exc.message}", (*path, op), exc.hint)
            ok = False
            continue
        if not isinstance(operand, AttrRef):  # bounds known only at call time cannot be cross-checked
            prepared[op] = raw
        checks.append(Check(op, test, where, expect, operand))
    ok = _check_consistency(prepared, path, ctx) and ok
    if isinstance(prepared.get("matches"), str):
        _warn_half_anchored(prepared["matches"], (*path, "matches"), ctx)
    required = node.get("required", False)
    if not isinstance(required, bool):
        report(ctx, "D2E003", "'required' must be true or false", (*path, "required"))
        ok = False
    if not ok:
        return None
    required_at = ctx.loc((*path, "required"), key=True) if required else None
    ordered = tuple(_ordered(checks))
    passes = fuse(ordered)
    nullable = "type" in prepared and "null" in type_names(prepared["type"]) and len(ordered) > 1
    if nullable:  # `type: [X, null]`: None passes; the other operators judge every other value
        fused = passes
        passes = lambda v, s: v is None or fused(v, s)  # noqa: E731
    return Constraint(ordered, required is True, required_at, passes, nullable)


# Cheap, discriminating operators first: a type or range failure stops before any regex runs.
_ORDER = {"type": 0, "eq": 1, "in": 1, "min": 2, "max": 2, "gt": 2, "lt": 2, "minLength": 3, "maxLength": 3}


def _ordered(checks: list[Check]) -> list[Check]:
    return sorted(checks, key=lambda c: _ORDER.get(c.op, 5))


_SCALARS = ("str", "int", "float", "bool", "null")
_NEEDS = {
    "min": ("int", "float"), "max": ("int", "float"), "gt": ("int", "float"), "lt": ("int", "float"),
    "minLength": ("str", "list", "dict"), "maxLength": ("str", "list", "dict"),
    "matches": ("str",), "startsWith": ("str",), "endsWith": ("str",), "contains": ("str", "list", "dict"),
    "in": _SCALARS, "not_in": _SCALARS, "each": ("list",), "in_request": ("str", "int"),
    "not_from": ("str", "int"),
}  # fmt: skip


def _check_consistency(ops: Mapping[str, Any], path: JsonPath, ctx: CompileContext) -> bool:
    """Refuse constraints no value can pass: empty ranges, and operators the declared type rules out."""
    ok = _check_range(ops, ("min", "gt"), ("max", "lt"), path, ctx, "")
    ok = _check_range(ops, ("minLength",), ("maxLength",), path, ctx, "length ") and ok
    if "type" in ops:
        allowed = set(type_names(ops["type"]))
        for op in ops:
            needs = _NEEDS.get(op)
            if needs and not allowed.intersection(needs):
                report(
                    ctx,
                    "D2E102",
                    f"'{op}' needs a value of type {' or '.join(needs)}, but 'type' allows only "
                    f"{' or '.join(sorted(allowed))}: no value can pass",
                    (*path, op),
                    f"to check every item of a list, write 'each: {{{op}: ...}}' (in output rules, a "
                    "'field.*' path)"
                    if "list" in allowed and "str" in needs
                    else "remove the operator or widen 'type'",
                )
                ok = False
    return ok


def _check_range(
    ops: Mapping[str, Any],
    lows: tuple[str, ...],
    highs: tuple[str, ...],
    path: JsonPath,
    ctx: CompileContext,
    noun: str,
) -> bool:
    if ops.keys().isdisjoint(lows) or ops.keys().isdisjoint(highs):
        return True  # one side open: every range is non-empty (the common case, checked cheaply)
    low = max(((ops[k], k) for k in lows if k in ops), default=None, key=lambda p: (p[0], p[1] == "gt"))
    high = min(((ops[k], k) for k in highs if k in ops), default=None, key=lambda p: (p[0], p[1] != "lt"))
    if low is None or high is None:
        return True
    (lo, lo_key), (hi, hi_key) = low, high
    if lo < hi or (lo == hi and lo_key != "gt" and hi_key != "lt"):
        return True
    report(
        ctx,
        "D2E102",
        f"'{lo_key}: {lo}' and '{hi_key}: {hi}' leave no {noun}value that can pass",
        (*path, hi_key),
        f"make '{lo_key}' smaller than '{hi_key}'",
    )
    return False


def _warn_half_anchored(pattern: str, path: JsonPath, ctx: CompileContext) -> None:
    """Flag a pattern written for a search: anchored at one end only, e.g. ``@example\\.com$``."""
    starts = pattern.startswith(("^", "\\A", ".*"))
    ends = pattern.endswith(".*") or (pattern.endswith("$") and not pattern.endswith("\\$"))
    if starts != ends:
        ctx.warning(
            "D2W102",
            f"'matches' must match the whole value, but {pattern!r} is anchored at one end only",
            path,
            hint="for a search write '.*' on the open side, or use startsWith, endsWith or not_matches",
        )
