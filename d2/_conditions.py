"""Input conditions: bind arguments and check them with the shared operators."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._sections import unsupported
from ._source import JsonPath

if TYPE_CHECKING:
    from ._compile import CompileContext

__all__ = ["compile_input_conditions"]


def compile_input_conditions(node: Any, path: JsonPath, ctx: CompileContext) -> Any:
    """Compile ``conditions.input`` of one grant."""
    unsupported("input conditions", path, ctx)
