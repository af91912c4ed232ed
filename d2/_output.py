"""Output rules: validate and sanitize a tool's result."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._sections import unsupported
from ._source import JsonPath

if TYPE_CHECKING:
    from ._compile import CompileContext

__all__ = ["compile_output_rules"]


def compile_output_rules(node: Any, path: JsonPath, ctx: CompileContext) -> Any:
    """Compile ``conditions.output`` of one grant."""
    unsupported("output rules", path, ctx)
