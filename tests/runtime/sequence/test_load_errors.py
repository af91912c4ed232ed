"""Sequence sections that cannot be enforced as written never load; each problem names its place."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

import d2
from d2._lang.seqprogram import SequenceProgram

if TYPE_CHECKING:
    from conftest import Seq


def test_invalid_fixture_reports_every_error_with_its_location(seq: Seq) -> None:
    with pytest.raises(d2.ConfigurationError) as info:
        seq.load_fixture("invalid.yaml")
    found = {(d.code, d.line, d.col) for d in info.value.diagnostics}
    assert found == {
        ("D2E005", 9, 13),  # unknown mode 'denny'
        ("D2E005", 11, 17),  # empty pattern
        ("D2E010", 12, 18),  # undefined group '@sensitiv'
        ("D2E201", 13, 11),  # deny and allow in one rule
        ("D2E204", 14, 18),  # '*' as a step
    }
    text = str(info.value)
    assert "invalid.yaml:9:13" in text and "did you mean 'deny'?" in text
    assert "did you mean '@sensitive'?" in text


@pytest.mark.parametrize(
    ("sequence", "code", "needle"),
    [
        ("{mode: strict, rules: []}", "D2E005", "'strict' is not a valid value"),
        ("[{deny: []}]", "D2E005", "must not be empty"),
        ("[{allow: []}]", "D2E005", "must not be empty"),
        ('[{deny: ["@missing", b]}]', "D2E010", "undefined tool group '@missing'"),
        ("[{reason: why}]", "D2E201", "exactly one of 'deny' or 'allow'"),
        ("[{deny: [a], allow: [b]}]", "D2E201", "not both"),
        ('[{deny: ["*", b]}]', "D2E204", "'*' cannot be a step"),
        ("[{deny: [a, b], because: x}]", "D2E002", "unknown key 'because'"),
        ("{rules: [{deny: [a]}], mod: deny}", "D2E002", "did you mean 'mode'?"),
        ("{mode: deny}", "D2E004", "missing required key 'rules'"),
        ('"deny a then b"', "D2E003", "must be a list or a mapping"),
        ("[{deny: a}]", "D2E003", "must be a list"),
    ],
)
def test_load_errors(seq: Seq, sequence: str, code: str, needle: str) -> None:
    result = seq.compile_text(
        f"""
        policies:
          - role: r
            permissions: [a, b]
            sequence: {sequence}
        """
    )
    assert result.policy is None
    errors = [d for d in result.errors if d.code == code]
    assert errors, [d.render() for d in result.diagnostics]
    assert any(needle in d.render() for d in errors), [d.render() for d in errors]
    assert all(d.line > 0 and d.col > 0 for d in errors)


def test_misspelt_tool_in_a_pattern_is_a_warning_with_the_guess(seq: Seq) -> None:
    result = seq.compile_text(
        """
        policies:
          - role: r
            permissions: [database.read_users, web.http_request]
            sequence:
              - deny: [database.read_users, web.htp_request]
        """
    )
    assert result.policy is not None
    (warning,) = result.warnings
    assert warning.code == "D2W202" and (warning.line, warning.col) == (6, 37)
    assert "did you mean 'web.http_request'?" in warning.render()


def test_tool_granted_only_through_star_is_not_flagged(seq: Seq) -> None:
    result = seq.compile_text(
        """
        policies:
          - role: r
            permissions: ["*"]
            sequence:
              - deny: [crm.export, mail.send]
        """
    )
    assert result.policy is not None and not result.diagnostics


def test_empty_group_step_warns_that_the_rule_never_matches(seq: Seq) -> None:
    result = seq.compile_text(
        """
        metadata:
          tool_groups:
            none: []
        policies:
          - role: r
            permissions: [a]
            sequence:
              - deny: [a, "@none"]
        """
    )
    assert "D2W202" in seq.codes(result)
    assert any("never matches" in d.message for d in result.warnings)


def test_conflicting_modes_of_one_role_warn_and_deny_wins(seq: Seq) -> None:
    text = """
        policies:
          - role: r
            permissions: [a, b]
            sequence: {mode: allow, rules: [{deny: [a, b]}]}
          - role: r
            sequence: {mode: deny, rules: [{allow: [a]}]}
        """
    result = seq.compile_text(text)
    assert seq.codes(result) == ["D2W201"]
    seq.load(text)
    assert seq.play(["b"], ["r"]) == [False]


def test_deny_mode_without_allow_patterns_warns(seq: Seq) -> None:
    text = """
        policies:
          - role: r
            permissions: [a]
            sequence: {mode: deny, rules: []}
        """
    result = seq.compile_text(text)
    assert seq.codes(result) == ["D2W203"]
    seq.load(text)
    assert seq.play(["a"], ["r"]) == [False]


def test_allow_patterns_alone_compile_to_no_program(seq: Seq) -> None:
    """Allow mode with only allow patterns overrides nothing: the engine skips sequence work entirely."""
    result = seq.compile_text(
        """
        policies:
          - role: r
            permissions: [a, b]
            sequence: [{allow: [a, b]}]
        """
    )
    assert result.policy is not None and result.policy.sequence is None


def test_program_indexes_groups_by_membership_not_combinations(seq: Seq) -> None:
    sources = [f"src.t{i}" for i in range(50)]
    sinks = [f"dst.t{i}" for i in range(50)]
    result = seq.compile_text(
        f"""
        metadata:
          tool_groups:
            src: [{", ".join(sources)}]
            dst: [{", ".join(sinks)}]
        policies:
          - role: r
            permissions: ["@src", "@dst"]
            sequence:
              - deny: ["@src", "@dst"]
        """
    )
    assert result.policy is not None
    program = result.policy.sequence
    assert isinstance(program, SequenceProgram)
    assert len(program.rules) == 1
    # One index entry per source tool (for advancing), all pointing at the same rule object.
    assert set(program.advance) == set(sources)
    assert {id(rules[0]) for rules in program.advance.values()} == {id(program.rules[0])}
