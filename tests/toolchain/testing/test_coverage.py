"""``--coverage`` on a fixture with known unexercised rules: the exact list, the figures, the minimum."""

from __future__ import annotations

import json

from d2tools.testing import run

from .conftest import SCENARIOS, SEEDS, CliRunner, Writer

COVERAGE = SCENARIOS / "coverage"

UNCOVERED = [
    (8, 7, "label", "files.read adds CONFIDENTIAL"),
    (10, 7, "block", "PII blocks @egress"),
    (11, 7, "block", "CONFIDENTIAL blocks web.post"),
    (16, 9, "grant", "viewer may call reports.export"),
    (20, 22, "condition", "billing.refund: input amount type"),
    (20, 33, "condition", "billing.refund: input amount min"),
    (25, 22, "output rule", "crm.lookup: output status in"),
    (27, 9, "grant", "viewer may call files.read"),
    (28, 9, "grant", "viewer may call analytics.summarize"),
    (32, 9, "sequence rule", "viewer: deny [db.read -> analytics.summarize -> web.post]"),
    (36, 9, "deny", "intern is denied billing.refund"),
    (39, 38, "grant", "agent may call save"),
    (44, 11, "sequence rule", "agent: allow [summarize -> save]"),
]


def test_uncovered_rules_are_exactly_the_known_ones() -> None:
    result = run([COVERAGE], coverage=True)
    assert result.ok
    assert result.coverage is not None
    (pc,) = result.coverage.policies
    got = [(u.start[0], u.start[1], u.kind, u.label) for u in sorted(pc.uncovered, key=lambda u: u.start)]
    assert got == UNCOVERED
    assert (len(pc.covered), len(pc.units)) == (13, 26)
    assert result.coverage.percent == 50.0


def test_each_kind_of_rule_counts_when_exercised(project: Writer) -> None:
    """Adding one case per uncovered rule brings coverage to 100%."""
    project("policy.yaml", (COVERAGE / "policy.yaml").read_text())
    extra = (COVERAGE / "coverage.d2test.yaml").read_text().replace("policy: policy.yaml\n", "")
    extra += """
  - name: the rest
    steps:
      - {call: files.read, expect: {facts: [CONFIDENTIAL]}}
      - {call: web.post, expect: {deny: data_flow, message: CONFIDENTIAL}}
      - call: reports.export
      - {call: billing.refund, args: {amount: x}, expect: {deny: input_validation, message: type}}
      - {call: billing.refund, args: {amount: 0}, expect: {deny: input_validation, message: "'min'"}}
      - {call: crm.lookup, returns: {status: odd}, expect: {deny: output_validation}}
      - call: analytics.summarize
  - name: pii blocks mail
    steps:
      - call: db.read
      - {call: mail.send, expect: {deny: data_flow}}
  - name: laundering through analytics
    roles: [viewer, admin]
    steps:
      - call: db.read
      - call: analytics.summarize
      - {call: web.post, expect: {deny: sequence_violation, message: laundering}}
  - name: interns
    roles: [intern]
    steps: [{call: billing.refund, expect: {deny: explicit_deny}}]
  - name: agents save summaries
    roles: [agent]
    steps: [{call: search}, {call: summarize}, {call: save}]
"""
    project("all.d2test.yaml", extra)
    result = run(["all.d2test.yaml"], coverage=True)
    assert result.ok, [c.failure for c in result.cases if c.failure]
    assert result.coverage is not None
    assert result.coverage.policies[0].uncovered == ()
    assert result.coverage.percent == 100.0


def test_cli_coverage_report_and_minimum(d2_cli: CliRunner) -> None:
    result = d2_cli("test", COVERAGE, "--coverage")
    assert result.code == 0
    assert "coverage: 50.0% (13 of 26 rules exercised)" in result.out
    assert (
        "not exercised: tests/fixtures/scenarios/coverage/policy.yaml:36:9  deny: intern is denied billing.refund"
        in result.out
    )
    assert result.last_line == "6 passed, 0 failed"

    below = d2_cli("test", COVERAGE, "--coverage-min", "60")
    assert below.code == 1
    assert "coverage 50.0% is below the minimum 60%" in below.out
    assert below.last_line == "6 passed, 0 failed"

    assert d2_cli("test", COVERAGE, "--coverage-min", "50").code == 0


def test_json_coverage(d2_cli: CliRunner) -> None:
    result = d2_cli("test", COVERAGE, "--coverage-min", "75", "--format", "json")
    assert result.code == 1
    data = json.loads(result.out)
    cov = data["coverage"]
    assert (cov["percent"], cov["covered"], cov["total"], cov["minimum"], cov["ok"]) == (
        50.0,
        13,
        26,
        75.0,
        False,
    )
    assert data["summary"]["ok"] is False
    assert {"kind": "deny", "label": "intern is denied billing.refund", "line": 36, "col": 9} in cov[
        "policies"
    ][0]["uncovered"]


def test_coverage_spans_every_policy_tested(d2_cli: CliRunner) -> None:
    result = d2_cli("test", SEEDS, "--coverage")
    assert result.code == 0
    for name in ("rbac_policy", "input_policy", "sequence_policy", "output_policy", "dataflow_policy"):
        assert f"tests/fixtures/scenarios/seeds/{name}.yaml: " in result.out
    assert "seeds/rbac_policy.yaml: 100.0% (3/3)" in result.out
