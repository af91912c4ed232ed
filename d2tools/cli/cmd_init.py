"""``d2 init``: scan the code for guarded functions and write a starter policy, or check for drift."""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ._common import EXIT_FINDINGS, EXIT_OK, emit, make_console, usage_error

if TYPE_CHECKING:
    from d2tools.report import Report
    from d2tools.scanner import ScanResult

__all__ = ["InitFormat", "init", "register"]

_HELP = """Scan the code for @d2_guard functions and write a starter policy (admin '*', developer each tool).

With --check, write nothing: exit 1 when the code guards tools the policy does not name, or the \
policy names tools no code guards (the d2-init-check pre-commit hook).

Examples:

    d2 init --path src                       # writes ./policy.yaml

    d2 init --path src --stdout --format json

    d2 init --check --policy policy.yaml --path src

    d2 init --mcp -- uvx mcp-server-time     # policy + scenarios for an MCP server's tools
"""


class InitFormat(str, Enum):
    """Policy formats ``d2 init`` writes, plus the report formats ``--check`` prints."""

    YAML = "yaml"
    JSON = "json"
    TEXT = "text"
    GITHUB = "github"
    SARIF = "sarif"

    def __str__(self) -> str:
        return self.value


def register(app: typer.Typer) -> None:
    """Add ``d2 init`` to the app."""
    app.command("init", help=_HELP)(init)


