"""``d2 tui``: a Textual inspector for policies, bundles and live decisions.

Importing this package imports Textual; the ``d2`` runtime never does. Build the app with
:func:`make_tui` (the command and the tests share it).
"""

from __future__ import annotations

from .app import D2Tui, make_tui
from .session import TuiOptions

__all__ = ["D2Tui", "TuiOptions", "make_tui"]
