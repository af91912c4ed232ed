"""The ``d2`` developer command line (``d2 init``, ``lint``, ``diagnose``, ``inspect``, ``test``, cloud)."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code (0 ok, 1 findings, 2 usage error)."""
    from .app import run

    return run(argv)
