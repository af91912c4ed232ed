"""``d2 eval``: decide one call from a JSON input (stdin or a file) with the real engine."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from ._common import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, TextJson, emit_json, fail, make_console

__all__ = ["register"]

_HELP = """Decide one call from a JSON input, as the guard would (like `opa eval`, `cedar authorize`).

The input is an object: {"user": "alice", "roles": ["support"], "tool": "billing.refund",
"args": {"amount": 50}, "history": ["billing.read"], "attributes": {"tenant": "acme"}}; only
"tool" is required. Read from INPUT, or from stdin when INPUT is - or absent. Exit 0 allowed,
1 denied (or the policy does not load), 2 on a usage error.

Example:

    echo '{"roles": ["support"], "tool": "billing.refund", "args": {"amount": 50}}' | d2 eval -p policy.yaml
"""


def register(app: typer.Typer) -> None:
    """Add ``d2 eval`` to the app."""
    app.command("eval", help=_HELP)(eval_command)


def eval_command(
    source: Annotated[str, typer.Argument(metavar="[INPUT]", help="JSON input file, or - for stdin.")] = "-",
    policy: Annotated[
        Path | None,
        typer.Option(
            "--policy", "-p", metavar="FILE", help="Policy file (default: discovered like the runtime)."
        ),
    ] = None,
    output_format: Annotated[TextJson, typer.Option("--format", "-f", help="text or json.")] = TextJson.TEXT,
) -> None:
    """Evaluate one decision."""
    from d2tools.inspect._eval import InputError, evaluate, parse_input

    raw = _read(source)
    try:
        call = parse_input(json.loads(raw))
    except ValueError as exc:  # InputError is a ValueError, and so is bad JSON
        where = "stdin" if source == "-" else source
        what = str(exc) if isinstance(exc, InputError) else f"not JSON: {exc}"
        fail(f"{where}: {what}", code=EXIT_USAGE)
    answer = evaluate(_compiled(policy), call)
    if output_format is TextJson.JSON:
        emit_json(answer)
    else:
        _print(answer)
    raise typer.Exit(EXIT_OK if answer["allowed"] else EXIT_FINDINGS)


def _read(source: str) -> str:
    if source == "-":
        return sys.stdin.read()
    try:
        return Path(source).read_text(encoding="utf-8")
    except OSError as exc:
        fail(f"cannot read {source}: {exc.strerror or exc}", code=EXIT_USAGE)


def _compiled(explicit: Path | None) -> Any:
    from d2._toolkit import compile_policy, discover_policy, parse_policy_file
    from d2.exceptions import ConfigurationError, D2Error
    from d2tools.report.text import line

    err = make_console(stderr=True)
    try:
        doc = parse_policy_file(discover_policy(explicit).path)
    except ConfigurationError as exc:
        for diag in exc.diagnostics:
            err.print(line(diag))
        fail(f"the policy does not load{'' if exc.diagnostics else f': {exc}'}")
    except D2Error as exc:
        fail(str(exc), code=EXIT_USAGE)
    result = compile_policy(doc)
    if result.policy is None:
        for diag in result.errors:
            err.print(line(diag))
        fail(f"{doc.file} does not load: fix the errors above")
    return result.policy


def _print(answer: dict[str, Any]) -> None:
    from rich.text import Text

    console = make_console()
    if answer["allowed"]:
        console.print(Text(f"allow: {answer['tool']}", style="bold green"))
    else:
        where = f" at {answer['location']}" if answer["location"] else ""
        console.print(Text(f"deny: {answer['tool']} ({answer['reason']}){where}", style="bold red"))
        if answer["detail"]:
            console.print(f"  {answer['detail']}", markup=False)
    for hint in answer["hints"]:
        console.print(Text(f"  note: {hint}", style="yellow"))
