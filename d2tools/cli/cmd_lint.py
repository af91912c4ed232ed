"""``d2 lint``: check policy files with the runtime's own validator plus lint-only checks."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ._common import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, OutputFormat, display_path, emit, make_console

if TYPE_CHECKING:
    from d2tools.lint import CodeIndex

__all__ = ["lint", "register"]

_HELP = """Check policy files: shape, operators, regexes, groups, expiry, dead grants.

Prints one line per finding, like ruff: `policy.yaml:12:9: D2E101 unknown operator ...`.
Exits 1 when any error is found (or any warning, with --strict). Codes: docs/lint-codes.md.

Examples:

    d2 lint policy.yaml

    d2 lint policy.yaml --code src --format sarif > d2.sarif
"""


def register(app: typer.Typer) -> None:
    """Add ``d2 lint`` to the app."""
    app.command("lint", help=_HELP)(lint)


def lint(
    files: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Policy files to check (default: the policy the runtime would discover).", show_default=False
        ),
    ] = None,
    output_format: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="text, json, github (annotations) or sarif.")
    ] = OutputFormat.TEXT,
    code: Annotated[
        list[Path] | None,
        typer.Option(
            "--code",
            metavar="DIR",
            help="Also check the policy against the guarded functions under this directory (repeatable).",
            show_default=False,
        ),
    ] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Exit 1 on warnings too.")] = False,
    ignore: Annotated[
        list[str] | None,
        typer.Option(
            "--ignore", metavar="CODE", help="Drop findings with this code (repeatable).", show_default=False
        ),
    ] = None,
) -> None:
    """Lint policy files."""
    from d2 import __version__
    from d2tools.lint import lint_paths
    from d2tools.report import Report, render
    from d2tools.report.text import styled

    paths = list(files) if files else [_discovered()]
    index = _scan(code) if code else None
    run = lint_paths(paths, code=index, ignore=[c.upper() for c in ignore or ()])
    report = Report(run.diagnostics, tuple(f.file for f in run.files), "d2", __version__)
    if output_format is OutputFormat.TEXT:
        make_console().print(styled(report))
    elif report.diagnostics or output_format is not OutputFormat.GITHUB:
        emit(render(output_format.value, report))
    failed = report.errors > 0 or (strict and report.warnings > 0)
    raise typer.Exit(EXIT_FINDINGS if failed else EXIT_OK)


def _discovered() -> Path:
    from d2._discovery import discover_policy
    from d2.exceptions import D2Error

    try:
        return display_path(discover_policy().path)
    except D2Error as exc:
        make_console(stderr=True).print(f"d2 lint: {exc}", markup=False)
        raise typer.Exit(EXIT_USAGE) from None


def _scan(dirs: list[Path]) -> CodeIndex:
    from d2tools.lint import scan_code

    from ._progress import scan_progress

    missing = [d for d in dirs if not d.exists()]
    if missing:
        from ._common import usage_error

        usage_error(f"--code: {missing[0]} does not exist", param_hint="--code")
    with scan_progress("Scanning code") as on_progress:
        return scan_code(dirs, on_progress=on_progress)
