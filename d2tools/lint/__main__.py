"""``python -m d2tools.lint``: print the diagnostic-code catalogue as Markdown (docs/lint-codes.md)."""

from __future__ import annotations

from .codes import render_markdown

if __name__ == "__main__":
    print(render_markdown(), end="")
