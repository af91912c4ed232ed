"""``d2 history`` and ``d2 diff``: see what each published version was before restoring one."""

from __future__ import annotations

import difflib
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from ._common import EXIT_OK, EXIT_USAGE, TextJson, emit, emit_json, fail, make_console
from .cmd_cloud import AppOpt, _call, _client

__all__ = ["register"]

_HISTORY_HELP = """List the app's published versions and revocations, newest first.

Example:

    d2 history --limit 5 && d2 diff 3 5 && d2 revoke --restore 3
"""

_DIFF_HELP = """Show what changed between two versions (default: the given one and the head).

A side may be a version number or a local file. Exit 0 whether or not they differ.

Examples:

    d2 diff 3 5

    d2 diff 5 policy.yaml      # published v5 against your local edit
"""


def register(app: typer.Typer) -> None:
    """Add ``d2 history`` and ``d2 diff`` to the app."""
    app.command("history", help=_HISTORY_HELP)(history)
    app.command("diff", help=_DIFF_HELP)(diff)


def history(
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=500, help="How many versions.")] = 20,
    output_format: Annotated[TextJson, typer.Option("--format", "-f", help="text or json.")] = TextJson.TEXT,
    app: AppOpt = None,
) -> None:
    """List versions."""
    answer = _call(_client(app).versions, limit)
    if output_format is TextJson.JSON:
        emit_json(answer)
        raise typer.Exit(EXIT_OK)
    console = make_console()
    if not answer["versions"]:
        console.print(f"{answer['app']}: nothing published yet", markup=False)
    for v in answer["versions"]:
        when = time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(v["created_at"]))
        head = "  (head)" if v["version"] == answer["head_version"] else ""
        digest = (v["sha256"] or "-")[:12]
        line = f"v{v['version']:<4} {v['kind']:<8} {when}  by {v['created_by'] or '-'}  sha256 {digest}{head}"
        console.print(line, markup=False)
    raise typer.Exit(EXIT_OK)


def diff(
    old: Annotated[str, typer.Argument(help="A version number or a local policy file.")],
    new: Annotated[str | None, typer.Argument(help="Another one (default: the head version).")] = None,
    app: AppOpt = None,
) -> None:
    """Diff two versions."""
    client = _client(app)
    if new is None:
        head = _call(client.versions, 1)["head_version"]
        if not head:
            fail("nothing is published yet: there is no head to compare with", code=EXIT_USAGE)
        new = str(head)
    a_label, a_text = _side(client, old)
    b_label, b_text = _side(client, new)
    lines = difflib.unified_diff(a_text.splitlines(True), b_text.splitlines(True), a_label, b_label)
    text = "".join(line if line.endswith("\n") else line + "\n" for line in lines)
    if text:
        emit(text.rstrip("\n"))
    else:
        make_console(stderr=True).print(f"{a_label} and {b_label} are identical", markup=False)
    raise typer.Exit(EXIT_OK)


def _side(client: Any, ref: str) -> tuple[str, str]:
    if ref.isdigit():
        answer = _call(client.version, int(ref))
        if answer["policy"] is None:
            return f"v{ref} (revoked)", ""
        return f"v{ref}", str(answer["policy"])
    path = Path(ref)
    if not path.is_file():
        fail(f"{ref} is neither a version number nor a file", code=EXIT_USAGE)
    return str(path), path.read_text(encoding="utf-8")
