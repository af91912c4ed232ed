"""``d2 test``: replay policy scenarios through the real engine (options in, :mod:`d2tools.testing` out)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ._common import (
    EXIT_FINDINGS,
    EXIT_OK,
    EXIT_USAGE,
    FORMAT_HELP,
    TextJson,
    emit_json,
    fail,
    make_console,
)

if TYPE_CHECKING:
    from d2tools.testing import RunResult

__all__ = ["register"]

_HELP = """Replay policy scenarios (*.d2test.yaml) through the real policy engine.

Each case is one request: a user with roles calls tools in order, and each step states what the
policy must decide. Exit code 0 when every case passes, 1 on any failure (or coverage below
--coverage-min), 2 on a usage error.

Example:

    d2 test scenarios/ --coverage --junit-xml reports/d2.xml
"""


def register(app: typer.Typer) -> None:
    """Add ``d2 test`` to the app."""
    app.command("test", help=_HELP)(test_command)


def test_command(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Scenario files or directories (default: .).")
    ] = None,
    policy: Annotated[
        Path | None, typer.Option("--policy", help="Test this policy instead of the files' own.")
    ] = None,
    code: Annotated[
        list[Path] | None,
        typer.Option("--code", help="Read tool parameter lists from this source (repeatable)."),
    ] = None,
    select: Annotated[
        str | None, typer.Option("-k", help="Only cases matching, e.g. 'viewer and not delete'.")
    ] = None,
    fmt: Annotated[TextJson, typer.Option("--format", "-f", help=FORMAT_HELP)] = TextJson.TEXT,
    junit_xml: Annotated[
        Path | None, typer.Option("--junit-xml", help="Also write JUnit XML to FILE.")
    ] = None,
    coverage: Annotated[bool, typer.Option("--coverage", help="Report rules no case exercised.")] = False,
    coverage_min: Annotated[
        float | None,
        typer.Option("--coverage-min", min=0, max=100, help="Fail below this coverage percentage."),
    ] = None,
    watch: Annotated[
        bool, typer.Option("--watch", help="Re-run when scenarios, policies or code change.")
    ] = False,
    quiet: Annotated[
        bool, typer.Option("-q", "--quiet", help="Print failures and the summary only.")
    ] = False,
    durations: Annotated[
        int,
        typer.Option("--durations", min=0, metavar="N", help="List the N slowest cases with their times."),
    ] = 0,
) -> None:
    """Run the scenarios and exit with 0 (all passed), 1 (failures) or 2 (usage error)."""
    from d2tools.testing import SelectError, collect_files, compile_selector

    targets = list(paths or [Path(".")])
    if select:
        try:
            compile_selector(select)
        except SelectError as exc:
            fail(str(exc), code=EXIT_USAGE)
    files, missing = collect_files(targets)
    if not files and not missing:
        where = ", ".join(str(t) for t in targets)
        fail(f"no scenario files (*.d2test.yaml) under {where}", code=EXIT_USAGE)
    options = _Options(
        targets, policy, list(code or []), select, coverage, coverage_min, fmt, junit_xml, quiet, durations
    )
    if watch:
        _watch(options)
        raise typer.Exit(EXIT_OK)
    result = options.run()
    if select and not result.cases and not result.problems:
        # Like pytest (exit 5) and the docs: a filter that selects nothing is a usage mistake, not a pass.
        fail(f"-k {select!r} matched none of the {result.deselected} case(s)", code=EXIT_USAGE)
    options.report(result)
    raise typer.Exit(EXIT_OK if result.ok else EXIT_FINDINGS)


class _Options:
    """The parsed options, and how one run is made and reported."""

    def __init__(
        self,
        paths: list[Path],
        policy: Path | None,
        code: list[Path],
        select: str | None,
        coverage: bool,
        coverage_min: float | None,
        fmt: TextJson,
        junit_xml: Path | None,
        quiet: bool,
        durations: int = 0,
    ) -> None:
        self.paths, self.policy, self.code, self.select = paths, policy, code, select
        self.coverage, self.coverage_min = coverage or coverage_min is not None, coverage_min
        self.fmt, self.junit_xml, self.quiet, self.durations = fmt, junit_xml, quiet, durations

    def run(self) -> RunResult:
        from d2tools.testing import run

        return run(
            self.paths,
            policy=self.policy,
            code=self.code,
            select=self.select,
            coverage=self.coverage,
            coverage_min=self.coverage_min,
        )

    def report(self, result: RunResult) -> None:
        from d2tools.testing import render_text, to_json, to_junit_xml

        if self.junit_xml is not None:
            self.junit_xml.parent.mkdir(parents=True, exist_ok=True)
            self.junit_xml.write_text(to_junit_xml(result), encoding="utf-8")
        if self.fmt is TextJson.JSON:
            emit_json(to_json(result))
            return
        _print_text(render_text(result, quiet=self.quiet, durations=self.durations), result.ok)
        if not self.durations:
            from d2tools.testing._report_text import timing_lines

            make_console(stderr=True).print(timing_lines(result)[0], style="dim", markup=False)


def _print_text(text: str, ok: bool) -> None:
    from rich.text import Text

    console = make_console()
    styles = {"PASS": "green", "FAIL": "bold red", "SKIP": "yellow", "ERROR": "bold red"}
    lines = text.rstrip("\n").split("\n")
    for n, line in enumerate(lines):
        word = line.split(" ", 1)[0]
        style = styles.get(word, "")
        if n == len(lines) - 1:
            style = "bold green" if ok else "bold red"
        console.print(Text(line, style=style))


def _watch(options: _Options) -> None:
    from rich.text import Text

    from d2tools.testing._watch import watch_paths, watch_runs

    def where(result: RunResult) -> list[Path]:
        policies = {Path(c.policy) for c in result.cases if c.policy}
        policies |= {Path(p.policy) for p in result.problems if p.policy}
        if options.policy is not None:
            policies.add(options.policy)
        return watch_paths(options.paths, policies, options.code)

    def on_result(result: RunResult) -> None:
        options.report(result)
        make_console(stderr=True).print(Text("watching for changes (Ctrl-C to stop)", style="dim"))

    try:
        watch_runs(options.run, where, on_result)
    except KeyboardInterrupt:
        return
