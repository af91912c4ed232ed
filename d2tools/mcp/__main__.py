"""``python -m d2tools.mcp ARGS`` = ``d2 mcp-proxy ARGS`` (handy in a desktop client's config)."""

from __future__ import annotations

import typer

from d2tools.cli.cmd_mcp import mcp_proxy


def main() -> None:
    typer.run(mcp_proxy)


if __name__ == "__main__":
    main()
