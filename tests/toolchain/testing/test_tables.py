"""Table-driven cases: one template, many rows, values keep their types, errors point at the row."""

from __future__ import annotations

from pathlib import Path

from d2tools.testing import load_scenario_text


def _cases(text: str) -> list[tuple[str, int, object]]:
    result = load_scenario_text(text, "t.d2test.yaml", base=Path("/nonexistent"))
    assert result.scenario is not None, [d.render() for d in result.diagnostics]
    return [(c.name, c.line, c) for c in result.scenario.cases]


def test_whole_value_placeholders_keep_types() -> None:
    text = """\
cases:
  - name: "{who} x{n}"
    roles: "{roles}"
    attributes: {tenant: "{tenant}"}
    steps:
      - call: t
        args: "{args}"
        returns: "{ret}"
        expect: "{expect}"
    where:
      - {who: alice, n: 1, roles: [a, b], tenant: null, args: [1, 2], ret: {k: [1]}, expect: {deny: rbac}}
      - {who: bob, n: 2, roles: a, tenant: 7, args: {x: 1}, ret: true, expect: allow}
"""
    (n1, l1, c1), (n2, l2, c2) = _cases(text)
    assert (n1, l1, n2, l2) == ("alice x1", 11, "bob x2", 12)
    s1, s2 = c1.steps[0], c2.steps[0]  # type: ignore[attr-defined]
    assert c1.user.roles == frozenset({"a", "b"}) and c2.user.roles == frozenset({"a"})  # type: ignore[attr-defined]
    assert dict(c1.user.attributes) == {"tenant": None}  # type: ignore[attr-defined]
    assert dict(c2.user.attributes) == {"tenant": 7}  # type: ignore[attr-defined]
    assert s1.args == (1, 2) and s1.returns == {"k": [1]} and s1.expect.reason == "rbac"
    assert s2.kwargs == {"x": 1} and s2.returns is True and str(s2.expect.decision) == "allow"


def test_text_placeholders_escapes_and_keys() -> None:
    text = """\
cases:
  - name: "{{literal}} {a}-{b}"
    steps:
      - call: "svc.{a}"
        args: {"{a}_id": "id-{b}", raw: "{{not}}"}
    where:
      columns: [a, b]
      rows:
        - [user, [1, 2]]
"""
    ((name, _line, case),) = _cases(text)
    assert name == "{literal} user-[1, 2]"
    step = case.steps[0]  # type: ignore[attr-defined]
    assert step.call == "svc.user"
    assert step.kwargs == {"user_id": "id-[1, 2]", "raw": "{not}"}


def test_rows_without_placeholders_in_the_name_get_ids() -> None:
    text = """\
cases:
  - name: plain
    steps: [{call: "{tool}", expect: "{e}"}]
    where:
      columns: [tool, e]
      rows:
        - [a.b, allow]
        - [c, deny]
        - [LONG, deny]
""".replace("LONG", "x" * 100)
    names = [n for n, _l, _c in _cases(text)]
    assert names == ["plain [a.b-allow]", "plain [c-deny]", "plain [row 3]"]


def test_duplicate_rows_are_duplicate_names() -> None:
    text = """\
cases:
  - name: "{t}"
    steps: [{call: "{t}"}]
    where: [{t: a}, {t: a}]
"""
    result = load_scenario_text(text, "t.d2test.yaml", base=Path("/nonexistent"))
    assert [d.render() for d in result.diagnostics] == [
        "t.d2test.yaml:4:21: D2T103 case name 'a' is used twice in this file (first at line 4) "
        "(give each case its own name; -k, JUnit and pytest select cases by name)"
    ]


def test_errors_inside_a_row_value_point_into_the_cell() -> None:
    text = """\
cases:
  - name: "{n}"
    steps:
      - call: t
        expect: "{e}"
    where:
      - n: one
        e: allow
      - n: two
        e: {deny: rbca}
"""
    result = load_scenario_text(text, "t.d2test.yaml", base=Path("/nonexistent"))
    assert [d.render() for d in result.diagnostics] == [
        "t.d2test.yaml:10:19: D2E005 'cases[0].steps[0].expect.deny': 'rbca' is not a valid value "
        "(did you mean 'rbac'?; in row 2 of the table)"
    ]


def test_many_rows_expand_quickly() -> None:
    rows = "\n".join(f"        - [t{i}, {i}]" for i in range(2000))
    text = f"cases:\n  - name: '{{t}}'\n    steps: [{{call: '{{t}}', args: ['{{n}}']}}]\n    where:\n      columns: [t, n]\n      rows:\n{rows}\n"
    cases = _cases(text)
    assert len(cases) == 2000
    assert cases[-1][2].steps[0].args == (1999,)  # type: ignore[attr-defined]
