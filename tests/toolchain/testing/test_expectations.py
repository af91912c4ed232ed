"""What a step can expect: decision, reason, rule, message, output, facts; steps share one request."""

from __future__ import annotations

import pytest

from d2tools.testing import Status, run
from d2tools.testing._convert import parse_rule
from d2tools.testing._model import RuleRef

from .conftest import RBAC_POLICY, Writer


def _case(project: Writer, case: str, policy: str = RBAC_POLICY) -> tuple[Status, str]:
    project("policy.yaml", policy)
    project("s.d2test.yaml", "cases:\n" + case)
    result = run(["s.d2test.yaml"])
    assert not result.problems, result.problems
    assert len(result.cases) == 1
    f = result.cases[0].failure
    return result.cases[0].status, "" if f is None else f"{f.what}|{f.expected}|{f.actual}|{f.rule}|{f.note}"


def test_expect_defaults_to_allow(project: Writer) -> None:
    ok = "  - {name: c, roles: [viewer], steps: [{call: billing.read}]}\n"
    assert _case(project, ok) == (Status.PASSED, "")
    bad = "  - {name: c, roles: [viewer], steps: [{call: users.delete}]}\n"
    _status, text = _case(project, bad)
    assert text.startswith("decision|allow|deny (unknown_tool)|policy.yaml|the tool is not in the policy")


@pytest.mark.parametrize(
    ("expect", "passes"),
    [
        ("deny", True),
        ("{deny: true}", True),
        ("{deny: explicit_deny}", True),
        ("{deny: rbac}", False),
        ("{deny: explicit_deny, rule: 13}", True),
        ("{deny: explicit_deny, rule: 12}", False),
        ("{deny: explicit_deny, rule: 'policy.yaml:13'}", True),
        ("{deny: explicit_deny, rule: 'policy.yaml:13:9'}", True),
        ("{deny: explicit_deny, rule: 'policy.yaml:13:10'}", False),
        ("{deny: explicit_deny, rule: 'other.yaml:13'}", False),
        ("{deny: true, message: explicitly denied}", True),
        ("{deny: true, message: nope}", False),
        ("allow", False),
    ],
)
def test_refusal_expectations(project: Writer, expect: str, passes: bool) -> None:
    case = f"  - {{name: c, roles: [intern], steps: [{{call: billing.refund, expect: {expect}}}]}}\n"
    status, _text = _case(project, case)
    assert (status is Status.PASSED) is passes


def test_rule_of_an_allow_is_the_granting_rule(project: Writer) -> None:
    case = "  - {name: c, roles: [admin], steps: [{call: anything, expect: {rule: 10}}]}\n"
    assert _case(project, case) == (Status.PASSED, "")
    case = "  - {name: c, roles: [admin], steps: [{call: anything, expect: {rule: 3}}]}\n"
    _status, text = _case(project, case)
    assert (
        text
        == "rule|decided by the rule at 3|decided by policy.yaml:10:19|policy.yaml:10:19|role 'admin' is granted every tool ('*')"
    )


def test_conditions_decide_between_grants(project: Writer) -> None:
    steps = """
  - name: c
    roles: [viewer]
    steps:
      - {call: billing.refund, args: {amount: 50}, expect: {allow: true, rule: 5}}
      - {call: billing.refund, args: {amount: 500}, expect: {deny: input_validation, rule: 'policy.yaml:8:33'}}
"""
    assert _case(project, steps) == (Status.PASSED, "")


OUTPUT_POLICY = """
    policies:
      - role: a
        permissions:
          - tool: t
            conditions:
              output:
                secret: {action: filter}
                n: {type: int}
"""


@pytest.mark.parametrize(
    ("returns", "output", "passes"),
    [
        ("{n: 1, secret: x}", "{n: 1}", True),
        ("{n: 1, secret: x}", "{n: 1, secret: x}", False),
        ("{n: 1}", "{n: 1.0}", True),
        ("{n: true}", "{n: 1}", False),
        ("[{n: 1, secret: s}]", "[{n: 1}]", True),
        ("null", "null", True),
    ],
)
def test_output_is_compared_strictly(project: Writer, returns: str, output: str, passes: bool) -> None:
    case = f"  - {{name: c, roles: [a], steps: [{{call: t, returns: {returns}, expect: {{output: {output}}}}}]}}\n"
    status, text = _case(project, case, OUTPUT_POLICY)
    if returns == "{n: true}":
        assert text.startswith("decision|allow|deny (output_validation)")
        return
    assert (status is Status.PASSED) is passes, text


