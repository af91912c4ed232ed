"""The d2 logger, imported lazily so ``import d2`` does not pay for the logging package."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import logging


def logger() -> logging.Logger:
    """Return the ``d2`` logger (d2 logs plain text; the application decides handlers and colour)."""
    import logging

    return logging.getLogger("d2")
