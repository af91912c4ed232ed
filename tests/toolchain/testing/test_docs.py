"""Every example in docs/testing.md runs: its files are written out and each console block's output matches."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pytest

from .conftest import REPO, CliRunner

DOC = REPO / "docs" / "testing.md"
BLOCK = re.compile(r'^```(\w+)(?: title="([^"]+)")?\n(.*?)^```$', re.S | re.M)


def _blocks() -> list[tuple[str, str | None, str]]:
    return [(m.group(1), m.group(2), m.group(3)) for m in BLOCK.finditer(DOC.read_text(encoding="utf-8"))]


def _write_files(root: Path) -> None:
    for lang, title, body in _blocks():
        if lang == "yaml" and title:
            path = root / title
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(body, encoding="utf-8")


CONSOLE = [(title, body) for lang, title, body in _blocks() if lang == "console"]


def test_the_page_has_examples() -> None:
    assert len(CONSOLE) >= 6
    assert sum(1 for lang, title, _ in _blocks() if lang == "yaml" and title) >= 9


@pytest.mark.parametrize(("title", "body"), CONSOLE, ids=[f"{t}-{i}" for i, (t, _) in enumerate(CONSOLE)])
def test_console_examples_print_what_the_page_shows(
    title: str, body: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, d2_cli: CliRunner
) -> None:
    _write_files(tmp_path)
    (tmp_path / "pyproject.toml").write_text("")
    monkeypatch.chdir(tmp_path)
    command, _, expected = body.partition("\n")
    assert command.startswith("$ d2 ")
    result = d2_cli(*shlex.split(command[len("$ d2 ") :]))
    assert result.out == expected
    assert "Traceback" not in result.err
    assert result.code == (0 if expected.rstrip().endswith(" 0 failed") else 1)


def test_python_example_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _write_files(tmp_path)
    shutil.copytree(tmp_path / "billing" / "scenarios", tmp_path / "work" / "scenarios")
    shutil.copy(tmp_path / "billing" / "policy.yaml", tmp_path / "work" / "policy.yaml")
    monkeypatch.chdir(tmp_path / "work")
    (code,) = [body for lang, _title, body in _blocks() if lang == "python"]
    exec(compile(code, str(DOC), "exec"), {})
    out = capsys.readouterr().out
    assert out.endswith("1 passed, 0 failed\n")
    assert "(2 deselected by -k)" in out
