"""Every command in docs/cli.md's walkthrough runs as written, with the exit code the page states."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
DOC = ROOT / "docs" / "cli.md"


def _commands() -> list[str]:
    text = DOC.read_text(encoding="utf-8")
    blocks = re.findall(r"```bash\n(.*?)```", text, re.S)
    assert blocks, "docs/cli.md lost its walkthrough"
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip()]


def test_walkthrough_runs_start_to_finish(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(ROOT / "examples", tmp_path / "examples", ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.chdir(tmp_path)
    ran = 0
    for line in _commands():
        command, _, comment = line.partition("  #")
        words = shlex.split(command)
        if words[0] == "cd":
            monkeypatch.chdir(Path.cwd() / words[1])
            continue
        assert words[0] == "d2", line
        expected = 1 if "exits 1" in comment else 0
        result = cli(*words[1:])
        assert result.code == expected, f"{line}\n{result.out}\n{result.err}"
        ran += 1
    assert ran >= 8
