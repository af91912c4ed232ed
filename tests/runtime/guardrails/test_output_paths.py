"""Output rules over real shapes: lists of rows, nested paths, '*', '**', non-dict results, no mutation."""

from __future__ import annotations

import copy
import datetime
from collections import OrderedDict
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROWS = [
    {"id": 1, "email": "a@x.io", "ssn": "111-11-1111", "salary": 50_000},
    {"id": 2, "email": "b@x.io", "ssn": "222-22-2222", "salary": 250_000},
    {"id": 3, "email": "c@x.io", "salary": 99_000},
]


def test_every_row_is_sanitized_and_conditional_actions_decide_per_row(kit: Any) -> None:
    rows = copy.deepcopy(ROWS)
    out = kit.sanitize(
        """
        ssn: {action: filter}
        salary: {max: 100000, action: redact}
        """,
        rows,
    )
    assert out == [
        {"id": 1, "email": "a@x.io", "salary": 50_000},
        {"id": 2, "email": "b@x.io", "salary": "[REDACTED]"},
        {"id": 3, "email": "c@x.io", "salary": 99_000},
    ]
    assert rows == ROWS
    assert out[2] is rows[2], "an untouched row is shared, not copied"


def test_every_row_is_validated_and_the_failing_row_is_named(kit: Any) -> None:
    violation = kit.violation("salary: {max: 200000}", copy.deepcopy(ROWS))
    assert violation.reason == "output_validation"
    assert violation.target == "[1].salary"
    assert violation.operator == "max"
    assert violation.value == 250_000


def test_required_means_present_in_every_item(kit: Any) -> None:
    rules = kit.output_rules("ssn: {required: true}")
    _out, violation = rules.apply(copy.deepcopy(ROWS), kit.state)
    assert violation is not None and violation.target == "[2].ssn" and violation.operator == "required"
    assert rules.apply(copy.deepcopy(ROWS[:2]), kit.state)[1] is None
    assert rules.apply([], kit.state)[1] is None


def test_required_along_a_nested_path(kit: Any) -> None:
    rules = kit.output_rules("user.email: {required: true}")
    assert rules.apply({"user": {"email": "x"}}, kit.state)[1] is None
    for value in ({}, {"user": {}}, {"user": None}, {"user": "alice"}):
        violation = rules.apply(value, kit.state)[1]
        assert violation is not None and violation.operator == "required", value


def test_nested_paths_map_over_lists_on_the_way(kit: Any) -> None:
    value = {"teams": [{"members": [{"name": "a", "ssn": "1"}, {"name": "b", "ssn": "2"}]}, {"members": []}]}
    out = kit.sanitize("teams.members.ssn: {action: filter}", value)
    assert out == {"teams": [{"members": [{"name": "a"}, {"name": "b"}]}, {"members": []}]}
    assert value["teams"][0]["members"][0]["ssn"] == "1"


def test_lists_of_lists_are_transparent(kit: Any) -> None:
    out = kit.sanitize("secret: {action: redact}", [[{"secret": 1}], [{"secret": 2, "k": 3}]])
    assert out == [[{"secret": "[REDACTED]"}], [{"secret": "[REDACTED]", "k": 3}]]


def test_any_depth_strips_every_occurrence(kit: Any) -> None:
    value = {
        "ssn": "top",
        "user": {"ssn": "u", "kids": [{"ssn": "k1"}, {"name": "k2", "docs": {"ssn": "deep"}}]},
        "tags": ["ssn"],
    }
    before = copy.deepcopy(value)
    out = kit.sanitize("'**.ssn': {action: filter}", value)
    assert out == {"user": {"kids": [{}, {"name": "k2", "docs": {}}]}, "tags": ["ssn"]}
    assert value == before


def test_any_depth_below_a_prefix(kit: Any) -> None:
    value = {"public": {"ssn": "keep"}, "private": {"a": {"ssn": "x"}, "b": [{"ssn": "y"}]}}
    out = kit.sanitize("private.**.ssn: {action: redact}", value)
    assert out == {
        "public": {"ssn": "keep"},
        "private": {"a": {"ssn": "[REDACTED]"}, "b": [{"ssn": "[REDACTED]"}]},
    }


