"""Fixtures for ``d2 test`` tests: scenario fixture paths, a tmp project writer, and an in-process CLI."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from d2tools.cli import main

SCENARIOS = Path(__file__).resolve().parents[2] / "fixtures" / "scenarios"
SEEDS = SCENARIOS / "seeds"
BROKEN = SCENARIOS / "broken"
REPO = Path(__file__).resolve().parents[3]


@dataclass(frozen=True)
class CliResult:
    """Exit code and output of one ``d2`` run."""

    code: int
    out: str
    err: str

    @property
    def last_line(self) -> str:
        return self.out.rstrip("\n").rsplit("\n", 1)[-1]


CliRunner = Callable[..., CliResult]
Writer = Callable[..., Path]


@pytest.fixture
def d2_cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """Return ``run(*args) -> CliResult`` for ``d2 ARGS`` run in-process, without colour."""
    monkeypatch.setenv("NO_COLOR", "1")

    def run(*args: str | Path) -> CliResult:
        capsys.readouterr()
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Writer:
    """Return ``write(name, text) -> path``: files in a temporary project that is the working directory."""
    monkeypatch.chdir(tmp_path)

    def write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return write


RBAC_POLICY = """
    policies:
      - role: viewer
        permissions:
          - billing.read
          - tool: billing.refund
            conditions:
              input:
                amount: {type: int, max: 100}
      - role: admin
        permissions: ["*"]
      - role: intern
        permissions:
          - tool: billing.refund
            allow: false
"""
