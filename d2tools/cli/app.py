"""The Typer application: one module per command group, registered here by name.

Command modules owned by other work streams (``cmd_test``, ``cmd_cloud``) may not exist yet in a
given checkout; only that exact absence is tolerated, any other import error surfaces.

Start-up is most of a short command's time, so ``d2 lint x.yaml`` imports the module of ``lint``
alone (:data:`COMMANDS` maps each top-level name to its module); the root help, shell completion
and an unknown name import them all, so help lists every command and a typo gets a did-you-mean.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Annotated

import typer

from ._common import EXIT_OK, EXIT_USAGE

__all__ = ["COMMANDS", "COMMAND_MODULES", "build_app", "run"]

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

# The module that registers each top-level command or group (a test keeps this in step with them).
COMMANDS = {
    "init": "cmd_init",
    "lint": "cmd_lint",
    "fmt": "cmd_fmt",
    "eval": "cmd_eval",
    "schema": "cmd_schema",
    "diagnose": "cmd_diagnose",
    "inspect": "cmd_inspect",
    "test": "cmd_test",
    **dict.fromkeys(
        ("draft", "publish", "pull", "revoke", "switch", "status", "bundle", "serve"), "cmd_cloud"
    ),
    "history": "cmd_versions",
    "diff": "cmd_versions",
    "mcp-proxy": "cmd_mcp",
    "tui": "cmd_tui",
}
# Click's shell completion runs the program with this set; it needs every command.
_COMPLETE_VAR = "_D2_COMPLETE"

_HELP = """d2: policy-as-code guard for the functions AI agents call.

Example:

    d2 init --path src && d2 lint policy.yaml
"""


def build_app(argv: Sequence[str] | None = None) -> typer.Typer:
    """Create the app and let the command modules ``argv`` needs register their commands (all without it)."""
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
    for name in _modules_for(argv):
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


def _modules_for(argv: Sequence[str] | None) -> tuple[str, ...]:
    """The command modules a run with ``argv`` needs: the named command's alone when it is known.

    The root takes only flags (``--version``, ``--help``, completion), so the first word that is not
    an option names the command.
    """
    if argv is None or os.environ.get(_COMPLETE_VAR):
        return COMMAND_MODULES
    first = next((a for a in argv if not a.startswith("-")), None)
    module = COMMANDS.get(first) if first is not None else None
    return (module,) if module is not None else COMMAND_MODULES


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
    args = list(argv) if argv is not None else sys.argv[1:]
    app = build_app(args)
    try:
        app(args=args, prog_name="d2", standalone_mode=True)
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
