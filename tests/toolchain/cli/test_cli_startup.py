"""A command imports its own module only: start-up is most of a short ``d2`` run (issue 15).

The table that maps each top-level command to its module must list exactly what the modules register;
the root help, completion and an unknown name still load every command.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import typer

from d2tools.cli import app

ROOT = Path(__file__).resolve().parents[3]
TINY = "metadata: {name: tiny}\npolicies:\n  - role: admin\n    permissions: ['*']\n"


def _registered(module_name: str) -> list[str] | None:
    module = app._import_command(module_name)
    if module is None:
        return None
    probe = typer.Typer()
    module.register(probe)
    names = [c.name or c.callback.__name__.replace("_", "-") for c in probe.registered_commands if c.callback]
    return names + [g.name for g in probe.registered_groups if g.name]


def test_the_table_names_every_command_of_every_module() -> None:
    found: dict[str, str] = {}
    present = set()
    for module_name in app.COMMAND_MODULES:
        names = _registered(module_name)
        if names is None:
            continue
        present.add(module_name)
        for name in names:
            assert name not in found, f"'{name}' is registered twice"
            found[name] = module_name
    assert found == {k: v for k, v in app.COMMANDS.items() if v in present}
    assert set(app.COMMANDS.values()) <= set(app.COMMAND_MODULES)


@pytest.mark.parametrize(
    ("argv", "wanted"),
    [
        (["lint", "x.yaml"], ("cmd_lint",)),
        (["-V", "lint", "--help"], ("cmd_lint",)),
        (["bundle", "ls"], ("cmd_cloud",)),
        (["diff", "1", "2"], ("cmd_versions",)),
        ([], app.COMMAND_MODULES),
        (["--help"], app.COMMAND_MODULES),
        (["lnt", "x.yaml"], app.COMMAND_MODULES),
        (None, app.COMMAND_MODULES),
    ],
)
def test_modules_loaded_for_a_command_line(argv: list[str] | None, wanted: tuple[str, ...]) -> None:
    assert app._modules_for(argv) == wanted


def test_completion_loads_every_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("_D2_COMPLETE", "bash_complete")
    assert app._modules_for(["lint"]) == app.COMMAND_MODULES


def test_a_lint_run_imports_neither_other_commands_nor_the_server(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(TINY)
    probe = (
        "import sys\n"
        "from d2tools.cli.app import run\n"
        f"code = run(['lint', {str(policy)!r}])\n"
        "print(code, ' '.join(sorted(m for m in sys.modules if m.startswith('d2tools'))))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout.splitlines()[-1]
    code, *modules = out.split()
    assert code == "0"
    assert "d2tools.cli.cmd_lint" in modules
    others = {f"d2tools.cli.{m}" for m in app.COMMAND_MODULES} - {"d2tools.cli.cmd_lint"}
    assert not others & set(modules)
    assert not any(m.startswith(("d2tools.server", "d2tools.tui", "d2tools.mcp")) for m in modules)


def _lint_run_loads(tmp_path: Path, module: str) -> bool:
    """Whether a ``d2 lint`` run (output to a pipe, as in CI) imports ``module``."""
    policy = tmp_path / "policy.yaml"
    policy.write_text(TINY)
    probe = (
        "import sys\n"
        "from d2tools.cli.app import run\n"
        f"code = run(['lint', {str(policy)!r}])\n"
        f"print(code, {module!r} in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout.splitlines()[-1]
    code, loaded = out.split()
    assert code == "0"
    return loaded == "True"


def test_a_lint_run_off_a_terminal_builds_no_rich_console(tmp_path: Path) -> None:
    # Importing and running Rich's console is ~20 ms of the run; off a terminal it only copies text.
    assert not _lint_run_loads(tmp_path, "rich.console")


def test_a_lint_run_imports_no_pydantic(tmp_path: Path) -> None:
    # typer 0.29 coerces every parameter through pydantic, ~70 ms of each run: pyproject.toml pins
    # typer below it. Failing here means an installed typer (or another import) brought it back.
    assert not _lint_run_loads(tmp_path, "pydantic")


def test_an_unknown_command_still_suggests_the_one_meant(cli) -> None:
    result = cli("lnt", "x.yaml")
    assert result.code == 2
    assert "lint" in " ".join((result.out + result.err).split())
