"""Text reporter: one ``file:line:col: CODE message (hint)`` line per finding, then a summary, like ruff."""

from __future__ import annotations

from rich.text import Text

from d2._toolkit import Diagnostic

from ._model import Report

__all__ = ["line", "render", "styled", "summary"]


def render(report: Report) -> str:
    """Render the report as plain text."""
    return styled(report).plain


def styled(report: Report) -> Text:
    """Render the report as Rich text (colours show only where the console allows them)."""
    out = Text()
    for diag in report.diagnostics:
        out.append_text(line(diag))
        out.append("\n")
    out.append(summary(report), style="bold" if report.diagnostics else "green")
    return out


def summary(report: Report) -> str:
    """Say how many errors and warnings were found in how many files."""
    files = len(report.files)
    where = f" in {files} file{'s' if files != 1 else ''}" if files else ""
    if not report.diagnostics:
        return f"All checks passed{where}."
    return f"Found {_count(report.errors, 'error')}, {_count(report.warnings, 'warning')}{where}."


def line(diag: Diagnostic) -> Text:
    """Render one diagnostic as ``file:line:col: CODE message (hint)``."""
    text = Text()
    text.append(f"{diag.file}:{diag.line}:{diag.col}:", style="bold")
    text.append(" ")
    text.append(diag.code, style="bold red" if diag.is_error else "bold yellow")
    text.append(f" {diag.message}")
    if diag.hint:
        text.append(f" ({diag.hint})", style="cyan")
    return text


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' if n != 1 else ''}"
