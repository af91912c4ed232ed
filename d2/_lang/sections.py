"""Compilers of the optional policy sections, plugged into :mod:`d2._lang.compiler`.

Each section's compiler lives in its own module (``_conditions``, ``_output``, ``_sequence``,
``_dataflow``); this one re-exports them so the core compiler has a single place to call. A section
whose compiler is not written yet calls :func:`unsupported`, which refuses the policy with a clear
error rather than silently ignoring rules a user believes are enforced.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from d2._lang.source import JsonPath

if TYPE_CHECKING:
    from d2._lang.compile_context import CompileContext

__all__ = [
    "compile_data_flow",
    "compile_input_conditions",
    "compile_output_rules",
    "compile_sequences",
    "unsupported",
]


def unsupported(what: str, path: JsonPath, ctx: CompileContext) -> None:
    """Refuse a section this build cannot enforce."""
    ctx.error(
        "D2E900",
        f"{what} are not supported yet by this version of d2",
        path,
        key=True,
        hint="remove the section or upgrade d2; it would otherwise not be enforced",
    )


def compile_input_conditions(node: Any, path: JsonPath, ctx: CompileContext) -> Any:
    from d2._lang.conditions import compile_input_conditions as impl

    return impl(node, path, ctx)


def compile_output_rules(node: Any, path: JsonPath, ctx: CompileContext) -> Any:
    from d2._lang.output import compile_output_rules as impl

    return impl(node, path, ctx)


def compile_sequences(entries: list[tuple[tuple[str, ...], Any, JsonPath]], ctx: CompileContext) -> Any:
    from d2._lang.sequence import compile_sequences as impl

    return impl(entries, ctx)


def compile_data_flow(node: Any, path: JsonPath, ctx: CompileContext) -> Any:
    from d2._lang.dataflow import compile_data_flow as impl

    return impl(node, path, ctx)
