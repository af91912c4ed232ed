"""Run the ``d2`` CLI in-process, as the console script does, and capture what it prints."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from d2tools.cli import main

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
LINT_FIXTURES = FIXTURES / "lint"


@dataclass(frozen=True)
class Result:
    """Exit code and output of one CLI run."""

    code: int
    out: str
    err: str


Runner = Callable[..., Result]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Runner:
    """Return ``run(*args) -> Result``: exit code, stdout and stderr of ``d2 ARGS``."""

    def run(*args: str | Path) -> Result:
        capsys.readouterr()
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


@pytest.fixture
def billing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the billing fixture project as the working directory."""
    target = tmp_path / "billing"
    shutil.copytree(LINT_FIXTURES / "projects" / "billing", target)
    monkeypatch.chdir(target)
    return target


@pytest.fixture
def lint_policy_with_findings() -> Path:
    """A policy fixture with one error."""
    return LINT_FIXTURES / "codes" / "D2E101.yaml"
