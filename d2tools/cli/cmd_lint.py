"""``d2 lint``: check policy files with the runtime's own validator plus lint-only checks."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ._common import (
    EXIT_FINDINGS,
    EXIT_OK,
    EXIT_USAGE,
    ReportFormat,
    display_path,
    emit,
    load_settings,
    make_console,
    print_text,
    usage_error,
)

if TYPE_CHECKING:
    from d2tools.lint import CodeIndex

    from ._config import Config

__all__ = ["lint", "register"]

_HELP = """Check policy files: shape, operators, regexes, groups, expiry, dead grants.

Prints one line per finding, like ruff: `policy.yaml:12:9: D2E101 unknown operator ...`.
Exits 1 when any error is found (or any warning, with --strict). Codes: docs/lint-codes.md.
Settings: [tool.d2] in pyproject.toml or .d2.toml. Silence one warning in place with
`# d2: ignore[CODE] reason`.

Examples:

    d2 lint policy.yaml

    d2 lint policies/ --fix

    d2 lint policy.yaml --code src --format sarif > d2.sarif

    d2 lint --vendor policy.yaml      (migrating from the vendor SDK)
"""


def register(app: typer.Typer) -> None:
    """Add ``d2 lint`` to the app."""
    app.command("lint", help=_HELP)(lint)


def lint(
    files: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Policy files or directories (searched recursively for policy files). "
            "Default: [tool.d2] policies, else the policy the runtime would discover.",
            show_default=False,
        ),
    ] = None,
    output_format: Annotated[
        ReportFormat, typer.Option("--format", "-f", help="text, json, github (annotations) or sarif.")
    ] = ReportFormat.TEXT,
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
    select: Annotated[
        list[str] | None,
        typer.Option(
            "--select",
            metavar="CODE",
            help="Report only codes starting with this (repeatable).",
            show_default=False,
        ),
    ] = None,
    ignore: Annotated[
        list[str] | None,
        typer.Option(
            "--ignore", metavar="CODE", help="Drop codes starting with this (repeatable).", show_default=False
        ),
    ] = None,
    fix: Annotated[
        bool, typer.Option("--fix", help="Apply the fixes that cannot change any decision, then report.")
    ] = False,
    vendor: Annotated[
        bool,
        typer.Option(
            "--vendor",
            help="Also report (D2M...) where a policy written for the vendor SDK behaves differently "
            "on d2 (docs/migrating.md).",
        ),
    ] = False,
    only_policies: Annotated[
        bool,
        typer.Option(
            "--only-policies",
            help="Skip given files that are not d2 policies (by name, $schema line or [tool.d2] policies).",
        ),
    ] = False,
) -> None:
    """Lint policy files."""
    from d2 import __version__
    from d2tools.lint import lint_paths
    from d2tools.report import Report, render
    from d2tools.report.text import styled

    config = load_settings()
    paths = _targets(files, config, only_policies)
    if not paths:
        make_console(stderr=True).print("d2 lint: no d2 policy files among the given files", markup=False)
        raise typer.Exit(EXIT_OK)
    dirs = list(code) if code else list(config.code)
    index = _scan(dirs) if dirs else None
    chosen = tuple(c.upper() for c in select or ()) or config.select
    skipped = tuple(c.upper() for c in ignore or ()) + config.ignore
    run = lint_paths(paths, code=index, ignore=skipped, select=chosen, vendor=vendor)
    if fix:
        from d2tools.lint import apply_fixes

        fixed = sum(apply_fixes(Path(f.file), f.diagnostics) for f in run.files if f.diagnostics)
        make_console(stderr=True).print(f"Fixed {fixed} finding(s).", markup=False)
        if fixed:
            run = lint_paths(paths, code=index, ignore=skipped, select=chosen, vendor=vendor)
    report = Report(run.diagnostics, tuple(f.file for f in run.files), "d2", __version__)
    if output_format is ReportFormat.TEXT:
        print_text(styled(report))
    elif report.diagnostics or output_format is not ReportFormat.GITHUB:
        emit(render(output_format.value, report))
    failed = report.errors > 0 or ((strict or config.strict) and report.warnings > 0)
    raise typer.Exit(EXIT_FINDINGS if failed else EXIT_OK)


def _targets(files: list[Path] | None, config: Config, only_policies: bool) -> list[Path]:
    from ._policyfiles import collect_policies, is_policy_file

    if not files:
        listed = config.policy_files()
        if config.policies and not listed:
            usage_error(f"[tool.d2] policies in {config.path} matches no file", param_hint="policies")
        return listed or [_discovered()]
    paths = collect_policies(files, config)  # a missing file stays: it is reported as D2E700
    if only_policies:
        paths = [p for p in paths if is_policy_file(p, config)]
    return paths


def _discovered() -> Path:
    from d2._toolkit import discover_policy
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
