"""``each``: the rules every item of a list argument must pass.

``recipients: {maxLength: 10, each: {in: {$attr: user.contacts}}}`` checks the list itself (at most
ten) and every item (a contact). ``each`` needs a list or tuple: anything else fails it, and an empty
list passes it (there is no item to refuse; add ``minLength: 1`` to require one). Items are checked
with the same operators as a parameter, so ``each`` nests for lists of lists. The operators other
than ``each`` always see the whole value; a scalar operator on a list fails, with a hint to use ``each``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from d2._base.suggest import suggest
from d2._lang.operators import NON_OPERATORS, OPERATORS, Check, Constraint

if TYPE_CHECKING:
    from d2._lang.compile_context import CompileContext
    from d2._lang.source import JsonPath

__all__ = ["EACH", "EXTRA_NAMES", "compile_each", "item_failure", "list_hint"]

EACH = "each"
EXPECT = "must be a list whose every item passes its rules"


# The operators compiled by d2._lang.extra_ops (it checks that the two lists agree).
EXTRA_NAMES = ("each", "in_request", "not_from")
Nested = Callable[[Mapping[str, Any], "JsonPath", "CompileContext"], "Constraint | None"]
Report = Callable[..., None]


def compile_each(
    raw: Any, path: JsonPath, ctx: CompileContext, nested: Nested, report: Report
) -> Check | None:
    """Compile ``each`` with ``nested`` (compile_constraint); report every problem inside it.

    Unknown operators are reported here at any depth: the schema checks only the first level.
    """
    if not isinstance(raw, Mapping):
        report(ctx, "D2E003", "'each' takes the rules every item must pass, as a mapping", path)
        return None
    ok = True
    for op in raw:
        if op == "required":
            report(
                ctx,
                "D2E102",
                "'required' has no meaning inside 'each': an item of a list is never absent",
                (*path, op),
                "put 'required' beside 'each', on the parameter",
                key=True,
            )
            ok = False
        elif not (op in OPERATORS or op in EXTRA_NAMES or op in NON_OPERATORS or op.startswith("x-")):
            guess = suggest(op, [*OPERATORS, *EXTRA_NAMES])
            report(
                ctx,
                "D2E101",
                f"unknown operator '{op}' for 'each'",
                (*path, op),
                f"did you mean '{guess}'?" if guess else "see docs/guardrails.md for the operators",
                key=True,
            )
            ok = False
    inner = nested(raw, path, ctx)
    if inner is None or not ok:
        return None
    if not inner.checks:
        ctx.warning("D2W101", "'each' checks nothing", path, key=True)
    return Check(EACH, _build(inner), ctx.loc(path, key=True), EXPECT, inner)


def _build(inner: Constraint) -> Any:
    passes = inner.passes

    def test(v: Any, s: Any) -> bool:
        if not isinstance(v, (list, tuple)):
            return False
        for item in v:
            if not passes(item, s):
                return False
        return True

    return test


def item_failure(check: Check, value: Any, state: Any) -> tuple[str, Check, Any]:
    """Follow a failed ``each`` down to the first failing item: its index path, operator and value."""
    where = ""
    while check.op == EACH and isinstance(value, (list, tuple)):
        inner: Constraint = check.operand
        for i, item in enumerate(value):
            failed = inner.first_failure(item, state)
            if failed is not None:
                where, check, value = f"{where}[{i}]", failed, item
                break
        else:
            break
    return where, check, value


_SCALAR_OPS = frozenset(
    {"in", "not_in", "matches", "startsWith", "endsWith", "min", "max", "gt", "lt", "in_request", "not_from"}
)


def list_hint(check: Check, value: Any) -> str:
    """A hint for a list refused by an operator meant for one item (the message never shows the value)."""
    if check.op in _SCALAR_OPS and isinstance(value, (list, tuple)):
        return f" (the value is a list: to check its items, write 'each: {{{check.op}: ...}}')"
    return ""
