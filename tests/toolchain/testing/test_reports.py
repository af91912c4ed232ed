"""Reports: a line per case, the exact closing line, JSON for machines, JUnit XML that parses."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from d2tools.testing import Status, run, to_junit_xml

from .conftest import RBAC_POLICY, SCENARIOS, CliRunner, Writer

SUITE = """
    cases:
      - {name: reads, roles: [viewer], steps: [{call: billing.read}]}
      - {name: "refund <capped> & logged", roles: [viewer], steps: [{call: billing.refund, args: {amount: 500}}]}
      - {name: later, skip: "needs \\x01 the export tool", steps: [{call: x}]}
"""


@pytest.fixture
def suite(project: Writer) -> Path:
    project("policy.yaml", RBAC_POLICY)
    return project("s.d2test.yaml", SUITE)


def test_text_report(suite: Path, d2_cli: CliRunner) -> None:
    result = d2_cli("test", ".")
    assert result.code == 1
    lines = result.out.splitlines()
    assert lines[:3] == [
        "PASS  s.d2test.yaml::reads",
        "FAIL  s.d2test.yaml::refund <capped> & logged",
        "SKIP  s.d2test.yaml::later  (needs \x01 the export tool)",
    ]
    block = result.out.split("FAIL s.d2test.yaml::refund <capped> & logged\n", 1)[1]
    assert block.splitlines()[:8] == [
        "  case s.d2test.yaml:3:5, as scenario-user [viewer], policy policy.yaml",
        "  step 1 of 1 (s.d2test.yaml:3:65): billing.refund(amount=500)",
        "    decision differs:",
        "      expected: allow",
        "      actual:   deny (input_validation)",
        "      why:      parameter 'amount' failed 'max': must be a number <= 100",
        "      rule:     policy.yaml:8:33",
        "                | amount: {type: int, max: 100}",
    ]
    assert result.last_line == "1 passed, 1 failed, 1 skipped"


@pytest.mark.parametrize(
    ("cases", "line"),
    [
        ("[{name: a, roles: [viewer], steps: [{call: billing.read}]}]", "1 passed, 0 failed"),
        ("[{name: a, steps: [{call: billing.read}]}]", "0 passed, 1 failed"),
        ("[{name: a, skip: true, steps: [{call: x}]}]", "0 passed, 0 failed, 1 skipped"),
    ],
)
def test_closing_line_is_exact(project: Writer, d2_cli: CliRunner, cases: str, line: str) -> None:
    project("policy.yaml", RBAC_POLICY)
    project("s.d2test.yaml", f"cases: {cases}\n")
    result = d2_cli("test")
    assert result.last_line == line
    assert result.code == (1 if "1 failed" in line else 0)


def test_quiet_prints_failures_only(suite: Path, d2_cli: CliRunner) -> None:
    result = d2_cli("test", "-q")
    assert "PASS  " not in result.out
    assert "FAIL s.d2test.yaml::refund <capped> & logged" in result.out


def test_json_report(suite: Path, d2_cli: CliRunner) -> None:
    result = d2_cli("test", "--format", "json")
    assert result.code == 1
    data = json.loads(result.out)
    assert data["summary"] | {"seconds": 0} == {
        "passed": 1,
        "failed": 1,
        "skipped": 1,
        "deselected": 0,
        "steps": 2,
        "seconds": 0,
        "ok": False,
        "line": "1 passed, 1 failed, 1 skipped",
    }
    failed = data["cases"][1]
    assert failed["status"] == "failed"
    assert failed["failure"] == {
        "what": "decision",
        "step": 1,
        "step_line": 3,
        "call": "billing.refund(amount=500)",
        "expected": "allow",
        "actual": "deny (input_validation)",
        "why": "parameter 'amount' failed 'max': must be a number <= 100",
        "rule": "policy.yaml:8:33",
        "rule_text": "            amount: {type: int, max: 100}",
    }
    assert data["cases"][2]["skip_reason"] == "needs \x01 the export tool"


def test_junit_xml_parses_and_counts(suite: Path, d2_cli: CliRunner, tmp_path: Path) -> None:
    target = tmp_path / "reports" / "d2.xml"
    result = d2_cli("test", "--junit-xml", target)
    assert result.code == 1
    root = ET.parse(target).getroot()
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors"), root.get("skipped")) == (
        "3",
        "1",
        "0",
        "1",
    )
    (suite_el,) = root.findall("testsuite")
    assert suite_el.get("name") == "s.d2test.yaml"
    cases = suite_el.findall("testcase")
    assert [c.get("name") for c in cases] == ["reads", "refund <capped> & logged", "later"]
    assert cases[0].find("failure") is None
    failure = cases[1].find("failure")
    assert failure is not None
    assert failure.get("type") == "decision"
    assert failure.get("message") == "decision: expected allow, got deny (input_validation)"
    assert "rule:     policy.yaml:8:33" in (failure.text or "")
    skipped = cases[2].find("skipped")
    assert skipped is not None and skipped.get("message") == "needs \ufffd the export tool"
    assert cases[1].get("file") == "s.d2test.yaml" and cases[1].get("line") == "3"


def test_junit_xml_reports_files_that_cannot_run() -> None:
    result = run([SCENARIOS / "malformed" / "typos.d2test.yaml"])
    root = ET.fromstring(to_junit_xml(result))
    assert (root.get("tests"), root.get("errors")) == ("1", "1")
    error = root.find("testsuite/testcase/error")
    assert error is not None
    assert "unknown key 'cal' in step (did you mean 'call'?)" in (error.text or "")


def test_statuses_in_results(suite: Path) -> None:
    result = run(["."])
    assert [c.status for c in result.cases] == [Status.PASSED, Status.FAILED, Status.SKIPPED]
    assert result.steps == 2
