"""The ``d2`` developer command line (``d2 init``, ``lint``, ``fmt``, ``eval``, ``test``, cloud verbs ...)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

__all__ = ["EXTRAS", "main"]

# Which extra of the d2-guard distribution brings each optional package the commands import.
EXTRAS = {
    "typer": "cli",
    "click": "cli",
    "rich": "cli",
    "libcst": "cli",
    "textual": "cli",
    "watchfiles": "cli",
    "httpx": "cloud",
    "jwt": "cloud",
    "cryptography": "cloud",
    "starlette": "server",
    "uvicorn": "server",
    "psycopg": "server",
    "mcp": "mcp",
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code (0 ok, 1 findings, 2 usage error).

    The command line's packages come with an extra (``pip install 'd2-guard[cli]'``), so the runtime
    a service installs stays four small packages; without them, say which extra to install instead of
    a traceback.
    """
    try:
        from .app import run

        return run(argv)
    except ModuleNotFoundError as exc:
        top = (exc.name or "").split(".")[0]
        extra = EXTRAS.get(top)
        if extra is None:
            raise
        sys.stderr.write(
            f"d2: this command needs the optional package '{top}', which comes with the '{extra}' extra.\n"
            f"Install it with: pip install 'd2-guard[{extra}]'\n"
        )
        return 2
