"""The app as a whole: help with examples, exit codes, colour rules, module registration, ``python -m d2``."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

from d2tools.cli import _common, app

COMMANDS = ("init", "lint", "diagnose", "inspect")
ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_an_example(cli, command: str) -> None:
    result = cli(command, "--help")
    assert result.code == 0
    assert "Example" in result.out and f"d2 {command}" in result.out


def test_top_level_help_lists_the_commands(cli) -> None:
    result = cli("--help")
    assert result.code == 0
    for command in COMMANDS:
        assert command in result.out


@pytest.mark.parametrize(
    "args",
    [
        ("bogus",),
        ("lint", "--bogus"),
        ("lint", "--format", "xml"),
        ("init", "--path", "no/such/dir"),
        ("inspect", "--arg", "x=1"),
        ("diagnose", "--format", "sarif"),
        (),
    ],
)
def test_usage_errors_exit_2(cli, args: tuple[str, ...]) -> None:
    assert cli(*args).code == 2


def test_machine_output_has_no_colour_codes(cli, lint_policy_with_findings: Path) -> None:
    for fmt in ("text", "json", "github", "sarif"):
        result = cli("lint", "--format", fmt, lint_policy_with_findings)
        assert result.code == 1 and "\x1b[" not in result.out


class _Tty:
    def isatty(self) -> bool:
        return True


def test_colour_only_on_a_tty_and_never_with_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert _common.use_color(_Tty()) is True
    assert _common.use_color(types.SimpleNamespace()) is False
    monkeypatch.setenv("NO_COLOR", "1")
    assert _common.use_color(_Tty()) is False


def test_console_off_a_tty_is_plain_and_does_not_wrap(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    console = _common.make_console()
    assert console.no_color and not console.is_terminal
    console.print("[bold]x[/bold] " + "y" * 150)
    out = capsys.readouterr().out
    assert out == "x " + "y" * 150 + "\n"


def test_optional_command_module_may_be_absent_but_not_broken(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.import_module

    def fake(name: str, package: str | None = None) -> types.ModuleType:
        if name.endswith(".cmd_cloud"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        if name.endswith(".cmd_test"):
            raise ModuleNotFoundError("No module named 'somedep'", name="somedep")
        return real(name, package)

    monkeypatch.setattr(app.importlib, "import_module", fake)
    assert app._import_command("cmd_cloud") is None
    with pytest.raises(ModuleNotFoundError):
        app._import_command("cmd_test")  # a missing dependency of an existing module must surface
    with pytest.raises(ModuleNotFoundError):
        monkeypatch.setattr(
            app.importlib,
            "import_module",
            lambda n, p=None: (_ for _ in ()).throw(ModuleNotFoundError(name=n)),
        )
        app._import_command("cmd_lint")  # our own commands are never optional


def test_python_dash_m_d2_reaches_the_cli() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "d2", "lint", "--help"], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert proc.returncode == 0 and "d2 lint" in proc.stdout


def test_console_script_exit_codes(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from d2tools.cli import main; sys.exit(main(['lint', 'missing.yaml']))",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert proc.returncode == 1 and "D2E700" in proc.stdout


def test_import_d2_stays_light() -> None:
    code = (
        "import sys, d2\n"
        "heavy = [m for m in ('d2tools', 'typer', 'rich', 'libcst', 'click') if m in sys.modules]\n"
        "print(heavy)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == "[]"


def test_progress_bar_only_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from d2tools.cli._progress import MIN_FILES_FOR_BAR, scan_progress

    with scan_progress() as callback:
        assert callback is None  # captured stderr is not a terminal

    class FakeTty(io.StringIO):
        def isatty(self) -> bool:
            return True

    fake = FakeTty()
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setattr(sys, "stderr", fake)
    with scan_progress() as callback:
        assert callback is not None
        callback(0, MIN_FILES_FOR_BAR)
        callback(MIN_FILES_FOR_BAR, MIN_FILES_FOR_BAR)
    monkeypatch.setenv("NO_COLOR", "1")
    with scan_progress() as callback:
        assert callback is None
