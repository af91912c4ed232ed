"""Sequence rules: forbidden (or, in deny mode, permitted) orders of tool calls."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._sections import unsupported
from ._source import JsonPath

if TYPE_CHECKING:
    from ._compile import CompileContext

__all__ = ["compile_sequences"]


def compile_sequences(entries: list[tuple[tuple[str, ...], Any, JsonPath]], ctx: CompileContext) -> Any:
    """Compile every role entry's ``sequence`` into one program."""
    unsupported("sequence rules", entries[0][2], ctx)
