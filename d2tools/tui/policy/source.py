"""The YAML source around one line: gutter, the line highlighted, lint diagnostics inline, coverage marks.

Only a window of the file is rendered, so a 10,000-line policy costs the same as a small one.
Text from the policy is never interpreted as markup.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from rich.text import Text

from d2._toolkit import Diagnostic

__all__ = ["render_source"]

_WINDOW = 12


def render_source(
    lines: Sequence[str],
    line: int,
    *,
    file: str,
    diagnostics: Sequence[Diagnostic] = (),
    uncovered: Collection[int] = (),
    window: int = _WINDOW,
) -> Text:
    """Lines ``line - window`` .. ``line + window`` of ``lines`` with ``line`` marked."""
    out = Text()
    out.append(f"{file}:{line}\n", style="bold")
    if not lines:
        out.append("(no source text)", style="dim")
        return out
    start = max(1, line - window)
    end = min(len(lines), line + window)
    width = len(str(end))
    by_line: dict[int, list[Diagnostic]] = {}
    for d in diagnostics:
        by_line.setdefault(d.line, []).append(d)
    for number in range(start, end + 1):
        current = number == line
        mark = "▶" if current else " "
        cover = "○" if number in uncovered else " "
        gutter = Text(f"{mark}{cover}{number:>{width}} │ ", style="bold" if current else "dim")
        body = Text(lines[number - 1], style="reverse" if current else _style(lines[number - 1]))
        out.append_text(gutter)
        out.append_text(body)
        out.append("\n")
        for d in by_line.get(number, ()):
            style = "bold red" if d.is_error else "yellow"
            pad = " " * (width + 5 + max(0, d.col - 1))
            out.append(f"{pad}^ {d.code} {d.message}", style=style)
            if d.hint:
                out.append(f" ({d.hint})", style="dim")
            out.append("\n")
    out.rstrip()
    return out


def _style(text: str) -> str:
    stripped = text.lstrip()
    if stripped.startswith("#"):
        return "dim italic"
    return ""