def test_output_failure_shows_both_values(project: Writer) -> None:
    case = "  - {name: c, roles: [a], steps: [{call: t, returns: {n: 1, secret: x}, expect: {output: {n: 2}}}]}\n"
    assert _case(project, case, OUTPUT_POLICY)[1].startswith('output|{"n": 2}|{"n": 1}|policy.yaml:4:9|')


def test_without_returns_output_rules_do_not_run(project: Writer) -> None:
    assert _case(project, "  - {name: c, roles: [a], steps: [{call: t}]}\n", OUTPUT_POLICY) == (
        Status.PASSED,
        "",
    )


FLOW_POLICY = """
    metadata:
      data_flow:
        labels: {read: [PII]}
        blocks: {PII: [send], MANUAL: [send]}
    policies:
      - role: a
        permissions: [read, send, other]
"""


def test_facts_are_exact_and_failures_say_what_differs(project: Writer) -> None:
    ok = "  - {name: c, roles: [a], steps: [{call: read, expect: {facts: [PII]}}, {call: other, expect: {facts: [PII]}}]}\n"
    assert _case(project, ok, FLOW_POLICY) == (Status.PASSED, "")
    bad = "  - {name: c, roles: [a], steps: [{call: read, expect: {facts: [PCI]}}]}\n"
    assert _case(project, bad, FLOW_POLICY) == (
        Status.FAILED,
        "facts|[PCI]|[PII]|None|missing PCI; unexpected PII",
    )


def test_recorded_facts_and_refused_calls_share_the_request(project: Writer) -> None:
    case = """
  - name: c
    roles: [a]
    steps:
      - {record: [MANUAL], expect: {facts: [MANUAL]}}
      - {call: send, expect: {deny: data_flow, message: MANUAL, facts: [MANUAL]}}
"""
    assert _case(project, case, FLOW_POLICY) == (Status.PASSED, "")


def test_acting_as_changes_who_not_the_request(project: Writer) -> None:
    policy = FLOW_POLICY.replace(
        "permissions: [read, send, other]",
        "permissions: [read, send, other]\n      - role: b\n        permissions: [send]",
    )
    case = """
  - name: c
    roles: [a]
    steps:
      - call: read
      - {call: send, as: {user: bot, roles: [b]}, expect: {deny: data_flow}}
      - {call: read, as: {roles: [b]}, expect: {deny: rbac}}
"""
    assert _case(project, case, policy) == (Status.PASSED, "")


def test_skip_and_stop_at_first_failure(project: Writer) -> None:
    project("policy.yaml", RBAC_POLICY)
    project(
        "s.d2test.yaml",
        """
        cases:
          - {name: skipped, skip: not today, steps: [{call: x}]}
          - {name: skipped too, skip: true, steps: [{call: x}]}
          - {name: stops, roles: [viewer], steps: [{call: billing.read}, {call: nope}, {call: billing.read}]}
        """,
    )
    result = run(["s.d2test.yaml"])
    assert [c.status for c in result.cases] == [Status.SKIPPED, Status.SKIPPED, Status.FAILED]
    assert result.cases[0].case.skip == "not today"
    assert result.cases[1].case.skip == ""
    assert result.cases[2].steps_run == 2
    assert result.summary() == "0 passed, 1 failed, 2 skipped"


def test_defaults_apply_and_cases_override(project: Writer) -> None:
    project("policy.yaml", RBAC_POLICY)
    project(
        "s.d2test.yaml",
        """
        defaults: {user: alice, roles: [viewer], attributes: {tenant: t1}}
        cases:
          - {name: inherits, steps: [{call: billing.read}]}
          - {name: overrides, roles: admin, steps: [{call: users.delete}]}
        """,
    )
    result = run(["s.d2test.yaml"])
    assert result.ok
    assert result.cases[0].case.user.user_id == "alice"
    assert result.cases[1].case.user.roles == frozenset({"admin"})
    assert dict(result.cases[1].case.user.attributes) == {"tenant": "t1"}


