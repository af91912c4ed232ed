"""The public attack suite: it replays clean, and docs/injection-defence.md shows its current table."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from d2tools.testing import Status, run

ROOT = Path(__file__).resolve().parents[3]
SUITE = ROOT / "examples" / "attacks"
PAGE = ROOT / "docs" / "injection-defence.md"


@pytest.fixture(scope="module")
def report() -> ModuleType:
    spec = importlib.util.spec_from_file_location("attack_report", SUITE / "report.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["attack_report"] = module
    spec.loader.exec_module(module)
    return module


def test_d2_test_replays_the_suite_against_the_full_policies() -> None:
    result = run([SUITE])
    assert not result.problems, result.problems
    failed = [r.case.nodeid for r in result.cases if r.status is Status.FAILED]
    assert not failed, failed
    skipped = [r for r in result.cases if r.status is Status.SKIPPED]
    assert all(r.case.skip for r in skipped), "every skipped case says why"
    assert len(result.cases) >= 30


def test_the_page_shows_the_current_table(report: ModuleType) -> None:
    assert report.check(PAGE) == []


def test_each_layer_adds_protection_and_the_table_is_not_trivial(report: ModuleType) -> None:
    blocked = []
    for layer in report.LAYERS:
        total = report.Tally()
        for suite in report.SUITES:
            total.add(report.replay(suite, layer))
        blocked.append(total.blocked)
    assert blocked == sorted(blocked) and blocked[0] < blocked[-1] < total.attacks + 1
    assert 0 < blocked[0]


def test_a_tool_list_is_a_restrict_step_with_only_tools(report: ModuleType) -> None:
    from d2tools.testing import load_scenario_file

    loaded = load_scenario_file(SUITE / "payments" / "scenarios" / "payments.d2test.yaml")
    assert loaded.scenario is not None
    for case in loaded.scenario.cases:
        assert report._is_tool_list(case.steps[0]), case.name
        assert case.request is not None and "instruction" in case.request


@pytest.mark.parametrize(
    "policy", sorted(SUITE.glob("*/policy.yaml")) + sorted(SUITE.glob("*/layers/*.yaml"))
)
def test_every_layer_policy_lints_clean(policy: Path) -> None:
    from d2tools.lint import lint_file

    found = [d.render() for d in lint_file(policy).diagnostics]
    assert found == []
