"""Arguments bind as the guard binds them: to the declared (or scanned) parameters, defaults applied."""

from __future__ import annotations

import pytest

import d2
from d2tools.testing import Status, run
from d2tools.testing._signature import SignatureError, from_declaration

from .conftest import CliRunner, Writer

POLICY = """
    policies:
      - role: analyst
        permissions:
          - tool: db.read
            conditions:
              input:
                limit: {type: int, min: 1, max: 100}
                offset: {type: int, min: 0}
          - plain.tool
"""


def _one(project: Writer, steps: str, tools: str = "") -> tuple[Status, str]:
    project("policy.yaml", POLICY)
    head = f"tools:\n{tools}\n" if tools else ""
    project("s.d2test.yaml", f"{head}cases:\n  - name: c\n    roles: [analyst]\n    steps:\n{steps}")
    result = run(["s.d2test.yaml"])
    assert not result.problems, result.problems
    case = result.cases[0]
    failure = case.failure
    return case.status, "" if failure is None else f"{failure.what}|{failure.expected}|{failure.actual}"


def test_positional_args_bind_to_declared_parameters(project: Writer) -> None:
    tools = '  db.read: "(limit, offset=0)"'
    assert _one(project, "      - {call: db.read, args: [5, 3]}", tools) == (Status.PASSED, "")
    status, text = _one(project, "      - {call: db.read, args: [500]}", tools)
    assert status is Status.FAILED and text == "decision|allow|deny (input_validation)"


def test_a_default_value_is_validated_like_at_run_time(project: Writer) -> None:
    tools = '  db.read: "(limit, offset=-1)"'
    _status, text = _one(project, "      - {call: db.read, args: [5]}", tools)
    assert text == "decision|allow|deny (input_validation)"


def test_list_declaration_with_defaults(project: Writer) -> None:
    tools = "  db.read: [limit, {offset: 7}]"
    steps = "      - {call: db.read, args: [5], expect: allow}\n      - {call: db.read, args: [5, -2], expect: deny}"
    assert _one(project, steps, tools) == (Status.PASSED, "")


def test_arguments_that_do_not_fit_are_refused_like_the_guard(project: Writer) -> None:
    tools = '  db.read: "(limit, /, offset=0)"'
    steps = "      - call: db.read\n        kwargs: {limit: 5}\n        expect: {deny: input_validation, message: 'do not match the signature'}"
    assert _one(project, steps, tools) == (Status.PASSED, "")


def test_positional_args_without_parameters_are_a_clear_error(project: Writer) -> None:
    status, text = _one(project, "      - {call: db.read, args: [5]}")
    assert status is Status.FAILED
    assert text.startswith("error|a replayable step|step passes positional arguments to 'db.read'")
    assert "--code DIR" in text


def test_positional_args_are_not_bound_when_no_condition_needs_them(project: Writer) -> None:
    assert _one(project, "      - {call: plain.tool, args: [1, 2, 3]}") == (Status.PASSED, "")


def test_named_args_need_no_declaration(project: Writer) -> None:
    steps = (
        "      - {call: db.read, args: {limit: 5}}\n      - {call: db.read, args: {limit: 0}, expect: deny}"
    )
    assert _one(project, steps) == (Status.PASSED, "")


def test_condition_on_a_parameter_the_tool_lacks_is_refused_as_the_decorator_does(project: Writer) -> None:
    tools = '  db.read: "(limit)"'
    status, text = _one(project, "      - {call: db.read, args: [5]}", tools)
    assert status is Status.FAILED
    assert "input condition names parameter 'offset', but tool 'db.read' has parameters (limit)" in text