@pytest.mark.parametrize(
    ("raw", "ref"),
    [
        (14, RuleRef("14", None, 14)),
        ("14", RuleRef("14", None, 14)),
        ("p.yaml:14", RuleRef("p.yaml:14", "p.yaml", 14)),
        ("dir/p.yaml:14:9", RuleRef("dir/p.yaml:14:9", "dir/p.yaml", 14, 9)),
        ("C:/x/p.yaml:3", RuleRef("C:/x/p.yaml:3", "C:/x/p.yaml", 3)),
        ("p.yaml", None),
        (0, None),
        (True, None),
    ],
)
def test_rule_references(raw: object, ref: RuleRef | None) -> None:
    assert parse_rule(raw) == ref


def test_rule_file_matches_by_path_suffix() -> None:
    ref = RuleRef("policies/p.yaml:3", "policies/p.yaml", 3)
    assert ref.matches("/repo/policies/p.yaml:3:5")
    assert not ref.matches("/repo/other/p.yaml:3:5")
    assert not ref.matches("/repo/policies/p.yaml")
    assert not ref.matches(None)


def test_a_runner_bug_fails_one_case_not_the_run(project: Writer, monkeypatch: pytest.MonkeyPatch) -> None:
    import d2tools.testing._replay as replay

    def broken(*_args: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(replay, "check_step", broken)
    project("policy.yaml", RBAC_POLICY)
    project("s.d2test.yaml", "cases:\n  - {name: a, steps: [{call: x}]}\n  - {name: b, steps: [{call: y}]}\n")
    result = run(["s.d2test.yaml"])
    assert [c.status for c in result.cases] == [Status.FAILED, Status.FAILED]
    failure = result.cases[0].failure
    assert failure is not None and failure.actual == "d2 test failed: RuntimeError: boom"


def test_schema_reason_codes_match_the_runtime() -> None:
    import json

    from d2.exceptions import Reason

    from .conftest import REPO

    schema = json.loads((REPO / "schemas" / "scenario.schema.json").read_text())
    assert set(schema["$defs"]["reason"]["enum"]) == {r.value for r in Reason}


def test_restrict_steps_narrow_the_rest_of_the_request(project: Writer) -> None:
    case = """
  - name: c
    roles: [viewer]
    steps:
      - call: billing.refund
        args: {amount: 90}
      - restrict: {tools: [billing.refund], conditions: {billing.refund: {input: {amount: {max: 10}}}}}
      - {call: billing.refund, args: {amount: 90}, expect: {deny: restriction, message: "restriction 'step 2'"}}
      - {call: billing.refund, args: {amount: 5}}
      - {call: billing.read, expect: {deny: restriction, message: does not include this tool}}
      - {call: billing.refund, args: {amount: 500}, expect: {deny: input_validation}}
"""
    assert _case(project, case) == (Status.PASSED, "")


def test_an_invalid_restriction_fails_the_step_with_the_reason(project: Writer) -> None:
    case = "  - {name: c, roles: [viewer], steps: [{restrict: {tools: ['@nope']}}]}\n"
    status, text = _case(project, case)
    assert status is Status.FAILED
    assert text.startswith(
        "error|a valid restriction|invalid restriction 'step 1':\n  tools[0]: undefined tool group '@nope'"
    )


def test_restriction_shape_is_checked_at_load(project: Writer) -> None:
    from pathlib import Path

    from d2tools.testing import load_scenario_text

    text = "cases:\n  - name: c\n    steps:\n      - restrict: {tols: [a]}\n        args: [1]\n"
    result = load_scenario_text(text, "s.d2test.yaml", base=Path("/nonexistent"))
    assert [d.render() for d in result.diagnostics] == [
        "s.d2test.yaml:4:20: D2E002 unknown key 'tols' in restriction (did you mean 'tools'?)"
    ]
