"""Request-scoped restrictions only ever narrow: they compose, end with their block, and travel."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import d2

POLICY = """
metadata:
  tool_groups:
    payments: [pay.send, pay.schedule]
policies:
  - role: agent
    permissions:
      - bills.read
      - mail.send
      - pay.schedule
      - tool: pay.send
        conditions:
          input:
            amount: {type: int, min: 1, max: 100}
  - role: admin
    permissions: ["*"]
"""


@pytest.fixture
def tools(write_policy):  # type: ignore[no-untyped-def]
    d2.configure_rbac_sync(write_policy(POLICY))

    @d2.d2_guard("bills.read")
    def read_bill() -> str:
        return "bill"

    @d2.d2_guard("mail.send")
    def send_mail(to: str) -> str:
        return f"mailed {to}"

    @d2.d2_guard("pay.send")
    def pay(recipient: str, amount: int) -> str:
        return f"paid {amount} to {recipient}"

    @d2.d2_guard("admin.nuke")
    def nuke() -> str:
        return "boom"

    return read_bill, send_mail, pay, nuke


def test_restriction_removes_tools_and_names_itself(tools) -> None:  # type: ignore[no-untyped-def]
    read_bill, send_mail, _, _ = tools
    with d2.set_user_context("u", ["agent"]):
        assert send_mail("a@x") == "mailed a@x"
        with d2.restrict(tools=["bills.read", "@payments"], name="pay-bill"):
            assert read_bill() == "bill"
            with pytest.raises(d2.PermissionDeniedError) as info:
                send_mail("attacker@evil")
        assert send_mail("a@x") == "mailed a@x"
    assert info.value.reason == "restriction"
    assert "pay-bill" in str(info.value)


def test_restriction_conditions_bind_arguments(tools) -> None:  # type: ignore[no-untyped-def]
    _, _, pay, _ = tools
    with (
        d2.set_user_context("u", ["agent"]),
        d2.restrict(
            conditions={
                "pay.send": {"input": {"recipient": {"in": ["acme-utilities"]}, "amount": {"max": 80}}}
            }
        ),
    ):
        assert pay("acme-utilities", 75) == "paid 75 to acme-utilities"
        with pytest.raises(d2.PermissionDeniedError) as wrong_payee:
            pay("attacker-iban", 75)
        with pytest.raises(d2.PermissionDeniedError) as too_much:
            pay("acme-utilities", 90)
    assert wrong_payee.value.reason == "restriction" and wrong_payee.value.value == "attacker-iban"
    assert too_much.value.reason == "restriction"


@pytest.mark.parametrize(
    "fragment",
    [
        {"tools": ["admin.nuke", "bills.read"]},  # a tool the role does not hold
        {"conditions": {"pay.send": {"input": {"amount": {"max": 100000}}}}},  # a looser bound
        {"tools": ["@payments", "mail.send", "bills.read", "admin.nuke", "pay.send"]},
        {},
    ],
)
def test_restrictions_can_never_widen(tools, fragment) -> None:  # type: ignore[no-untyped-def]
    _, _, pay, nuke = tools
    with d2.set_user_context("u", ["agent"]), d2.restrict(fragment):
        with pytest.raises(d2.PermissionDeniedError) as not_granted:
            nuke()
        with pytest.raises(d2.PermissionDeniedError) as over_policy_bound:
            pay("acme", 500)
    assert not_granted.value.reason == "unknown_tool"
    assert over_policy_bound.value.reason == "input_validation"


def test_wildcard_in_a_restriction_is_refused(tools) -> None:  # type: ignore[no-untyped-def]
    with d2.set_user_context("u", ["agent"]), pytest.raises(d2.ConfigurationError, match=r"tools\[0\].*'\*'"):
        d2.restrict(tools=["*"])


def test_invalid_fragment_reports_paths_into_it(tools) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(d2.ConfigurationError) as info:
        d2.restrict({"tool": ["x"], "conditions": {"pay.send": {"input": {"amount": {"maximum": 3}}}}})
    text = str(info.value)
    assert "unknown key 'tool'" in text and "did you mean 'tools'" in text
    assert "conditions.pay.send.input.amount.maximum" in text and "did you mean 'max'" in text


def test_restriction_applies_to_admins_too(tools) -> None:  # type: ignore[no-untyped-def]
    *_, nuke = tools
    with d2.set_user_context("root", ["admin"]):
        assert nuke() == "boom"
        with d2.restrict(deny=["admin.nuke"]), pytest.raises(d2.PermissionDeniedError):
            nuke()


def test_nested_restrictions_compose_and_restore(tools) -> None:  # type: ignore[no-untyped-def]
    read_bill, send_mail, pay, _ = tools
    with d2.set_user_context("u", ["agent"]):
        with d2.restrict(tools=["bills.read", "mail.send"]):
            assert send_mail("a") == "mailed a"
            with d2.restrict(tools=["bills.read", "pay.send"]):
                assert read_bill() == "bill"
                with pytest.raises(d2.PermissionDeniedError):
                    send_mail("a")  # outer allows, inner does not
                with pytest.raises(d2.PermissionDeniedError):
                    pay("x", 5)  # inner allows, outer does not
            assert send_mail("a") == "mailed a"
        assert pay("x", 5) == "paid 5 to x"


def test_restrictions_travel_to_tasks_and_threads(tools) -> None:  # type: ignore[no-untyped-def]
    _, send_mail, _, _ = tools

    async def main() -> list[bool]:
        with d2.restrict(tools=["bills.read"]):
            results = await asyncio.gather(asyncio.to_thread(_refused, send_mail), _async_refused(send_mail))
            with ThreadPoolExecutor(1) as pool:
                results.append(d2.threads.submit_with_context(pool, _refused, send_mail).result())
            return results

    with d2.set_user_context("u", ["agent"]):
        assert asyncio.run(main()) == [True, True, True]


def _refused(fn) -> bool:  # type: ignore[no-untyped-def]
    try:
        fn("a")
    except d2.PermissionDeniedError as exc:
        return exc.reason == "restriction"
    return False


async def _async_refused(fn) -> bool:  # type: ignore[no-untyped-def]
    return _refused(fn)


def test_restrict_needs_a_user(tools) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(d2.D2NoContextError), d2.restrict(tools=["bills.read"]):
        pass


def test_restriction_sequence_rules(tools) -> None:  # type: ignore[no-untyped-def]
    read_bill, send_mail, _, _ = tools
    with d2.set_user_context("u", ["agent"]):
        send_mail("before")  # calls before the restriction do not count towards its patterns
        with d2.restrict(
            sequence=[{"deny": ["bills.read", "mail.send"], "reason": "no mail after reading bills"}]
        ):
            assert send_mail("ok") == "mailed ok"
            assert read_bill() == "bill"
            with pytest.raises(d2.PermissionDeniedError) as info:
                send_mail("leak")
    assert info.value.reason == "restriction"
    assert "no mail after reading bills" in str(info.value)


def test_restricted_group_expands_with_the_policy_groups(tools, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, _, pay, _ = tools
    with d2.set_user_context("u", ["agent"]), d2.restrict(tools=["@payments"]):
        assert pay("x", 3) == "paid 3 to x"
    with (
        d2.set_user_context("u", ["agent"]),
        pytest.raises(d2.ConfigurationError, match="undefined tool group"),
    ):
        d2.restrict(tools=["@paymentz"])
