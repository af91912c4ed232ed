"""Make lint diagnostics the way the compiler does: from a document, a code and a JSON path."""

from __future__ import annotations

from d2._toolkit import Diagnostic, JsonPath, SourceDoc

from .codes import CODES

__all__ = ["make"]


def make(
    doc: SourceDoc, code: str, message: str, path: JsonPath, *, key: bool = False, hint: str | None = None
) -> Diagnostic:
    """Return a diagnostic at ``path`` (its key when ``key``) with the catalogue's severity for ``code``."""
    loc = doc.loc(path, key=key)
    return Diagnostic(code, message, CODES[code].severity, loc.file, loc.line, loc.col, tuple(path), hint)
