"""Malformed scenario files get file:line:col diagnostics, all at once, and never a traceback."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from d2tools.testing import load_scenario_file, load_scenario_text, run

from .conftest import SCENARIOS, CliRunner, Writer

MALFORMED = SCENARIOS / "malformed"
LOCATED = re.compile(r"^\S+\.d2test\.yaml:\d+:\d+: D2[ET]\d{3} ")


def _rendered(name: str) -> list[str]:
    result = load_scenario_file(MALFORMED / name, display=name)
    assert result.scenario is None
    return [d.render() for d in result.diagnostics]


def test_syntax_error_points_at_the_problem() -> None:
    assert _rendered("syntax.d2test.yaml") == [
        "syntax.d2test.yaml:5:1: D2E001 syntax error: expected ',' or ']', but got '<stream end>'"
    ]


def test_unknown_keys_and_values_get_did_you_mean() -> None:
    assert _rendered("typos.d2test.yaml") == [
        "typos.d2test.yaml:4:5: D2E002 unknown key 'role' in case (did you mean 'roles'?)",
        "typos.d2test.yaml:7:24: D2E005 'cases[0].steps[0].expect.deny': 'rbca' is not a valid value "
        "(did you mean 'rbac'?)",
        "typos.d2test.yaml:8:9: D2E002 unknown key 'cal' in step (did you mean 'call'?)",
    ]


def test_table_errors_point_at_the_row_cell() -> None:
    assert _rendered("table.d2test.yaml") == [
        "table.d2test.yaml:12:38: D2E003 'cases[0].steps[0].args' must be a list or a mapping, got an integer "
        "(in row 2 of the table)",
        "table.d2test.yaml:13:11: D2T102 row 3 has 2 values for 3 columns (user, tool, args) "
        "(give every row one value per column, in order)",
    ]


def test_meaning_errors_are_all_reported() -> None:
    lines = _rendered("meaning.d2test.yaml")
    codes = [line.split(": ")[1].split()[0] for line in lines]
    assert codes == ["D2T105", "D2T106", "D2T108", "D2T107", "D2T110", "D2T109", "D2T103"]
    assert lines[0].startswith(
        "meaning.d2test.yaml:1:9: D2T105 policy file '../seeds/missing_policy.yaml' not found"
    )
    assert "default 'compute()' is not a literal" in lines[1]
    assert lines[-1].startswith("meaning.d2test.yaml:13:5: D2T103 case name 'contradictions' is used twice")


def test_cli_reports_malformed_files_as_failures_without_traceback(d2_cli: CliRunner) -> None:
    result = d2_cli("test", MALFORMED)
    assert result.code == 1
    assert "Traceback" not in result.out + result.err
    assert result.last_line == "0 passed, 4 failed"
    errors = [line for line in result.out.splitlines() if line.startswith("ERROR ")]
    assert len(errors) == 4
    located = [line.strip() for line in result.out.splitlines() if LOCATED.match(line.strip())]
    assert len(located) == 1 + 3 + 2 + 7


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "1:1: D2E003 the document must be a mapping, got null"),
        ("[1, 2]", "1:1: D2E003 the document must be a mapping, got a list"),
        ("cases: []", "1:8: D2E005 'cases' must not be empty"),
        ("policy: p.yaml", "1:1: D2E004 the document is missing required key 'cases'"),
        ("cases:\n  - name: x\n    steps:\n      - call: a\n        args: 3", "5:15: D2E003"),
        ("cases:\n  - name: x\n    steps:\n      - call: a\n        expect: maybe", "5:17: D2E005"),
        (
            "cases:\n  - name: x\n    steps:\n      - {}",
            "4:9: D2T110 step 1 has none of 'call', 'record', 'restrict'",
        ),
        ("cases:\n  - name: x\n    steps:\n      - {call: a, expect: {rule: 0}}", "4:34: D2T109"),
        ("cases:\n  - {name: x, steps: [{call: a, args: {a: 1}, kwargs: {b: 2}}]}", "2:47: D2T110"),
        (
            "cases:\n  - {name: x, steps: [{call: a, expect: {deny: true, output: 1}, returns: 1}]}",
            "2:54: D2T107",
        ),
        ("tools: {a: [1]}\ncases: [{name: x, steps: [{call: a}]}]", "1:13: D2E003"),
        ("tools: {a: '(x, x)'}\ncases: [{name: x, steps: [{call: a}]}]", "1:12: D2T106"),
        (
            "cases:\n  - name: '{u}'\n    steps: [{call: a}]\n    where: {columns: [v], rows: [[1]]}",
            "2:11: D2T101",
        ),
        ("cases:\n  - name: '{u}'\n    steps: [{call: a}]\n    where: [{v: 1}]", "4:13: D2T101 row 1"),
        (
            "cases:\n  - name: x\n    steps: [{call: a}]\n    where: {columns: [1], rows: [[1]]}",
            "4:23: D2E003",
        ),
        ("x-note: free\ncases: [{name: x, x-why: ok, steps: [{call: a, x-k: 1}]}]", None),
    ],
)
def test_inline_malformed_texts(text: str, expected: str | None) -> None:
    result = load_scenario_text(text, "s.d2test.yaml", base=Path("/nonexistent"))
    rendered = [d.render() for d in result.diagnostics]
    if expected is None:
        assert rendered == []
        assert result.scenario is not None
        return
    assert result.scenario is None
    assert any(line.startswith(f"s.d2test.yaml:{expected}") for line in rendered), rendered


def test_unreadable_and_non_utf8_files(project: Writer, tmp_path: Path) -> None:
    bad = tmp_path / "bad.d2test.yaml"
    bad.write_bytes(b"cases: [\xff]")
    assert [d.render() for d in load_scenario_file(bad, display="bad").diagnostics] == [
        "bad:1:1: D2E001 file is not valid UTF-8 (byte 8)"
    ]
    missing = load_scenario_file(tmp_path / "nope.d2test.yaml", display="nope")
    assert missing.diagnostics[0].code == "D2T001"


def test_missing_paths_and_policies_are_failures(project: Writer) -> None:
    project("s.d2test.yaml", "cases: [{name: x, steps: [{call: a}]}]\n")
    result = run(["s.d2test.yaml", "nowhere"])
    messages = {p.file: p.message for p in result.problems}
    assert messages["nowhere"] == "nowhere: no such file or directory"
    assert messages["s.d2test.yaml"].startswith("no policy found for scenarios in ")
    assert result.failed == 2


def test_policy_that_does_not_load_fails_every_file_using_it(project: Writer) -> None:
    project("policy.yaml", "policies:\n  - role: a\n    permissions: ['@nope']\n")
    project("a.d2test.yaml", "cases: [{name: x, steps: [{call: a}]}]\n")
    project("b.d2test.yaml", "cases: [{name: y, steps: [{call: a}]}]\n")
    result = run(["."])
    assert [p.message for p in result.problems] == ["policy policy.yaml does not load"] * 2
    assert result.problems[0].diagnostics[0].render() == (
        "policy.yaml:3:19: D2E010 undefined tool group '@nope' (declare it under metadata.tool_groups)"
    )


def test_expired_policy_is_refused(project: Writer) -> None:
    project(
        "policy.yaml",
        "metadata: {expires: '2001-01-01T00:00:00Z'}\npolicies: [{role: a, permissions: [t]}]\n",
    )
    project("a.d2test.yaml", "cases: [{name: x, roles: [a], steps: [{call: t}]}]\n")
    result = run(["."])
    assert result.problems[0].message.startswith("policy policy.yaml expired at 2001-01-01T00:00:00+00:00")


_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8)
_json = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=12,
)
_keys = st.sampled_from(
    [
        "cases",
        "name",
        "steps",
        "call",
        "args",
        "expect",
        "where",
        "columns",
        "rows",
        "tools",
        "defaults",
        "roles",
        "returns",
        "record",
        "as",
        "deny",
        "allow",
        "rule",
    ]
)
_shaped = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_keys, inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(_json, _shaped, st.dictionaries(st.just("cases"), _shaped)))
def test_any_document_loads_or_reports_without_raising(doc: object) -> None:
    result = load_scenario_text(json.dumps(doc), "f.d2test.yaml", base=Path("/nonexistent"))
    for d in result.diagnostics:
        assert d.file == "f.d2test.yaml" and d.line >= 1 and d.col >= 1


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_any_text_loads_or_reports_without_raising(text: str) -> None:
    result = load_scenario_text(text, "f.d2test.yaml", base=Path("/nonexistent"))
    assert result.scenario is not None or result.diagnostics
