"""``d2 tui`` as a command: registered, documented, checked arguments, and Textual kept out of ``import d2``."""

from __future__ import annotations

import subprocess
import sys

import pytest

from d2tools.cli.app import run


def test_help_lists_every_source(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["tui", "--help"]) == 0
    out = capsys.readouterr().out
    for option in (
        "--demo",
        "--state",
        "--server",
        "--app",
        "--jwks",
        "--diff",
        "--coverage",
        "--log",
        "--stream",
    ):
        assert option in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["tui", "policy.yaml", "--demo"], "give one of PATH, --demo, --state or --server"),
        (
            ["tui", "--state", "--server", "http://127.0.0.1:1"],
            "give one of PATH, --demo, --state or --server",
        ),
        (["tui", "--app", "shop"], "--app needs --server URL"),
    ],
)
def test_conflicting_sources_are_usage_errors(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(argv) == 2
    assert message in capsys.readouterr().err


def test_import_d2_and_other_commands_stay_free_of_textual() -> None:
    code = (
        "import sys, d2\n"
        "assert 'textual' not in sys.modules, 'import d2 imported textual'\n"
        "from d2tools.cli.app import build_app\n"
        "build_app()\n"
        "assert 'textual' not in sys.modules, 'building the CLI imported textual'\n"
        "import socket  # noqa\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_import_d2_does_not_load_the_stream_server() -> None:
    code = (
        "import sys, d2\n"
        "assert 'selectors' not in sys.modules and 'socket' not in sys.modules\n"
        "assert callable(d2.serve_decision_stream)  # public, loaded on first use\n"
        "assert 'selectors' not in sys.modules  # still: the server loads only when a stream starts\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
