"""``d2 lint``: the runtime's validator plus checks only a linter makes, as ``Diagnostic`` objects."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._checks import lint_checks
from ._code import CodeIndex, check_against_code, named_tools, scan_code, stale_tool_hint
from ._run import FileLint, LintRun, lint_file, lint_paths
from ._suppress import apply_suppressions
from .codes import CODES, CodeInfo, lookup

if TYPE_CHECKING:
    from ._fix import SAFE_FIXES, apply_fixes

__all__ = [
    "CODES",
    "SAFE_FIXES",
    "CodeIndex",
    "CodeInfo",
    "FileLint",
    "LintRun",
    "apply_fixes",
    "apply_suppressions",
    "check_against_code",
    "lint_checks",
    "lint_file",
    "lint_paths",
    "lookup",
    "named_tools",
    "scan_code",
    "stale_tool_hint",
]


def __getattr__(name: str) -> Any:
    """Import ``--fix`` (ruamel's round-trip mode, hashing) only when asked: a plain lint run never is."""
    if name in ("SAFE_FIXES", "apply_fixes"):
        from . import _fix

        return getattr(_fix, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
