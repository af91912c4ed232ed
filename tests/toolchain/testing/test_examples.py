"""Every example ships scenarios, and they pass; parameter lists read from the example code agree."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from d2tools.testing import run

from .conftest import REPO, CliRunner

EXAMPLES = sorted(p for p in (REPO / "examples").iterdir() if p.is_dir() and any(p.glob("*policy*.yaml")))


def test_there_are_examples() -> None:
    assert {p.name for p in EXAMPLES} >= {"quickstart", "guardrails", "sequences", "data_flow"}


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_example_scenarios_pass(example: Path) -> None:
    scenarios = example / "scenarios"
    assert list(scenarios.glob("*.d2test.yaml")), f"{example.name} has no scenarios/*.d2test.yaml"
    result = run([scenarios], coverage=True)
    assert not result.problems, result.problems
    assert result.ok, [c.failure for c in result.cases if c.failure]
    assert result.passed >= 5
    assert result.coverage is not None and result.coverage.percent >= 60


def test_scanned_parameters_agree_with_declared_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, d2_cli: CliRunner
) -> None:
    """The guardrails scenarios, without `tools:`, pass with parameter lists read from app.py."""
    example = REPO / "examples" / "guardrails"
    (source,) = example.glob("scenarios/*.d2test.yaml")
    text = source.read_text(encoding="utf-8")
    stripped = re.sub(r"\ntools:\n(?:  .*\n)+", "\n", text)
    stripped = stripped.replace("policy: ../policy.yaml", f"policy: {example / 'policy.yaml'}")
    assert "tools:" not in stripped
    (tmp_path / "s.d2test.yaml").write_text(stripped, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    declared = run([source])
    without = d2_cli("test", ".")
    assert without.code == 1 and "whose parameters are unknown" in without.out
    scanned = d2_cli("test", ".", "--code", example)
    assert scanned.code == 0, scanned.out
    assert scanned.last_line == f"{declared.passed} passed, 0 failed"
