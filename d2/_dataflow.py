"""Data-flow labels: what a request has touched, and which tools that blocks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._sections import unsupported
from ._source import JsonPath

if TYPE_CHECKING:
    from ._compile import CompileContext

__all__ = ["compile_data_flow"]


def compile_data_flow(node: Any, path: JsonPath, ctx: CompileContext) -> Any:
    """Compile ``metadata.data_flow``."""
    unsupported("data-flow rules", path, ctx)