def test_any_depth_validation_checks_every_occurrence(kit: Any) -> None:
    violation = kit.violation("'**.age': {type: int}", {"a": {"age": 3}, "b": [{"c": {"age": "old"}}]})
    assert violation.target == "b[0].c.age" and violation.operator == "type"


def test_star_addresses_elements_and_values(kit: Any) -> None:
    assert kit.sanitize("tags.*: {in: [a, b], action: filter}", {"tags": ["a", "x", "b", "y"]}) == {
        "tags": ["a", "b"]
    }
    by_id = {"users": {"u1": {"ssn": 1, "n": 1}, "u2": {"ssn": 2, "n": 2}}}
    assert kit.sanitize("users.*.ssn: {action: filter}", by_id) == {"users": {"u1": {"n": 1}, "u2": {"n": 2}}}
    violation = kit.violation("scores.*: {min: 0}", {"scores": [1, 5, -3]})
    assert violation.target == "scores[2]"


def test_truncate_keeps_a_prefix_of_strings_and_lists(kit: Any) -> None:
    rules = """
    items: {maxLength: 2, action: truncate}
    note: {maxLength: 3, action: truncate}
    count: {maxLength: 1, action: truncate}
    """
    value = {"items": (1, 2, 3), "note": "abcdef", "count": 12345}
    assert kit.sanitize(rules, value) == {"items": (1, 2), "note": "abc", "count": 12345}


def test_deny_action_and_required_deny(kit: Any) -> None:
    violation = kit.violation("status: {eq: ok, action: deny}", [{"status": "ok"}, {"status": "bad"}])
    assert violation.reason == "output_sanitization" and violation.target == "[1].status"
    assert violation.operator == "eq"
    assert kit.violation("token: {action: deny}", {"token": "t"}).operator == "action"
    missing = kit.violation("audit: {required: true, action: deny}", {"x": 1})
    assert missing.reason == "output_sanitization" and missing.operator == "required"


def test_redact_matches_inside_numbers_and_containers(kit: Any) -> None:
    rules = r"card: {action: redact, matches: '\d{12}'}"
    assert kit.sanitize(rules, {"card": 4111111111111111}) == {"card": "[REDACTED]1111"}
    assert kit.sanitize(rules, {"card": "no digits"}) == {"card": "no digits"}
    assert kit.sanitize(rules, {"card": {"n": "4111111111111111"}}) == {"card": "[REDACTED]"}
    assert kit.sanitize(rules, {"card": None}) == {"card": None}


def test_redact_with_failed_condition_replaces_the_whole_value(kit: Any) -> None:
    rules = r"card: {type: string, action: redact, matches: '\d{12}'}"
    assert kit.sanitize(rules, {"card": ["4111111111111111"]}) == {"card": "[REDACTED]"}
    assert kit.sanitize(rules, {"card": "4111111111111111"}) == {"card": "[REDACTED]1111"}


@pytest.mark.parametrize(
    "value",
    ["plain text", 42, None, 3.5, True, b"bytes", datetime.date(2024, 1, 1), ["a", "b"], ("t",)],
)
def test_non_dict_results_pass_field_rules_untouched(kit: Any, value: Any) -> None:
    rules = """
    ssn: {action: filter}
    name: {type: string}
    """
    assert kit.sanitize(rules, value) == value


def test_non_dict_results_still_meet_the_global_rules(kit: Any) -> None:
    rules = """
    max_bytes: 10
    deny_if_patterns: ['\\d{3}-\\d{2}-\\d{4}']
    """
    assert kit.sanitize(rules, "short") == "short"
    assert kit.violation(rules, "x" * 11).operator == "max_bytes"
    assert kit.violation(rules, "ssn 123-45-6789").operator == "deny_if_patterns"
    assert kit.violation(rules, ["ok", {"k": ["123-45-6789"]}]).target == "[1].k[0]"


def test_required_on_a_non_dict_result_fails(kit: Any) -> None:
    assert kit.violation("id: {required: true}", "text").target == "id"


def test_objects_d2_cannot_look_inside_fail_closed(kit: Any) -> None:
    class Model:
        ssn = "123-45-6789"

    violation = kit.violation("ssn: {action: filter}", Model())
    assert violation.reason == "output_sanitization" and "cannot look inside" in violation.message
    assert kit.violation("user.ssn: {type: string}", {"user": Model()}).reason == "output_validation"