def init(
    path: Annotated[
        list[Path] | None,
        typer.Option(
            "--path",
            metavar="DIR",
            help="Directory (or file) to scan; repeatable. [default: .]",
            show_default=False,
        ),
    ] = None,
    output: Annotated[
        Path, typer.Option("--output", "-o", metavar="FILE", help="Where to write the policy.")
    ] = Path("policy.yaml"),
    stdout: Annotated[
        bool, typer.Option("--stdout", help="Print the policy instead of writing a file.")
    ] = False,
    output_format: Annotated[
        InitFormat | None,
        typer.Option(
            "--format",
            "-f",
            help="Policy format: yaml or json (default from --output's suffix). "
            "With --check, the report format: text, json, github or sarif.",
            show_default=False,
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite an existing policy file (never the scenario file).")
    ] = False,
    merge: Annotated[
        bool,
        typer.Option("--merge", help="Add newly guarded tools to the existing policy, keeping your edits."),
    ] = False,
    role: Annotated[
        str, typer.Option("--role", metavar="ROLE", help="The role --merge adds new tools to.")
    ] = "developer",
    scenarios: Annotated[
        bool,
        typer.Option(
            "--scenarios/--no-scenarios", help="Also write scenarios/policy.d2test.yaml (kept if it exists)."
        ),
    ] = True,
    name: Annotated[
        str | None, typer.Option("--name", help="metadata.name [default: the directory's name]")
    ] = None,
    check: Annotated[bool, typer.Option("--check", help="Compare code and policy; write nothing.")] = False,
    policy: Annotated[
        Path | None,
        typer.Option(
            "--policy",
            metavar="FILE",
            help="Policy to --check [default: $D2_POLICY_FILE, else ./policy.{yaml,yml,json}]",
        ),
    ] = None,
    mcp: Annotated[
        bool, typer.Option("--mcp", help="Start the MCP server after '--'; write a policy for its tools.")
    ] = False,
    mcp_url: Annotated[
        str | None, typer.Option("--mcp-url", metavar="URL", help="Like --mcp, for a server over HTTP.")
    ] = None,
    command: Annotated[
        list[str] | None, typer.Argument(metavar="[-- COMMAND...]", help="The MCP server's command (--mcp).")
    ] = None,
) -> None:
    """Write a starter policy, or check one for drift."""
    if mcp or mcp_url or command:
        from .cmd_mcp import init_mcp

        init_mcp(
            command or [], mcp_url, name=name, output=output, force=force, stdout=stdout, scenarios=scenarios
        )
    paths = list(path) if path else [Path(".")]
    for p in paths:
        if not p.exists():
            usage_error(f"{p} does not exist", param_hint="--path")
    if check:
        if stdout or force or merge:
            usage_error("--check writes nothing; drop --stdout/--force/--merge")
        _check(paths, policy, output_format or InitFormat.TEXT)
    if merge and (force or stdout):
        usage_error("--merge edits the existing policy in place; drop --force/--stdout")
    options = _WriteOptions(output, stdout, _policy_format(output_format, output), force, name, merge, role)
    _write(paths, options, scenarios)


def _policy_format(chosen: InitFormat | None, output: Path) -> InitFormat:
    if chosen is None:
        return InitFormat.JSON if output.suffix.lower() == ".json" else InitFormat.YAML
    if chosen not in (InitFormat.YAML, InitFormat.JSON):
        usage_error(f"a policy is written as yaml or json, not {chosen}", param_hint="--format")
    return chosen


def _scan(paths: list[Path]) -> ScanResult:
    from d2tools.scanner import scan

    from ._progress import scan_progress

    with scan_progress() as on_progress:
        return scan(paths, root=Path.cwd(), on_progress=on_progress)


@dataclass(frozen=True, slots=True)
class _WriteOptions:
    output: Path
    stdout: bool
    fmt: InitFormat
    force: bool
    name: str | None
    merge: bool
    role: str


def _write(paths: list[Path], opts: _WriteOptions, scenarios: bool) -> None:
    from ._starter import starter_from_scan

    err = make_console(stderr=True)
    output = opts.output
    if opts.merge and not output.exists():
        usage_error(f"--merge needs an existing policy, and {output} does not exist", param_hint="--output")
    if not opts.stdout and not opts.merge and output.exists() and not opts.force:
        err.print(
            f"d2 init: {output} already exists; pass --merge to add new tools to it, "
            "or --force to replace it",
            markup=False,
        )
        raise typer.Exit(EXIT_FINDINGS)
    result = _scan(paths)
    starter = starter_from_scan(result, name=opts.name or _project_name(paths[0]))
    _print_findings(result)
    if opts.merge:
        _merge(output, starter, opts.role, err)
        raise typer.Exit(EXIT_FINDINGS if result.has_errors else EXIT_OK)
    schema_ref = _schema_ref(output)
    text = starter.to_json(schema_ref) if opts.fmt is InitFormat.JSON else starter.to_yaml(schema_ref)
    if opts.stdout:
        emit(text)
        raise typer.Exit(EXIT_FINDINGS if result.has_errors else EXIT_OK)
    _atomic_write(output, text)
    err.print(
        f"Wrote {output}: {len(starter.tools)} tool(s) from {result.files_scanned} file(s). "
        "Review it, then run `d2 lint`.",
        markup=False,
    )
    _write_schemas(output, err)
    if scenarios:
        _write_starter_scenario(output, list(starter.tools), err)
    raise typer.Exit(EXIT_FINDINGS if result.has_errors else EXIT_OK)


def _schema_ref(policy: Path) -> str:
    from .cmd_schema import SCHEMA_DIR, modeline

    return modeline(policy, policy.parent / SCHEMA_DIR).split("$schema=", 1)[1]


def _write_schemas(policy: Path, err: Any) -> None:
    from .cmd_schema import SCHEMA_DIR, write_schemas

    directory = policy.parent / SCHEMA_DIR
    write_schemas(directory)
    err.print(f"Wrote {directory}/*.schema.json: the schemas editors read for completion.", markup=False)


def _merge(output: Path, starter: Any, role: str, err: Any) -> None:
    from ._merge import MergeError, merge_starter

    try:
        added = merge_starter(output, starter, role=role)
    except MergeError as exc:
        err.print(f"d2 init --merge: {exc}", markup=False)
        raise typer.Exit(EXIT_FINDINGS) from None
    if added:
        err.print(
            f"Added {len(added)} tool(s) to role '{role}' in {output}: {', '.join(added)}", markup=False
        )
    else:
        err.print(f"{output} already names every guarded tool; nothing to add.", markup=False)


def _write_starter_scenario(policy: Path, tool_ids: list[str], err: Any) -> None:
    """Write ``scenarios/policy.d2test.yaml`` beside the policy; an existing one is never overwritten."""
    from d2tools.testing import starter_scenario

    from ._starter import DEVELOPER_ROLE
    from .cmd_schema import SCHEMA_DIR, modeline

    target = policy.parent / "scenarios" / "policy.d2test.yaml"
    if target.exists():
        err.print(f"Kept the existing {target} (scenarios are yours: never overwritten).", markup=False)
        return
    grants = {"admin": tool_ids, DEVELOPER_ROLE: tool_ids}
    line = modeline(target, policy.parent / SCHEMA_DIR, "scenario")
    _atomic_write(target, starter_scenario(tool_ids, f"../{policy.name}", grants=grants, schema_line=line))
    err.print(
        f"Wrote {target}: starter scenarios for these grants (--no-scenarios to skip); "
        f"run `d2 test {target.parent}` in CI.",
        markup=False,
    )


def _print_findings(result: ScanResult) -> None:
    from d2tools.report.text import line

    err = make_console(stderr=True)
    for finding in result.findings:
        err.print(line(finding.to_diagnostic()))


def _project_name(path: Path) -> str:
    resolved = path.resolve()
    return (resolved if resolved.is_dir() else resolved.parent).name or "my-app"


def _atomic_write(path: Path, text: str) -> None:
    import tempfile

    directory = path.parent if str(path.parent) else Path(".")
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        # mkstemp makes 0600; a policy is an ordinary project file (0644 under the usual umask 022).
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def _check_policy_path(explicit: Path | None) -> Path:
    from d2._toolkit import POLICY_NAMES

    if explicit is not None:
        if not explicit.is_file():
            usage_error(f"{explicit} does not exist", param_hint="--policy")
        return explicit
    env = os.environ.get("D2_POLICY_FILE")
    if env:
        return Path(env).expanduser()
    found = [Path(n) for n in POLICY_NAMES if Path(n).is_file()]
    if len(found) != 1:
        what = "no policy file" if not found else "several policy files"
        usage_error(f"{what} in the working directory; pass --policy FILE", param_hint="--policy")
    return found[0]


def _check(paths: list[Path], explicit: Path | None, fmt: InitFormat) -> None:
    from d2 import __version__
    from d2._toolkit import parse_policy_file
    from d2.exceptions import D2Error
    from d2tools.report import Report, render

    from ._drift import drift

    if fmt is InitFormat.YAML:
        usage_error("--check reports as text, json, github or sarif", param_hint="--format")
    policy_path = _check_policy_path(explicit)
    try:
        doc = parse_policy_file(policy_path)
    except D2Error as exc:
        make_console(stderr=True).print(f"d2 init --check: {exc}", markup=False)
        raise typer.Exit(EXIT_FINDINGS) from None
    result = _scan(paths)
    found = drift(doc, result) + [f.to_diagnostic() for f in result.findings]
    found.sort(key=lambda d: (d.file, d.line, d.col, d.code))
    report = Report(tuple(found), (str(policy_path),), "d2", __version__)
    if fmt is InitFormat.TEXT:
        _print_check(report, policy_path, result)
    elif report.diagnostics or fmt is not InitFormat.GITHUB:
        emit(render(fmt.value, report))
    raise typer.Exit(EXIT_FINDINGS if report.errors else EXIT_OK)


def _print_check(report: Report, policy_path: Path, result: ScanResult) -> None:
    from rich.text import Text

    from d2tools.report.text import line

    from ._drift import MISSING_FROM_POLICY, NOT_IN_CODE

    console = make_console()
    for diag in report.diagnostics:
        console.print(line(diag))
    missing = len({d.message for d in report.diagnostics if d.code == MISSING_FROM_POLICY})
    stale = sum(1 for d in report.diagnostics if d.code == NOT_IN_CODE)
    tools = len(result.tool_ids)
    if not missing and not stale:
        summary = (
            f"{policy_path} matches the code: {tools} guarded tool(s) in {result.files_scanned} file(s)."
        )
        console.print(Text(summary, style="green"))
        return
    console.print(
        Text(
            f"{policy_path} is out of date: {missing} tool(s) guarded in code but not named in the policy, "
            f"{stale} named in the policy but not guarded in code.",
            style="bold red",
        )
    )
