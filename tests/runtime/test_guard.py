"""The decorator: sync/async/methods, auto ids, on_deny, strict mode, and every refusal path."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

import d2
from d2._runtime import guard as _guard

POLICY = """
metadata:
  name: guard-tests
  tool_groups:
    reports: [reports.daily, reports.weekly]
policies:
  - role: admin
    permissions: ["*"]
  - role: viewer
    permissions:
      - billing.read
      - "@reports"
      - {module}.auto_named
      - {module}.Api.Inner.method
  - role: auditor
    permissions:
      - billing.read
      - tool: billing.read
        allow: false
  - roles: [support, ops]
    permissions: [tickets.open]
"""


@pytest.fixture
def policy(write_policy) -> Path:  # type: ignore[no-untyped-def]
    path: Path = write_policy(POLICY.format(module=__name__))
    d2.configure_rbac_sync(path)
    return path


@d2.d2_guard("billing.read")
def read_billing(account: str = "acme") -> dict[str, object]:
    return {"account": account}


@d2.d2_guard("reports.daily")
async def daily_report() -> str:
    await asyncio.sleep(0)
    return "daily"


@d2.d2_guard
def auto_named() -> str:
    return "auto"


class Api:
    class Inner:
        @d2.d2_guard()
        def method(self, x: int) -> int:
            return x * 2


def test_allowed_sync_call_returns_value(policy: Path) -> None:
    with d2.set_user_context("alice", ["viewer"]):
        assert read_billing("x") == {"account": "x"}


def test_allowed_async_call_returns_value(policy: Path) -> None:
    async def main() -> str:
        with d2.set_user_context("alice", ["viewer"]):
            return await daily_report()

    assert asyncio.run(main()) == "daily"


def test_auto_ids_are_module_qualname(policy: Path) -> None:
    assert auto_named.__d2_tool_id__ == f"{__name__}.auto_named"  # type: ignore[attr-defined]
    with d2.set_user_context("alice", ["viewer"]):
        assert auto_named() == "auto"
        assert Api.Inner().method(4) == 8


def test_wildcard_grants_every_tool(policy: Path) -> None:
    @d2.d2_guard("not.named.anywhere")
    def tool() -> int:
        return 7

    with d2.set_user_context("root", ["admin"]):
        assert tool() == 7


def test_multi_role_entry_grants_each_role(policy: Path) -> None:
    @d2.d2_guard("tickets.open")
    def open_ticket() -> str:
        return "ok"

    for role in ("support", "ops"):
        with d2.set_user_context("u", [role]):
            assert open_ticket() == "ok"


@pytest.mark.parametrize(
    ("user", "roles", "call", "reason", "exc_type"),
    [
        (None, None, "read", "no_context", d2.D2NoContextError),
        ("mallory", ["intruder"], "read", "rbac", d2.PermissionDeniedError),
        ("alice", ["viewer"], "unknown", "unknown_tool", d2.PermissionDeniedError),
        ("alice", ["viewer"], "weekly_not_granted", "rbac", d2.PermissionDeniedError),
        ("ann", ["auditor"], "read", "explicit_deny", d2.PermissionDeniedError),
    ],
)
def test_refusals_carry_reason_tool_user_roles(
    policy: Path, user: str | None, roles: list[str] | None, call: str, reason: str, exc_type: type
) -> None:
    ran = []

    @d2.d2_guard("no.such.tool")
    def unknown() -> None:
        ran.append("unknown")

    @d2.d2_guard("tickets.open")
    def weekly_not_granted() -> None:
        ran.append("tickets")

    calls = {"read": read_billing, "unknown": unknown, "weekly_not_granted": weekly_not_granted}
    if user is not None:
        d2.set_user(user, roles)
    with pytest.raises(exc_type) as info:
        calls[call]()
    err = info.value
    assert err.reason == reason
    assert err.user_id == user
    assert err.roles == tuple(sorted(roles or ()))
    assert err.tool_id in ("billing.read", "no.such.tool", "tickets.open")
    assert ran == []
    assert reason in str(err)


def test_explicit_deny_names_policy_location(policy: Path) -> None:
    with d2.set_user_context("ann", ["auditor"]), pytest.raises(d2.PermissionDeniedError) as info:
        read_billing()
    assert info.value.location == f"{policy}:18:9"


def test_deny_wins_over_allow_from_another_role(policy: Path) -> None:
    with d2.set_user_context("ann", ["auditor", "viewer"]), pytest.raises(d2.PermissionDeniedError) as info:
        read_billing()
    assert info.value.reason == "explicit_deny"


def test_no_policy_loaded_refuses_with_missing_policy() -> None:
    with d2.set_user_context("alice", ["viewer"]), pytest.raises(d2.MissingPolicyError) as info:
        read_billing()
    assert info.value.reason == "no_policy"
    assert isinstance(info.value, d2.PermissionDeniedError)


def test_expiry_is_checked_on_every_call(write_policy, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    text = POLICY.format(module=__name__).replace(
        "name: guard-tests", "name: x\n  expires: '2099-01-01T00:00:00Z'"
    )
    d2.configure_rbac_sync(write_policy(text))
    with d2.set_user_context("alice", ["viewer"]):
        assert read_billing() == {"account": "acme"}
        expiry = d2.get_policy_manager().policy.expires_ts  # type: ignore[union-attr]
        monkeypatch.setattr(_guard, "time", lambda: expiry + 1)
        with pytest.raises(d2.BundleExpiredError) as info:
            read_billing()
    assert info.value.reason == "policy_expired"


def test_on_deny_value_is_returned(policy: Path) -> None:
    @d2.d2_guard("billing.write", on_deny={"error": "denied"})
    def write() -> str:
        return "written"

    with d2.set_user_context("alice", ["viewer"]):
        assert write() == {"error": "denied"}


def test_on_deny_none_is_returned_not_raised(policy: Path) -> None:
    @d2.d2_guard("billing.write", on_deny=None)
    def write() -> str:
        return "written"

    with d2.set_user_context("alice", ["viewer"]):
        assert write() is None


def test_on_deny_callable_receives_the_error(policy: Path) -> None:
    seen: list[d2.PermissionDeniedError] = []

    @d2.d2_guard("billing.write", on_deny=lambda e: seen.append(e) or "fallback")
    def write() -> str:
        return "written"

    with d2.set_user_context("alice", ["viewer"]):
        assert write() == "fallback"
    assert seen[0].reason == "unknown_tool"


def test_async_on_deny_handler_is_awaited(policy: Path) -> None:
    async def handler(err: d2.PermissionDeniedError) -> str:
        await asyncio.sleep(0)
        return f"handled {err.reason}"

    @d2.d2_guard("billing.write", on_deny=handler)
    async def write() -> str:
        return "written"

    async def main() -> str:
        with d2.set_user_context("alice", ["viewer"]):
            return await write()

    assert asyncio.run(main()) == "handled unknown_tool"


def test_bug_in_on_deny_handler_surfaces_as_itself(policy: Path) -> None:
    def handler(err: d2.PermissionDeniedError) -> None:
        raise KeyError("handler bug")

    @d2.d2_guard("billing.write", on_deny=handler)
    def write() -> str:
        return "written"

    with d2.set_user_context("alice", ["viewer"]), pytest.raises(KeyError, match="handler bug"):
        write()


@pytest.mark.parametrize("step", ["allow_plain", "authorize_general"])
def test_internal_error_fails_closed_and_never_runs_the_tool(
    policy: Path, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    """Either engine step the guard calls (the plain-grant step, then the general one) may break."""
    ran = []

    @d2.d2_guard("billing.read")
    def read() -> None:
        ran.append(1)

    def broken(*args: object) -> None:
        raise RuntimeError("engine bug")

    with d2.set_user_context("alice", ["viewer"]):
        read()  # the first call looks the grant up; the plain-grant step runs from the second on
    ran.clear()
    if step == "authorize_general":
        monkeypatch.setattr(_guard, "allow_plain", lambda *args: False)
    monkeypatch.setattr(_guard, step, broken)
    with d2.set_user_context("alice", ["viewer"]), pytest.raises(d2.PermissionDeniedError) as info:
        read()
    assert info.value.reason == "internal_error"
    assert isinstance(info.value.__cause__, RuntimeError)
    assert ran == []


def test_sync_tool_inside_running_loop_runs_inline(policy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The vendor spun an event loop per sync call (~145 µs) and blocked the loop; we run inline."""
    threads: list[int] = []

    @d2.d2_guard("billing.read")
    def read() -> str:
        threads.append(threading.get_ident())
        return "ok"

    def no_new_loops(*args: object, **kwargs: object) -> None:
        raise AssertionError("the guard must not create an event loop per call")

    async def main() -> str:
        monkeypatch.setattr(asyncio, "new_event_loop", no_new_loops)
        with d2.set_user_context("alice", ["viewer"]):
            return read()

    assert asyncio.run(main()) == "ok"
    assert threads == [threading.get_ident()]


