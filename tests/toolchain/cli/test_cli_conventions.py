"""The conventions of docs/cli.md, checked on every command: help, ``--format``, ``--app``, ``--yes``,
``--version``, completion, ``-k`` selecting nothing, and the message when the cli extra is missing."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer

from d2tools.cli.app import build_app

ROOT = Path(__file__).resolve().parents[3]
FORMATS = {frozenset({"text", "json"}), frozenset({"text", "json", "github", "sarif"})}
# Commands whose --format names a file format, or both (init: yaml/json policies, --check reports).
FILE_FORMATS = {
    "d2 pull": frozenset({"yaml", "json"}),
    "d2 init": frozenset({"yaml", "json", "text", "github", "sarif"}),
}
REPORTS = ("lint", "diagnose", "inspect", "test", "eval", "status", "history")
CONTROL_PLANE = ("draft", "publish", "pull", "revoke", "status", "history", "diff")


# Typer vendors its own Click from 0.16 on: look at commands by shape, not by class.
def _walk(command: Any, path: str) -> Iterator[tuple[str, Any]]:
    yield path, command
    if hasattr(command, "commands"):
        for name, sub in sorted(command.commands.items()):
            yield from _walk(sub, f"{path} {name}")


ROOT_COMMAND = typer.main.get_command(build_app())
COMMANDS = list(_walk(ROOT_COMMAND, "d2"))


def _choices(option: Any) -> frozenset[str]:
    """The choices of an option, from Typer's type descriptor (0.29+) or a Click Choice type."""
    found = getattr(getattr(option, "type_descriptor", None), "choices", None)
    if found is None:
        found = getattr(getattr(option, "type", None), "choices", ())
    return frozenset(str(getattr(c, "value", c)) for c in found or ())


def _option(command: Any, flag: str) -> Any:
    return next((p for p in command.params if p.param_type_name == "option" and flag in p.opts), None)


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[p for p, _ in COMMANDS])
def test_every_command_has_help_and_shares_the_options_of_its_kind(cli, path: str, command: Any) -> None:
    words = path.split()[1:]
    outputs = {}
    for flag in ("--help", "-h"):
        result = cli(*words, flag)
        assert result.code == 0 and "Usage:" in result.out, (path, flag, result.err)
        outputs[flag] = result.out
    help_text = outputs["--help"]
    fmt = _option(command, "--format")
    if fmt is not None:
        choices = _choices(fmt)
        assert choices in FORMATS or FILE_FORMATS.get(path) == choices, (path, choices)
        assert "-f" in fmt.opts, f"{path}: --format has the short form -f everywhere"
    json_flag = _option(command, "--json")
    assert json_flag is None or json_flag.hidden, f"{path}: --json is only a hidden alias of --format json"
    assert " --json " not in help_text
    name = words[-1] if words else ""
    if len(words) == 1 and name in REPORTS:
        offered = _choices(fmt) if fmt is not None else frozenset()
        assert "json" in offered, f"{path} reports, so it offers --format json"
    if len(words) == 1 and name in CONTROL_PLANE:
        app = _option(command, "--app")
        assert app is not None and "--app-name" in app.opts, f"{path}: --app with the --app-name alias"
    if len(words) == 1 and name == "revoke":
        assert _option(command, "--yes") is not None


def test_version_and_completion(cli) -> None:
    from d2 import __version__

    result = cli("--version")
    assert result.code == 0 and result.out.strip() == f"d2 {__version__}"
    assert "--install-completion" in cli("--help").out


def test_status_help_offers_format_not_json(cli) -> None:
    out = cli("status", "--help").out
    assert "--format" in out and "--json" not in out


def test_help_never_offers_a_format_the_command_rejects(cli, tmp_path: Path) -> None:
    for args in (("diagnose",), ("inspect",), ("test", str(tmp_path))):
        out = cli(*args, "--help").out
        assert "sarif" not in out and "github" not in out, args


def test_k_selecting_nothing_is_a_usage_error(cli, tmp_path: Path) -> None:
    (tmp_path / "policy.yaml").write_text("policies:\n  - role: r\n    permissions: [t]\n")
    (tmp_path / "a.d2test.yaml").write_text("cases: [{name: one, roles: [r], steps: [{call: t}]}]\n")
    assert cli("test", tmp_path, "-k", "one").code == 0
    result = cli("test", tmp_path, "-k", "nothing_matches")
    assert result.code == 2 and "matched none of the 1 case(s)" in result.err


_BLOCK_TYPER = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name == "typer" or name.startswith("typer."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, Block())
from d2tools.cli import main
sys.exit(main(["lint", "policy.yaml"]))
"""


def test_without_the_cli_extra_the_command_says_what_to_install(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", _BLOCK_TYPER],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "pip install 'd2-guard[cli]'" in proc.stderr and "'typer'" in proc.stderr
