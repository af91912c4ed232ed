"""Attribute-bound conditions: operands read from the acting user's attributes, failing closed."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

import d2

# (operator, attribute value, an argument that passes, an argument that fails)
CASES: list[tuple[str, Any, Any, Any]] = [
    ("eq", "t-1", "t-1", "t-2"),
    ("ne", "t-1", "t-2", "t-1"),
    ("min", 10, 10, 9),
    ("max", 10, 10, 11),
    ("gt", 10, 11, 10),
    ("lt", 10, 9, 10),
    ("in", ["acct-1", "acct-2"], "acct-2", "attacker"),
    ("not_in", ["blocked"], "fine", "blocked"),
    ("minLength", 3, "abc", "ab"),
    ("maxLength", 3, "abc", "abcd"),
    ("matches", "[a-z]+@corp\\.example", "ann@corp.example", "ann@evil.example"),
    ("not_matches", "(?i)secret", "public", "Top SECRET"),
    ("contains", "@corp.example", "bo@corp.example", "bo@evil.example"),
    ("not_contains", "../", "a/b", "../etc"),
    ("startsWith", "https://corp.", "https://corp.example/x", "https://evil.example"),
    ("endsWith", "@corp.example", "ann@corp.example", "ann@evil.example"),
    ("max_bytes", 4, "abcd", "abcde"),
]


def load(write_policy: Any, op: str) -> Any:
    policy = f"""
policies:
  - role: r
    permissions:
      - tool: attr.tool
        conditions:
          input:
            value: {{{op}: {{$attr: user.bound}}}}
"""
    d2.configure_rbac_sync(write_policy(policy))

    @d2.d2_guard("attr.tool")
    def tool(value: Any) -> str:
        return "ran"

    return tool


@pytest.mark.parametrize(("op", "bound", "good", "bad"), CASES, ids=[c[0] for c in CASES])
def test_every_operand_operator_takes_an_attribute(write_policy, op, bound, good, bad) -> None:  # type: ignore[no-untyped-def]
    tool = load(write_policy, op)
    with d2.set_user_context("u", ["r"], attributes={"bound": bound}):
        assert tool(good) == "ran"
        with pytest.raises(d2.PermissionDeniedError) as info:
            tool(bad)
    assert info.value.reason == "input_validation"
    assert "user.bound" in str(info.value)


@pytest.mark.parametrize("op", [c[0] for c in CASES])
def test_missing_attribute_refuses_with_its_own_reason(write_policy, op) -> None:  # type: ignore[no-untyped-def]
    tool = load(write_policy, op)
    with (
        d2.set_user_context("u", ["r"], attributes={"other": 1}),
        pytest.raises(d2.PermissionDeniedError) as info,
    ):
        tool(None)  # never compared with None: `ne`/`not_in` would otherwise pass
    assert info.value.reason == "missing_attribute"
    assert "user.bound" in str(info.value) and "not set" in str(info.value)
    assert info.value.location and info.value.location.endswith(":8:21")


def test_unusable_attribute_refuses(write_policy) -> None:  # type: ignore[no-untyped-def]
    tool = load(write_policy, "in")
    with (
        d2.set_user_context("u", ["r"], attributes={"bound": "not-a-list"}),
        pytest.raises(d2.PermissionDeniedError) as info,
    ):
        tool("x")
    assert info.value.reason == "missing_attribute" and "cannot be used by 'in'" in str(info.value)


def test_attribute_operand_is_prepared_per_user(write_policy) -> None:  # type: ignore[no-untyped-def]
    tool = load(write_policy, "in")
    with d2.set_user_context("a", ["r"], attributes={"bound": ["x"]}):
        assert tool("x") == "ran"
    with d2.set_user_context("b", ["r"], attributes={"bound": ["y"]}):
        assert tool("y") == "ran"
        with pytest.raises(d2.PermissionDeniedError):
            tool("x")


TENANT_POLICY = """
policies:
  - role: analyst
    permissions:
      - tool: rows.read
        conditions:
          input:
            tenant_id: {eq: {$attr: user.tenant}}
          output:
            tenant_id: {eq: {$attr: user.tenant}}
"""


def test_tenant_isolation(write_policy) -> None:  # type: ignore[no-untyped-def]
    d2.configure_rbac_sync(write_policy(TENANT_POLICY))
    rows = {"acme": [{"tenant_id": "acme", "n": 1}], "globex": [{"tenant_id": "globex", "n": 2}]}
    leak = {"on": False}

    @d2.d2_guard("rows.read")
    def read_rows(tenant_id: str) -> list[dict[str, Any]]:
        return rows[tenant_id] + (rows["globex"] if leak["on"] else [])

    with d2.set_user_context("ann", ["analyst"], attributes={"tenant": "acme"}):
        assert read_rows("acme") == rows["acme"]
        with pytest.raises(d2.PermissionDeniedError) as other:
            read_rows("globex")
        leak["on"] = True  # a buggy query returning another tenant's rows is caught on the way out
        with pytest.raises(d2.PermissionDeniedError) as leaked:
            read_rows("acme")
    assert other.value.reason == "input_validation"
    assert leaked.value.reason == "output_validation"


def test_attribute_errors_are_load_errors() -> None:
    from d2._lang.compiler import compile_policy
    from d2._lang.source import parse_policy_text

    text = """policies:
  - role: r
    permissions:
      - tool: t
        conditions:
          input:
            a: {eq: {$attr: usr.tenant}}
            b: {eq: {$attr: user}}
            c: {eq: {$attr: user.x, extra: 1}}
            d: {type: {$attr: user.t}}
"""
    codes = [(d.code, d.line) for d in compile_policy(parse_policy_text(text, "p.yaml")).errors]
    assert ("D2E107", 7) in codes
    assert any(line == 8 for _, line in codes)
    assert any(line == 9 for _, line in codes)
    assert any(line == 10 for _, line in codes)


def test_attributes_travel_with_actors_and_threads(write_policy) -> None:  # type: ignore[no-untyped-def]
    tool = load(write_policy, "eq")
    actor = d2.UserContext("svc", frozenset({"r"}), {"bound": "svc-tenant"})
    with ThreadPoolExecutor(1) as pool, d2.set_user_context("u", ["r"], attributes={"bound": "mine"}):
        assert d2.threads.submit_with_context(pool, tool, "mine").result() == "ran"
        assert d2.threads.submit_with_context(pool, tool, "svc-tenant", actor=actor).result() == "ran"
        with pytest.raises(d2.PermissionDeniedError):
            d2.threads.submit_with_context(pool, tool, "mine", actor=actor).result()


def test_restriction_conditions_can_use_attributes(write_policy) -> None:  # type: ignore[no-untyped-def]
    d2.configure_rbac_sync(write_policy("policies:\n  - role: r\n    permissions: [pay]\n"))

    @d2.d2_guard("pay")
    def pay(to: str) -> str:
        return to

    with d2.set_user_context("u", ["r"], attributes={"payees": ["landlord"]}):
        with d2.restrict(conditions={"pay": {"input": {"to": {"in": {"$attr": "user.payees"}}}}}):
            assert pay("landlord") == "landlord"
            with pytest.raises(d2.PermissionDeniedError) as info:
                pay("attacker")
    assert info.value.reason == "restriction"
    with (
        d2.set_user_context("u", ["r"]),
        d2.restrict(conditions={"pay": {"input": {"to": {"in": {"$attr": "user.payees"}}}}}),
        pytest.raises(d2.PermissionDeniedError) as missing,
    ):
        pay("landlord")
    assert missing.value.reason == "missing_attribute"
