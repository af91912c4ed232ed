"""Reporters: turn a :class:`Report` of diagnostics into text, JSON, GitHub annotations or SARIF.

Each format is its own module with a ``render(report) -> str`` function; the linter never branches
on the format. Other commands (``d2 test``, ``d2 init --check``) report through the same modules.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from ._model import Report

__all__ = ["FORMATS", "Report", "get_reporter", "render"]

# Format name -> module under d2tools.report; each exposes ``render(report: Report) -> str``.
FORMATS: dict[str, str] = {
    "text": "text",
    "json": "json",
    "github": "github",
    "sarif": "sarif",
}

Reporter = Callable[[Report], str]


def get_reporter(name: str) -> Reporter:
    """Return the ``render`` function of format ``name`` (KeyError for an unknown format)."""
    module = importlib.import_module(f"{__name__}.{FORMATS[name]}")
    reporter: Reporter = module.render
    return reporter


def render(name: str, report: Report) -> str:
    """Render ``report`` in format ``name``."""
    return get_reporter(name)(report)
