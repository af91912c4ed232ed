"""``d2 fmt``: rewrite policy files in the one canonical layout, keeping every comment.

YAML goes through ruamel.yaml's round-trip mode (comments, key order and quoting kept; two-space
indents, list dashes indented under their key); JSON is re-indented by two spaces. The new text must
parse to exactly the same data as the old, or the file is left alone and the run fails: formatting
never changes what a policy means.
"""

from __future__ import annotations

import difflib
import io
from pathlib import Path
from typing import Annotated, Any

import typer

from ._common import EXIT_FINDINGS, EXIT_OK, emit, load_settings, make_console, usage_error

__all__ = ["format_text", "register"]

_HELP = """Format policy files canonically (comments kept); --check only reports, for CI.

Exit 0 when every file is (or now is) formatted, 1 when --check finds a file to reformat or a file
cannot be parsed, 2 on a usage error.

Examples:

    d2 fmt policy.yaml

    d2 fmt --check --diff policies/
"""


def register(app: typer.Typer) -> None:
    """Add ``d2 fmt`` to the app."""
    app.command("fmt", help=_HELP)(fmt)


def format_text(text: str, *, is_json: bool, label: str = "<text>") -> str:
    """Return ``text`` formatted; raise ValueError when it does not parse or formatting would change it."""
    from d2._toolkit import parse_policy_text
    from d2.exceptions import ConfigurationError

    try:
        before = parse_policy_text(text, label).data
    except ConfigurationError as exc:
        raise ValueError(str(exc).splitlines()[0]) from None
    if is_json:
        import json

        new = json.dumps(before, indent=2, ensure_ascii=False) + "\n"
    else:
        new = _yaml_round_trip(text)
    if parse_policy_text(new, label).data != before:
        raise ValueError(f"{label}: formatting would change the data; left as it is (please report this)")
    return new


def _yaml_round_trip(text: str) -> str:
    from ruamel.yaml import YAML

    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 110
    yaml.indent(mapping=2, sequence=4, offset=2)
    data: Any = yaml.load(text)
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


def fmt(
    files: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Policy files or directories (default: [tool.d2] policies, else the discovered policy).",
            show_default=False,
        ),
    ] = None,
    check: Annotated[
        bool, typer.Option("--check", help="Write nothing; exit 1 if a file would change.")
    ] = False,
    diff: Annotated[bool, typer.Option("--diff", help="Print a unified diff of each change.")] = False,
) -> None:
    """Format policy files."""
    from ._policyfiles import collect_policies

    config = load_settings()
    if files:
        missing = [f for f in files if not f.exists()]
        if missing:
            usage_error(f"{missing[0]} does not exist", param_hint="FILES")
        paths = collect_policies(files, config)
    else:
        paths = config.policy_files() or [_discovered()]
    err = make_console(stderr=True)
    changed = broken = 0
    for path in paths:
        text = path.read_text(encoding="utf-8")
        try:
            new = format_text(text, is_json=path.suffix.lower() == ".json", label=str(path))
        except ValueError as exc:
            err.print(f"error: {exc}", markup=False)
            broken += 1
            continue
        if new == text:
            continue
        changed += 1
        if diff:
            emit(
                "".join(
                    difflib.unified_diff(text.splitlines(True), new.splitlines(True), str(path), str(path))
                )
            )
        if check:
            err.print(f"would reformat {path}", markup=False)
        else:
            path.write_text(new, encoding="utf-8")
            err.print(f"reformatted {path}", markup=False)
    verb = "would be reformatted" if check else "reformatted"
    err.print(f"{changed} file(s) {verb}, {len(paths) - changed - broken} already formatted.", markup=False)
    raise typer.Exit(EXIT_FINDINGS if broken or (check and changed) else EXIT_OK)


def _discovered() -> Path:
    from .cmd_lint import _discovered as discovered

    return discovered()
