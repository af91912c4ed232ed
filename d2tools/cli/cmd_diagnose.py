"""``d2 diagnose``: find and load the policy like the runtime does, and report its health."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ._common import EXIT_FINDINGS, EXIT_OK, TextJson, emit_json, make_console

if TYPE_CHECKING:
    from rich.console import Console

    from d2tools.inspect import Diagnosis

__all__ = ["diagnose", "register"]

_HELP = """Find the policy the runtime would load and check it: counts, expiry, limits, errors.

Discovery order: --policy, D2_POLICY_FILE, $XDG_CONFIG_HOME/d2/policy.*, ./policy.*.
With D2_TOKEN set (cloud mode) and no --policy, it checks what the runtime would use instead: the
control plane's bundle (fetched, signature verified, its policy linted).
Exits 1 when no policy is found or it would not load (errors, expired, revoked).

Example:

    D2_POLICY_FILE=examples/quickstart/policy.yaml d2 diagnose
"""


def register(app: typer.Typer) -> None:
    """Add ``d2 diagnose`` to the app."""
    app.command("diagnose", help=_HELP)(diagnose)


def diagnose(
    policy: Annotated[
        Path | None,
        typer.Option("--policy", "-p", metavar="FILE", help="Check this file instead of discovering one."),
    ] = None,
    output_format: Annotated[TextJson, typer.Option("--format", "-f", help="text or json.")] = TextJson.TEXT,
) -> None:
    """Report on the local policy."""
    import os

    from d2tools.inspect import diagnose as run_diagnosis

    if policy is None and os.environ.get("D2_TOKEN"):  # cloud mode: check what the runtime really uses
        from d2tools.inspect._cloud import diagnose_cloud

        result = diagnose_cloud()
    else:
        result = run_diagnosis(policy)
    if output_format is TextJson.JSON:
        emit_json(result.to_json())
    else:
        _print(make_console(), result)
    raise typer.Exit(EXIT_OK if result.ok else EXIT_FINDINGS)


def _print(console: Console, result: Diagnosis) -> None:
    from rich.text import Text

    from d2tools.report import Report
    from d2tools.report.text import line

    rows = _rows(result)
    width = max(len(label) for label, _ in rows) + 2
    for label, value in rows:
        console.print(Text.assemble((label.ljust(width), "bold"), value))
    for note in result.notes:
        console.print(f"note: {note}", style="yellow", markup=False)
    for diag in result.diagnostics:
        console.print(line(diag))
    for problem in result.problems:
        console.print(f"problem: {problem}", style="bold red", markup=False)
    report = Report(result.diagnostics)
    verdict = "OK" if result.ok else "FAILED"
    console.print(
        f"{verdict}: {report.errors} error(s), {report.warnings} warning(s)",
        style="bold green" if result.ok else "bold red",
        markup=False,
    )


def _rows(result: Diagnosis) -> list[tuple[str, str]]:
    cloud = [("Mode", f"{result.mode} (D2_TOKEN is set)" if result.mode == "cloud" else result.mode)]
    for key, value in (result.cloud or {}).items():
        cloud.append((key.replace("_", " ").capitalize(), "-" if value is None else str(value)))
    if result.path is None:
        return [*cloud, ("Policy", "not found")]
    c = result.counts
    rows = [
        ("Policy", f"{result.path} (found via {result.how})"),
        ("Name", result.name or "-"),
        ("Version", result.version or "-"),
        ("Roles", str(c.roles)),
        ("Tools", str(c.tools)),
        ("Tool groups", str(c.groups)),
        ("Grants", str(c.grants)),
        ("Sequence rules", str(c.sequence_rules)),
        ("Data-flow rules", str(c.data_flow_rules)),
        ("Expires", _expiry(result.expires)),
    ]
    if result.size_bytes is not None:
        limit = f" of {_size(result.max_bytes)} (D2_MAX_POLICY_BYTES)" if result.max_bytes else ""
        rows.append(("Size", f"{_size(result.size_bytes)}{limit}"))
    return [*cloud, *rows]


def _expiry(when: datetime | None) -> str:
    if when is None:
        return "never"
    days = (when - datetime.now(timezone.utc)).total_seconds() / 86400
    if days <= 0:
        return f"{when.isoformat()} (EXPIRED)"
    return f"{when.isoformat()} (in {days:.0f} days)" if days >= 1 else f"{when.isoformat()} (within a day)"


def _size(n: int | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n = n / 1024  # type: ignore[assignment]
    return str(n)
