"""``d2 lint``: the runtime's validator plus checks only a linter makes, as ``Diagnostic`` objects."""

from __future__ import annotations

from ._checks import lint_checks
from ._code import CodeIndex, check_against_code, named_tools, scan_code, stale_tool_hint
from ._fix import SAFE_FIXES, apply_fixes
from ._run import FileLint, LintRun, lint_file, lint_paths
from .codes import CODES, CodeInfo, lookup

__all__ = [
    "CODES",
    "SAFE_FIXES",
    "CodeIndex",
    "CodeInfo",
    "FileLint",
    "LintRun",
    "apply_fixes",
    "check_against_code",
    "lint_checks",
    "lint_file",
    "lint_paths",
    "lookup",
    "named_tools",
    "scan_code",
    "stale_tool_hint",
]
