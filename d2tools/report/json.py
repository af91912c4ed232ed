"""JSON reporter: a stable, versioned document for scripts and editors."""

from __future__ import annotations

import json
from typing import Any

from d2._toolkit import Diagnostic

from ._model import Report

__all__ = ["SCHEMA_VERSION", "diagnostic_dict", "render"]

SCHEMA_VERSION = 1


def diagnostic_dict(diag: Diagnostic) -> dict[str, Any]:
    """One diagnostic as plain JSON data (other commands embed this shape too)."""
    return {
        "code": diag.code,
        "severity": diag.severity.value,
        "message": diag.message,
        "hint": diag.hint,
        "file": diag.file,
        "line": diag.line,
        "col": diag.col,
        "path": list(diag.path),
    }


def render(report: Report) -> str:
    """Render the report as indented JSON with a summary and every diagnostic."""
    doc = {
        "version": SCHEMA_VERSION,
        "tool": report.tool,
        "files": list(report.files),
        "summary": {"errors": report.errors, "warnings": report.warnings, "files": len(report.files)},
        "diagnostics": [diagnostic_dict(d) for d in report.diagnostics],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False)
