"""``d2 inspect``: show who may call what (and under which conditions), or explain one call."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ._common import EXIT_FINDINGS, EXIT_OK, TextJson, display_path, emit_json, make_console, usage_error

if TYPE_CHECKING:
    from d2._toolkit import SourceDoc

__all__ = ["inspect_policy", "parse_assignments", "register"]

_HELP = """Show the policy as a tree: roles, their tools and conditions, sequence rules, data flow.

With --explain ROLE TOOL, decide one call with the real engine and say why (exit 0 allowed, 1 denied).

Examples:

    d2 inspect --policy examples/quickstart/policy.yaml --role support

    d2 inspect --policy examples/quickstart/policy.yaml --explain support billing.refund --arg amount=50
"""


def register(app: typer.Typer) -> None:
    """Add ``d2 inspect`` to the app."""
    app.command("inspect", help=_HELP)(inspect_policy)


def inspect_policy(
    policy: Annotated[
        Path | None,
        typer.Option(
            "--policy", "-p", metavar="FILE", help="Policy file (default: discovered like the runtime)."
        ),
    ] = None,
    role: Annotated[
        str | None, typer.Option("--role", "-r", metavar="ROLE", help="Show only this role.")
    ] = None,
    tool: Annotated[
        str | None, typer.Option("--tool", "-t", metavar="TOOL", help="Show only grants of this tool.")
    ] = None,
    explain: Annotated[
        tuple[str, str] | None,
        typer.Option("--explain", metavar="ROLE TOOL", help="Decide a call of TOOL by a user holding ROLE."),
    ] = None,
    arg: Annotated[
        list[str] | None,
        typer.Option(
            "--arg", "-a", metavar="NAME=VALUE", help="An argument of the explained call (JSON or text)."
        ),
    ] = None,
    attr: Annotated[
        list[str] | None,
        typer.Option("--attr", metavar="NAME=VALUE", help="A user attribute for the explained call."),
    ] = None,
    history: Annotated[
        list[str] | None,
        typer.Option(
            "--history", metavar="TOOL", help="A call made earlier in the same request (repeatable)."
        ),
    ] = None,
    output_format: Annotated[TextJson, typer.Option("--format", "-f", help="text or json.")] = TextJson.TEXT,
) -> None:
    """Inspect a policy."""
    if explain is None and (arg or attr or history):
        usage_error("--arg, --attr and --history need --explain ROLE TOOL")
    doc = _load(policy)
    if explain is not None:
        _explain(
            doc,
            explain,
            parse_assignments(arg, "--arg"),
            parse_assignments(attr, "--attr"),
            history,
            output_format,
        )
    _show(doc, role, tool, output_format)


def parse_assignments(items: list[str] | None, flag: str) -> dict[str, Any]:
    """Parse ``NAME=VALUE`` pairs; a value that is valid JSON is used as such, else as text."""
    import json

    out: dict[str, Any] = {}
    for item in items or ():
        name, sep, text = item.partition("=")
        if not sep or not name:
            usage_error(f"{flag} expects NAME=VALUE, got {item!r}", param_hint=flag)
        try:
            out[name] = json.loads(text)
        except ValueError:
            out[name] = text
    return out


def _load(path: Path | None) -> SourceDoc:
    from d2._toolkit import discover_policy, parse_policy_file
    from d2.exceptions import ConfigurationError, D2Error

    err = make_console(stderr=True)
    try:
        found = discover_policy(path)
        return parse_policy_file(found.path if path is not None else display_path(found.path))
    except ConfigurationError as exc:
        _print_diagnostics(exc.diagnostics) if exc.diagnostics else err.print(str(exc), markup=False)
    except D2Error as exc:
        err.print(f"d2 inspect: {exc}", markup=False)
    raise typer.Exit(EXIT_FINDINGS)


def _print_diagnostics(diagnostics: Any) -> None:
    from d2tools.report.text import line

    err = make_console(stderr=True)
    for diag in diagnostics:
        err.print(line(diag))


def _compile_errors(doc: SourceDoc) -> tuple[Any, bool]:
    from d2._toolkit import compile_policy

    result = compile_policy(doc)
    if result.errors:
        _print_diagnostics(result.errors)
    return result.policy, bool(result.errors)


def _show(doc: SourceDoc, role: str | None, tool: str | None, output_format: TextJson) -> None:
    from d2tools.inspect import build_view
    from d2tools.inspect._render import render_tree

    view = build_view(doc, role=role, tool=tool)
    if role is not None and not view.roles:
        _unknown_role(doc, role)
    _, failed = _compile_errors(doc)
    if output_format is TextJson.JSON:
        emit_json(view.to_json())
    else:
        make_console().print(render_tree(view, tool=tool))
    raise typer.Exit(EXIT_FINDINGS if failed else EXIT_OK)


def _unknown_role(doc: SourceDoc, role: str) -> None:
    from d2._toolkit import suggest
    from d2tools.lint._entries import role_entries

    names = sorted({r for e in role_entries(doc.data) for r in e.roles})
    guess = suggest(role, names)
    hint = f"; did you mean '{guess}'?" if guess else f"; roles: {', '.join(names)}"
    usage_error(f"the policy has no role '{role}'{hint}", param_hint="--role")


def _explain(
    doc: SourceDoc,
    target: tuple[str, str],
    args: dict[str, Any],
    attributes: dict[str, Any],
    history: list[str] | None,
    output_format: TextJson,
) -> None:
    from d2tools.inspect import explain
    from d2tools.inspect._render import render_explanation

    policy, failed = _compile_errors(doc)
    if policy is None or failed:
        make_console(stderr=True).print(
            "d2 inspect: the policy does not load; fix the errors above", markup=False
        )
        raise typer.Exit(EXIT_FINDINGS)
    role, tool = target
    if role not in policy.roles:
        _unknown_role(doc, role)
    result = explain(policy, role, tool, args, history=history or (), attributes=attributes)
    from d2tools.inspect._eval import name_hints

    hints = name_hints(policy, tool, (role,))
    if output_format is TextJson.JSON:
        emit_json({**result.to_json(), "hints": hints})
    else:
        make_console().print(render_explanation(result))
        for hint in hints:
            make_console().print(f"note: {hint}", style="yellow", markup=False)
    raise typer.Exit(EXIT_OK if result.allowed else EXIT_FINDINGS)
