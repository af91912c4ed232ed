"""``d2 test`` options: -k selection, exit codes, usage errors, policy override and discovery."""

from __future__ import annotations

from pathlib import Path

import pytest

from d2tools.testing import SelectError, compile_selector

from .conftest import RBAC_POLICY, SEEDS, CliRunner, Writer


@pytest.mark.parametrize(
    ("expr", "name", "selected"),
    [
        ("viewer", "f::alice (viewer) reads", True),
        ("VIEWER", "f::alice (viewer) reads", True),
        ("viewer and not reads", "f::alice (viewer) reads", False),
        ("admin or reads", "f::alice (viewer) reads", True),
        ("not (admin or reads)", "f::alice (viewer) reads", False),
        ("rbac.d2test", "seeds/rbac.d2test.yaml::x", True),
        ("(viewer)", "f::viewer", True),
        ("a:b", "f::a:b", True),
    ],
)
def test_select_expressions(expr: str, name: str, selected: bool) -> None:
    assert compile_selector(expr)(name) is selected


@pytest.mark.parametrize("expr", ["", "and", "a and", "(a", "a)", "not", "a or or b"])
def test_bad_select_expressions(expr: str) -> None:
    with pytest.raises(SelectError):
        compile_selector(expr)


def test_k_selects_cases_and_reports_deselected(d2_cli: CliRunner) -> None:
    result = d2_cli("test", SEEDS / "rbac.d2test.yaml", "-k", "alice and not read")
    assert result.code == 0
    assert [line for line in result.out.splitlines() if line.startswith("PASS")] == [
        "PASS  tests/fixtures/scenarios/seeds/rbac.d2test.yaml::alice (viewer) database:delete_user -> deny"
    ]
    assert "(5 deselected by -k)" in result.out
    assert result.last_line == "1 passed, 0 failed"


def test_usage_errors_exit_2(d2_cli: CliRunner, project: Writer) -> None:
    bad_k = d2_cli("test", SEEDS, "-k", "a and")
    assert bad_k.code == 2
    assert "-k 'a and': expected a word, found the end" in bad_k.err
    project("empty/readme.txt", "nothing here\n")
    none = d2_cli("test", "empty")
    assert none.code == 2
    assert "no scenario files (*.d2test.yaml) under empty" in none.err
    assert d2_cli("test", SEEDS, "--format", "sarif").code == 2


def test_missing_path_is_a_failure(d2_cli: CliRunner) -> None:
    result = d2_cli("test", SEEDS / "rbac.d2test.yaml", "nowhere/")
    assert result.code == 1
    assert "ERROR nowhere: nowhere: no such file or directory" in result.out


def test_policy_discovery_walks_up_from_the_scenario_file(project: Writer, d2_cli: CliRunner) -> None:
    project("pyproject.toml", "")
    project("policy.yaml", RBAC_POLICY)
    project(
        "tests/policy/viewer.d2test.yaml",
        "cases: [{name: v, roles: [viewer], steps: [{call: billing.read}]}]\n",
    )
    result = d2_cli("test", "tests")
    assert result.code == 0, result.out
    assert result.last_line == "1 passed, 0 failed"


def test_d2_policy_file_is_used_when_the_file_names_none(
    project: Writer, d2_cli: CliRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    project("pyproject.toml", "")
    env_policy = project("conf/prod.yaml", RBAC_POLICY)
    project("s/a.d2test.yaml", "cases: [{name: v, roles: [admin], steps: [{call: x}]}]\n")
    monkeypatch.setenv("D2_POLICY_FILE", str(env_policy))
    assert d2_cli("test", "s").code == 0
    monkeypatch.delenv("D2_POLICY_FILE")
    result = d2_cli("test", "s")
    assert result.code == 1
    assert "no policy found for scenarios in" in result.out


def test_policy_override_beats_the_files_policy(project: Writer, d2_cli: CliRunner) -> None:
    project("p1.yaml", RBAC_POLICY)
    project("p2.yaml", "policies: [{role: viewer, permissions: []}]\n")
    project(
        "a.d2test.yaml",
        "policy: p1.yaml\ncases: [{name: v, roles: [viewer], steps: [{call: billing.read}]}]\n",
    )
    assert d2_cli("test", ".").code == 0
    result = d2_cli("test", ".", "--policy", "p2.yaml")
    assert result.code == 1
    assert "rule:     p2.yaml" in result.out


def test_several_policies_at_one_level_is_an_error(project: Writer, d2_cli: CliRunner) -> None:
    project("policy.yaml", RBAC_POLICY)
    project("policy.json", "{}")
    project("a.d2test.yaml", "cases: [{name: v, steps: [{call: x}]}]\n")
    result = d2_cli("test", ".")
    assert result.code == 1
    assert "several policy files in" in result.out


def test_help_names_the_options(d2_cli: CliRunner) -> None:
    result = d2_cli("test", "--help")
    assert result.code == 0
    for option in (
        "--policy",
        "--code",
        "-k",
        "--format",
        "--junit-xml",
        "--coverage",
        "--coverage-min",
        "--watch",
    ):
        assert option in result.out
