"""The Typer application: one module per command group, registered here by name.

Command modules owned by other work streams (``cmd_test``, ``cmd_cloud``) may not exist yet in a
given checkout; only that exact absence is tolerated, any other import error surfaces.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from types import ModuleType
from typing import Annotated

import typer

from ._common import EXIT_OK, EXIT_USAGE

__all__ = ["COMMAND_MODULES", "build_app", "run"]

COMMAND_MODULES = (
    "cmd_init",
    "cmd_lint",
    "cmd_fmt",
    "cmd_eval",
    "cmd_schema",
    "cmd_diagnose",
    "cmd_inspect",
    "cmd_test",
    "cmd_cloud",
    "cmd_versions",
    "cmd_mcp",
    "cmd_tui",
)
_OPTIONAL = frozenset({"cmd_test", "cmd_cloud"})

_HELP = """d2: policy-as-code guard for the functions AI agents call.

Example:

    d2 init --path src && d2 lint policy.yaml
"""


def build_app() -> typer.Typer:
    """Create the app and let each command module register its commands."""
    app = typer.Typer(
        name="d2",
        help=_HELP,
        no_args_is_help=True,
        add_completion=True,
        pretty_exceptions_enable=False,
        rich_markup_mode="markdown",
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    app.callback()(_root)
    for name in COMMAND_MODULES:
        module = _import_command(name)
        if module is not None:
            module.register(app)
    return app


def _show_version(value: bool) -> None:
    if value:
        from d2 import __version__

        typer.echo(f"d2 {__version__}")
        raise typer.Exit(EXIT_OK)


def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", "-V", help="Print the version and exit.", callback=_show_version, is_eager=True
        ),
    ] = False,
) -> None:
    """d2: policy-as-code guard for the functions AI agents call."""


def _import_command(name: str) -> ModuleType | None:
    qualified = f"{__package__}.{name}"
    try:
        return importlib.import_module(qualified)
    except ModuleNotFoundError as exc:
        if name in _OPTIONAL and exc.name == qualified:
            return None
        raise


def run(argv: Sequence[str] | None = None) -> int:
    """Run the app as a program would and turn every way out into an exit code."""
    app = build_app()
    try:
        app(args=list(argv) if argv is not None else None, prog_name="d2", standalone_mode=True)
    except SystemExit as exc:
        return _code(exc.code)
    except typer.Abort:
        return EXIT_USAGE
    return EXIT_OK


def _code(value: object) -> int:
    if value is None:
        return EXIT_OK
    if isinstance(value, int):
        return value
    return 1