def test_strict_sync_raises_inside_running_loop(policy: Path) -> None:
    @d2.d2_guard("billing.read", strict=True)
    def read() -> str:
        return "ok"

    async def main() -> str:
        with d2.set_user_context("alice", ["viewer"]):
            return read()

    with pytest.raises(d2.ConfigurationError, match="strict sync"):
        asyncio.run(main())
    with d2.set_user_context("alice", ["viewer"]):
        assert read() == "ok"


def test_strict_sync_from_environment(policy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("D2_STRICT_SYNC", "1")

    @d2.d2_guard("billing.read")
    def read() -> str:
        return "ok"

    async def main() -> str:
        with d2.set_user_context("alice", ["viewer"]):
            return read()

    with pytest.raises(d2.ConfigurationError):
        asyncio.run(main())


def test_bad_tool_id_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        d2.d2_guard(42)  # type: ignore[call-overload]
    with pytest.raises(TypeError):
        d2.d2_guard("")


def test_guard_below_staticmethod_is_required() -> None:
    with pytest.raises(TypeError, match="staticmethod"):
        d2.d2_guard("x")(staticmethod(lambda: 1))  # type: ignore[type-var]


def test_alias_d2_is_d2_guard() -> None:
    assert d2.d2 is d2.d2_guard


def test_arguments_that_do_not_bind_are_refused_when_binding_is_needed(policy: Path) -> None:
    @d2.d2_guard("billing.read")
    def read(account: str) -> str:
        return account

    with d2.set_user_context("alice", ["viewer"]), pytest.raises(TypeError):
        read()  # no conditions: no binding, the function's own TypeError
