"""Load-time validation: every guardrail mistake is found at once, with file:line:col and a fix hint."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

import d2
from d2._lang.compiler import compile_policy
from d2._lang.source import parse_policy_file

ERRORS = Path(__file__).parents[2] / "fixtures" / "policies" / "guardrails" / "errors.yaml"


def _expected() -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    for number, line in enumerate(ERRORS.read_text().splitlines(), 1):
        found = re.search(r"# expect: ([A-Z0-9 ]+)$", line)
        if found:
            out += [(number, code) for code in found.group(1).split()]
    return sorted(out)


def test_every_mistake_is_reported_once_at_its_line() -> None:
    result = compile_policy(parse_policy_file(ERRORS))
    assert result.policy is None
    assert sorted((d.line, d.code) for d in result.errors) == _expected()
    assert all(d.file == str(ERRORS) and d.col > 1 for d in result.errors)


def test_the_loader_refuses_with_all_diagnostics() -> None:
    with pytest.raises(d2.ConfigurationError) as info:
        d2.load_policy_file(ERRORS)
    assert len(info.value.diagnostics) == len(_expected())
    assert f"{ERRORS}:8:21: D2E101 unknown operator 'minimum' for 'limit' (did you mean 'min'?)" in str(
        info.value
    )


@pytest.mark.parametrize(
    ("typo", "suggestion"),
    [("minimum", "min"), ("maximum", "max"), ("minlength", "minLength"), ("minLenght", "minLength"),
     ("maxlength", "maxLength"), ("regex", "matches"), ("Type", "type"), ("MIN", "min"),
     ("starts_with", "startsWith"), ("notin", "not_in")],
)  # fmt: skip
def test_did_you_mean_for_operators(kit: Any, typo: str, suggestion: str) -> None:
    for section in ("input", "output"):
        (error,) = kit.errors_of(section, f"field: {{{typo}: 1}}")
        assert f"unknown operator '{typo}' for 'field' (did you mean '{suggestion}'?)" in error


def test_did_you_mean_for_actions(kit: Any) -> None:
    (error,) = kit.errors_of("output", "ssn: {action: redacted}")
    assert "'redacted' is not a valid value (did you mean 'redact'?)" in error


@pytest.mark.parametrize(
    ("rule", "fragment"),
    [
        ("a: {min: 1, gt: 1, max: 1}", "'gt: 1' and 'max: 1' leave no value"),
        ("a: {gt: 2, lt: 2}", "'gt: 2' and 'lt: 2'"),
        ("a: {min: .nan}", "expected a number"),
        ("a: {type: [int, null], maxLength: 3}", "'maxLength' needs a value of type str or list or dict"),
        ("a: {eq: 1, contains: [1]}", "must be a string or a number"),
        ("a: {matches: 'a{1001}'}", "RE2 allows repetition counts up to 1000"),
        ("a: {matches: '(?P<n>a)(?P=n)'}", "backreference"),
        ("a: {matches: 'abc\\Z'}", "write '\\z'"),
        ("a: {matches: '(?x) a b'}", "verbose mode"),
        ("a: {required: yes}", "true or false"),
    ],
)
def test_operand_errors(kit: Any, rule: str, fragment: str) -> None:
    errors = kit.errors_of("input", rule)
    assert errors and fragment in errors[0], errors


def test_unknown_keys_in_output_rules_name_the_field(kit: Any) -> None:
    (error,) = kit.errors_of("output", "notes: {matches: x, action: deny, regex: y}")
    assert "unknown operator 'regex' for 'notes'" in error


def test_half_anchored_matches_is_a_warning(kit: Any) -> None:
    result = kit.compile_text(kit.grant_policy("input", 'to: {matches: "@customer\\\\.com$"}'))
    assert result.policy is not None
    (warning,) = result.warnings
    assert warning.code == "D2W102" and "anchored at one end only" in warning.message


def test_a_rule_that_checks_nothing_is_a_warning(kit: Any) -> None:
    result = kit.compile_text(kit.grant_policy("output", "x: {description: nothing here}"))
    assert [w.code for w in result.warnings] == ["D2W101"]


def test_x_annotations_and_descriptions_are_allowed(kit: Any) -> None:
    rules = kit.output_rules("ssn: {action: filter, description: PII, x-owner: privacy}")
    out, violation = rules.apply({"ssn": 1}, kit.state)
    assert out == {} and violation is None
