"""Guardrails inside the decorator: nested guards, refusals that name without echoing, signature checks."""

from __future__ import annotations

import asyncio
import inspect
from pathlib import Path
from typing import Any

import pytest

import d2

POLICY = """
policies:
  - role: agent
    permissions:
      - tool: crm.fetch
        conditions:
          output:
            ssn: {action: filter}
            card: {action: redact, matches: '\\d{12}'}
      - tool: crm.report
        conditions:
          input:
            name: {type: string, maxLength: 20}
            token: {not_matches: "sk_live_[A-Za-z0-9]+"}
          output:
            summary: {maxLength: 200, action: truncate}
            deny_if_patterns: ['\\d{3}-\\d{2}-\\d{4}']
"""

SEEN: list[Any] = []


@pytest.fixture(autouse=True)
def _policy(write_policy: Any) -> Path:
    path: Path = write_policy(POLICY)
    d2.configure_rbac_sync(path)
    SEEN.clear()
    return path


@d2.d2_guard("crm.fetch")
def fetch(customer: str) -> dict[str, Any]:
    return {"name": customer, "ssn": "123-45-6789", "card": "4111111111111111"}


@d2.d2_guard("crm.report")
def report(name: str, token: str = "none") -> dict[str, Any]:
    inner = fetch(name)
    SEEN.append(inner)
    return {"summary": f"{inner} " * 20}


@d2.d2_guard("crm.fetch")
async def afetch(customer: str) -> dict[str, Any]:
    await asyncio.sleep(0)
    return {"name": customer, "ssn": "123-45-6789", "card": "4111111111111111"}


def test_nested_guard_outer_sees_the_sanitized_inner_result() -> None:
    with d2.set_user_context("u", ["agent"]):
        out = report("alice")
    assert SEEN == [{"name": "alice", "card": "[REDACTED]1111"}]
    assert len(out["summary"]) == 200


def test_nested_guard_outer_global_rules_still_apply() -> None:
    @d2.d2_guard("crm.report")
    def leaky(name: str, token: str = "none") -> dict[str, Any]:
        return {"summary": "ssn 123-45-6789"}

    with d2.set_user_context("u", ["agent"]), pytest.raises(d2.PermissionDeniedError) as info:
        leaky("bob")
    assert info.value.reason == "output_sanitization"
    assert "123-45-6789" not in str(info.value)
    assert info.value.value == "ssn 123-45-6789"


def test_async_tool_output_is_sanitized() -> None:
    async def main() -> dict[str, Any]:
        with d2.set_user_context("u", ["agent"]):
            return await afetch("carol")

    assert asyncio.run(main()) == {"name": "carol", "card": "[REDACTED]1111"}


def test_refusal_names_parameter_operator_and_location_but_not_the_value(_policy: Path) -> None:
    secret = "sk_live_abcdef123456"
    with d2.set_user_context("u", ["agent"]), pytest.raises(d2.PermissionDeniedError) as info:
        report("alice", token=secret)
    exc = info.value
    assert exc.reason == "input_validation"
    assert "parameter 'token'" in str(exc) and "'not_matches'" in str(exc)
    line = next(i for i, text in enumerate(POLICY.splitlines(), 1) if "token: {not_matches" in text)
    col = POLICY.splitlines()[line - 1].index("not_matches") + 1
    assert exc.location == f"{_policy}:{line}:{col}"
    assert secret not in str(exc) and secret not in repr(exc.args)
    assert exc.value == secret


def test_on_deny_receives_the_input_refusal() -> None:
    @d2.d2_guard("crm.report", on_deny=lambda e: ("refused", e.reason, e.value))
    def guarded(name: str, token: str = "none") -> str:
        return "ran"

    with d2.set_user_context("u", ["agent"]):
        assert guarded("x" * 21) == ("refused", "input_validation", "x" * 21)
        assert guarded("ok") == "ran"


def test_a_condition_naming_a_missing_parameter_fails_at_decoration() -> None:
    def no_token(name: str) -> str:
        return name

    with pytest.raises(d2.ConfigurationError, match="names parameter 'token'"):
        d2.d2_guard("crm.report")(no_token)


def test_a_condition_naming_a_missing_parameter_fails_at_install(write_policy: Any) -> None:
    @d2.d2_guard("crm.report")
    def fine(name: str, token: str = "") -> str:
        return name

    typo = POLICY.replace("token: {not_matches", "tokn: {not_matches")
    with pytest.raises(d2.ConfigurationError, match="names parameter 'tokn'"):
        d2.configure_rbac_sync(write_policy(typo, "typo.yaml"))
    assert fine.__name__ == "fine"


def test_input_check_exposes_the_parameter_names(_policy: Path) -> None:
    policy = d2.get_policy_manager().policy
    assert policy is not None
    check = policy.grants["crm.report"]["agent"][0].input
    assert check is not None and check.params == frozenset({"name", "token"})
    assert str(check.location).startswith(f"{_policy}:")


def test_conditions_see_arguments_passed_through_kwargs() -> None:
    @d2.d2_guard("crm.report")
    def loose(**kwargs: Any) -> str:
        return "ran"

    with d2.set_user_context("u", ["agent"]), pytest.raises(d2.PermissionDeniedError):
        loose(name="x" * 50)


def test_binder_matches_inspect_for_the_guarded_functions() -> None:
    from d2._runtime.binding import compile_binder

    sig = inspect.signature(report)
    bind = compile_binder(sig)
    assert bind(("a",), {}) == {"name": "a", "token": "none"}
    assert bind(("a", "t"), {}) == {"name": "a", "token": "t"}
