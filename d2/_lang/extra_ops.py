"""Operators compiled with the whole compile context: ``each``, ``in_request`` and ``not_from``.

The plain operators (:data:`d2._lang.operators.OPERATORS`) each test one value against one operand.
These three need more at load: ``each`` compiles a nested constraint, ``not_from`` names labels that
``metadata.data_flow.untrusted`` must declare. :func:`compile_constraint` hands them here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from d2._lang.each import EXTRA_NAMES, Nested, Report, compile_each
from d2._lang.operators import Check, OperandError
from d2._lang.origin_ops import compile_in_request, compile_not_from

if TYPE_CHECKING:
    from d2._lang.compile_context import CompileContext
    from d2._lang.source import JsonPath

__all__ = ["EXTRA_OPERATORS", "compile_extra"]

Compiler = Callable[[Any, "JsonPath", "CompileContext"], "Check | None"]

EXTRA_OPERATORS: frozenset[str] = frozenset(EXTRA_NAMES)
_SIMPLE: dict[str, Compiler] = {"in_request": compile_in_request, "not_from": compile_not_from}


def compile_extra(
    op: str, raw: Any, path: JsonPath, ctx: CompileContext, nested: Nested, report: Report
) -> Check | None:
    """Compile one of :data:`EXTRA_OPERATORS`; report a bad operand and return None.

    ``nested`` and ``report`` are d2._lang.constraint's own functions, passed in so that this module
    (and ``each``, which compiles a constraint per item) need not import it back.
    """
    if op == "each":
        return compile_each(raw, path, ctx, nested, report)
    try:
        return _SIMPLE[op](raw, path, ctx)
    except OperandError as exc:
        report(ctx, exc.code, f"'{op}': {exc.message}", path, exc.hint)
        return None