def test_kwargs_parameter_accepts_any_condition(project: Writer) -> None:
    tools = '  db.read: "(limit, **rest)"'
    assert _one(project, "      - {call: db.read, args: [5], kwargs: {offset: 1}}", tools) == (
        Status.PASSED,
        "",
    )


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("limit, offset=0", "(limit, offset=0)"),
        ("(a, /, b=[1, 2], *args, c, d='x', **kw)", "(a, /, b=[1, 2], *args, c, d='x', **kw)"),
        (["a", {"b": None}], "(a, b=None)"),
        ("()", "()"),
    ],
)
def test_declarations_parse(raw: object, shown: str) -> None:
    assert str(from_declaration("t", raw, "here").signature) == shown


@pytest.mark.parametrize(
    "raw", ["(a=1, b)", "(a, a)", "(1x)", "(a=f())", ["a", {"b": 1, "c": 2}], ["not a name"], 5]
)
def test_bad_declarations_raise(raw: object) -> None:
    with pytest.raises(SignatureError):
        from_declaration("t", raw, "here")


CODE = """
from d2 import d2_guard

LIMIT = 10

@d2_guard("db.read")
def read(limit: int, offset: int = -1) -> list[int]:
    return []

@d2_guard("db.page")
def page(limit: int, offset: int = LIMIT * 2) -> list[int]:
    return []
"""

CODE_POLICY = (
    POLICY
    + """
          - tool: db.page
            conditions:
              input:
                offset: {max: 5}
                limit: {max: 5}
"""
)


def test_code_scan_supplies_parameters_and_literal_defaults(project: Writer, d2_cli: CliRunner) -> None:
    project("src/app.py", CODE)
    project("policy.yaml", CODE_POLICY)
    project(
        "s.d2test.yaml",
        """
        cases:
          - name: scanned default -1 is validated
            roles: [analyst]
            steps:
              - {call: db.read, args: [5], expect: {deny: input_validation, message: offset}}
              - {call: db.read, args: [5, 0]}
          - name: a default the scanner cannot evaluate must be passed
            roles: [analyst]
            steps:
              - {call: db.page, args: [1]}
          - name: passing it explicitly works
            roles: [analyst]
            steps:
              - {call: db.page, args: [1, 2]}
        """,
    )
    result = d2_cli("test", ".", "--code", "src")
    assert result.code == 1
    assert "PASS  s.d2test.yaml::scanned default -1 is validated" in result.out
    assert "PASS  s.d2test.yaml::passing it explicitly works" in result.out
    assert "the default of parameter 'offset' of 'db.page' (app.py:9:1) is not a literal" in result.out
    assert result.last_line == "2 passed, 1 failed"


def test_declared_parameters_win_over_scanned_ones(project: Writer) -> None:
    project("src/app.py", CODE)
    project("policy.yaml", CODE_POLICY)
    project(
        "s.d2test.yaml",
        """
        tools:
          db.read: "(limit, offset=0)"
        cases:
          - {name: c, roles: [analyst], steps: [{call: db.read, args: [5]}]}
        """,
    )
    assert run(["."], code=["src"]).ok


def test_runtime_agreement_the_guard_decides_the_same(project: Writer) -> None:
    """The guard on the real function and the replay agree on a call whose default fails a condition."""
    policy = project("policy.yaml", POLICY.replace("db.read", "agreement.read"))
    d2.configure_rbac_sync(policy)

    @d2.d2_guard("agreement.read")
    def read(limit: int, offset: int = -1) -> int:
        return limit

    with d2.set_user_context("u", ["analyst"]):
        with pytest.raises(d2.PermissionDeniedError) as info:
            read(5)
        assert read(5, 0) == 5
    project(
        "s.d2test.yaml",
        """
        tools: {agreement.read: "(limit, offset=-1)"}
        cases:
          - name: c
            roles: [analyst]
            steps:
              - {call: agreement.read, args: [5], expect: {deny: input_validation, rule: 8}}
              - {call: agreement.read, args: [5, 0]}
        """,
    )
    result = run(["s.d2test.yaml"])
    assert result.ok, result.cases[0].failure
    assert info.value.reason == "input_validation"
    assert info.value.location is not None and info.value.location.endswith(":8:33")