def test_mapping_types_are_read_and_copied_on_change(kit: Any) -> None:
    proxy = MappingProxyType({"ssn": 1, "a": 2})
    assert kit.sanitize("ssn: {action: filter}", proxy) == {"a": 2}
    ordered = OrderedDict([("b", 1), ("ssn", 2)])
    out = kit.sanitize("ssn: {action: redact}", ordered)
    assert isinstance(out, OrderedDict) and list(out.items()) == [("b", 1), ("ssn", "[REDACTED]")]
    assert ordered["ssn"] == 2


def test_globals_run_on_the_sanitized_value(kit: Any) -> None:
    rules = """
    ssn: {action: filter}
    secret: {action: redact}
    deny_if_patterns: ['\\d{3}-\\d{2}-\\d{4}', 'hunter2']
    require_fields_absent: [ssn]
    max_bytes: 60
    """
    value = {"ssn": "123-45-6789", "secret": "hunter2", "rows": [{"ssn": "123-45-6789"}]}
    violation = kit.violation(rules, value)
    assert violation.reason == "output_sanitization"
    assert violation.target == "rows[0].ssn" and violation.operator == "require_fields_absent"
    assert kit.sanitize(rules, {"ssn": "123-45-6789", "secret": "hunter2"}) == {"secret": "[REDACTED]"}


def test_deny_if_patterns_searches_keys_and_numbers(kit: Any) -> None:
    rules = "deny_if_patterns: ['(?i)password', '4111\\d{12}']"
    assert kit.violation(rules, {"Password": 1}).target == "Password"
    assert kit.violation(rules, {"n": [4111111111111111]}).target == "n[0]"
    assert kit.sanitize(rules, {"n": 1, "ok": "fine"}) == {"n": 1, "ok": "fine"}


def test_require_fields_absent_dotted_path_is_exact(kit: Any) -> None:
    rules = "require_fields_absent: [meta.debug]"
    value = {"debug": 1, "x": {"meta": {"debug": 1}}}
    assert kit.sanitize(rules, value) == value
    assert kit.violation(rules, {"meta": {"debug": True}}).target == "meta.debug"


def test_validation_runs_before_sanitization(kit: Any) -> None:
    rules = """
    salary: {type: int}
    '**.salary': {action: redact}
    """
    assert kit.violation(rules, {"salary": "n/a"}).reason == "output_validation"
    assert kit.sanitize(rules, {"salary": 5}) == {"salary": "[REDACTED]"}


def test_filter_wins_over_redact_at_one_field(kit: Any) -> None:
    rules = """
    '**.x': {action: redact}
    x: {action: filter}
    """
    assert kit.sanitize(rules, {"x": 1, "y": {"x": 2}}) == {"y": {"x": "[REDACTED]"}}


def test_a_value_nothing_changes_comes_back_as_is(kit: Any) -> None:
    value = {"rows": [{"a": 1}], "n": 2}
    assert kit.sanitize("'**.ssn': {action: filter}\nmax_bytes: 1000", value) is value


# -- property tests: the walker against plain recursive references ------------------------------------

json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=3)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(["k", "a", "b"]), inner, max_size=3)
    ),
    max_leaves=15,
)


def _strip_everywhere(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_everywhere(v) for k, v in value.items() if k != "k"}
    if isinstance(value, list):
        return [_strip_everywhere(v) for v in value]
    return value


def _redact_top(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: ("[REDACTED]" if k == "k" else v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_top(v) for v in value]
    return value


# ``kit`` holds no state, so sharing it across generated inputs is safe.
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=json_values)
def test_any_depth_filter_equals_a_recursive_strip_and_never_mutates(kit: Any, value: Any) -> None:
    before = copy.deepcopy(value)
    assert kit.sanitize("'**.k': {action: filter}", value) == _strip_everywhere(value)
    assert value == before


# ``kit`` holds no state, so sharing it across generated inputs is safe.
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=json_values)
def test_bare_name_maps_over_lists_and_never_mutates(kit: Any, value: Any) -> None:
    before = copy.deepcopy(value)
    assert kit.sanitize("k: {action: redact}", value) == _redact_top(value)
    assert value == before
