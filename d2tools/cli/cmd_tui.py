"""``d2 tui``: open the Textual inspector (policy, explain, live decisions, bundles).

Textual is imported only when the command runs, so every other ``d2`` command starts without it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from ._common import EXIT_USAGE, fail, usage_error

__all__ = ["register", "tui"]

_HELP = """Inspect a policy, explain calls, watch live decisions and check bundles in a terminal UI.

PATH is a policy file or a signed bundle file; without it, the policy the runtime would load
(found as `d2 diagnose` finds it). Keys: 1-4 switch views, / filters, ctrl+p opens the command
palette, ? lists every key, q quits.

Examples:

    d2 tui --demo

    d2 tui policy.yaml --coverage report.json --log decisions.jsonl

    d2 tui --stream unix:/tmp/app-d2.sock

    d2 tui policy.yaml --server https://cp.example --app shop   # what publishing would change
"""


def register(app: typer.Typer) -> None:
    """Add ``d2 tui`` to the app."""
    app.command("tui", help=_HELP)(tui)


def tui(
    path: Annotated[Path | None, typer.Argument(help="A policy file or a signed bundle file.")] = None,
    demo: Annotated[
        bool, typer.Option("--demo", help="Run a simulated agent on an example policy and show it.")
    ] = False,
    state: Annotated[bool, typer.Option("--state", help="Open the bundles the SDK cached locally.")] = False,
    server: Annotated[
        str | None, typer.Option("--server", metavar="URL", help="Pull the published bundle (uses D2_TOKEN).")
    ] = None,
    app_name: Annotated[str | None, typer.Option("--app", metavar="APP", help="The app to pull.")] = None,
    jwks: Annotated[
        Path | None, typer.Option("--jwks", metavar="FILE", help="Key set that verifies a bundle file.")
    ] = None,
    diff: Annotated[
        Path | None,
        typer.Option("--diff", metavar="OTHER", help="Diff OTHER (policy or bundle) to this one."),
    ] = None,
    coverage: Annotated[
        Path | None,
        typer.Option("--coverage", metavar="REPORT", help="A `d2 test --coverage --format json` report."),
    ] = None,
    log: Annotated[
        list[Path] | None, typer.Option("--log", metavar="FILE", help="Follow a JSONL decision log.")
    ] = None,
    stream: Annotated[
        list[str] | None,
        typer.Option(
            "--stream",
            metavar="ADDRESS",
            help="Subscribe to an app's decision stream (default: D2_DECISION_STREAM when set).",
        ),
    ] = None,
) -> None:
    """Open the inspector."""
    sources = sum(bool(x) for x in (path, demo, state, server))
    if sources > 1 and not (path and server and sources == 2):
        usage_error(
            "give one of PATH, --demo, --state or --server (or PATH with --server to diff against it)"
        )
    if app_name and not server:
        usage_error("--app needs --server URL", param_hint="--app")
    try:
        from d2tools.tui import TuiOptions, make_tui
    except ImportError as exc:
        fail(f"d2 tui needs Textual ({exc}); install it with: pip install 'd2-guard[cli]'", code=EXIT_USAGE)
    streams = list(stream or [])
    if not streams and not demo and os.environ.get("D2_DECISION_STREAM"):
        streams.append(os.environ["D2_DECISION_STREAM"])
    options = TuiOptions(
        path=path,
        state=state,
        server=server,
        app=app_name,
        jwks=jwks,
        diff=diff,
        coverage=coverage,
        logs=tuple(log or ()),
        streams=tuple(streams),
        demo=demo,
    )
    make_tui(options).run()
