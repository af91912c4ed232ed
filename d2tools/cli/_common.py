"""Helpers every ``d2`` command shares: consoles, exit codes, the ``--format`` option, usage errors.

Commands written by different people must behave alike: colour only on a terminal (and never with
``NO_COLOR``), exit 0 on success, 1 on findings or failures, 2 on usage errors, and machine output
(``--format json``) written plainly to stdout, never wrapped or coloured by Rich.
"""

from __future__ import annotations

import json
import os
import sys
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import typer

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

    from ._config import Config

__all__ = [
    "EXIT_FINDINGS",
    "EXIT_OK",
    "EXIT_USAGE",
    "FORMAT_HELP",
    "OutputFormat",
    "ReportFormat",
    "TextJson",
    "display_path",
    "emit",
    "emit_json",
    "fail",
    "load_settings",
    "make_console",
    "print_text",
    "usage_error",
    "use_color",
]

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2

_PIPE_WIDTH = 200
# Typer vendors Click from 0.16 on; take UsageError from whichever Click typer itself raises.
_USAGE_ERROR: type[Exception] = typer.BadParameter.__mro__[1]

FORMAT_HELP = "Output format: text for people, json for machines."


class ReportFormat(str, Enum):
    """Formats of commands that report diagnostics (``lint``, ``init --check``, ``fmt --check``)."""

    TEXT = "text"
    JSON = "json"
    GITHUB = "github"
    SARIF = "sarif"

    def __str__(self) -> str:
        return self.value


class TextJson(str, Enum):
    """Formats of every other command: a view for people, or JSON for machines.

    Commands declare one of these two enums, so ``--help`` lists exactly the formats they accept.
    """

    TEXT = "text"
    JSON = "json"

    def __str__(self) -> str:
        return self.value


OutputFormat = ReportFormat  # the older name, kept for code written against it


def load_settings() -> Config:
    """The ``[tool.d2]`` / ``.d2.toml`` settings in force; a broken settings file is a usage error."""
    from ._config import ConfigError, load_config

    try:
        return load_config()
    except ConfigError as exc:
        fail(str(exc), code=EXIT_USAGE)


def use_color(stream: Any = None) -> bool:
    """Colour only on a terminal, and never when ``NO_COLOR`` is set (https://no-color.org)."""
    if os.environ.get("NO_COLOR"):
        return False
    target = stream if stream is not None else sys.stdout
    isatty = getattr(target, "isatty", None)
    try:
        return bool(isatty()) if isatty is not None else False
    except ValueError:  # a closed stream
        return False


def make_console(stderr: bool = False) -> Console:
    """Return a Rich console for people: coloured on a TTY only, plain (and unwrapped) elsewhere."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    color = use_color(stream)
    return Console(
        file=stream,
        stderr=stderr,
        no_color=not color,
        color_system="auto" if color else None,
        force_terminal=color or None,
        highlight=False,
        emoji=False,
        soft_wrap=not color,
        # Off a terminal nothing should wrap mid-line: logs and pipes get whole lines.
        width=None if color else _PIPE_WIDTH,
    )


def print_text(text: Text, *, stderr: bool = False) -> None:
    """Print Rich text exactly as :func:`make_console` would, without building a console off a TTY.

    Off a terminal that console writes the plain characters and a newline, and importing and running
    it is ~20 ms of a short command's start-up (issue 15). Text it could still change (a tab expanded
    by cell width; blanks ending a line, which Rich before 14 trims past the width) goes through it.
    """
    stream = sys.stderr if stderr else sys.stdout
    plain = text.plain
    if use_color(stream) or "\t" in plain or any(line[-1:].isspace() for line in plain.split("\n")):
        make_console(stderr=stderr).print(text)
        return
    stream.write(plain + "\n")
    stream.flush()


def display_path(path: Path) -> Path:
    """Show a discovered path relative to the working directory when it is below it (clickable, short)."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return path


def emit(text: str) -> None:
    """Write machine output to stdout exactly as given (one trailing newline)."""
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    sys.stdout.flush()


def emit_json(value: Any) -> None:
    """Write ``value`` as indented, key-sorted JSON to stdout."""
    emit(json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str))


def usage_error(message: str, *, param_hint: str | None = None) -> NoReturn:
    """Stop with exit code 2 and a usage message, as Click does for a bad flag."""
    if param_hint is not None:
        raise typer.BadParameter(message, param_hint=param_hint)
    raise _USAGE_ERROR(message)


def fail(message: str, *, code: int = EXIT_FINDINGS) -> NoReturn:
    """Print an error to stderr and exit with ``code``."""
    from rich.text import Text

    make_console(stderr=True).print(Text.assemble(("error: ", "bold red"), message))
    raise typer.Exit(code)
