"""An unchanged d2-sdk (vendor) app keeps working: module paths, keywords, exceptions, context, env."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import d2

POLICY = """
policies:
  - role: analyst
    permissions: [compat.read, compat.write]
"""


@pytest.fixture(autouse=True)
def _no_leftover_sinks(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Telemetry modes install process-wide sinks: remove what a test installed."""
    from d2._runtime import telemetry

    installed: list[object] = []
    monkeypatch.setattr(telemetry, "_INSTALLED", installed)
    yield
    for sink in installed:
        d2.remove_decision_sink(sink)  # type: ignore[arg-type]


@pytest.fixture
def policy(write_policy) -> Path:  # type: ignore[no-untyped-def]
    path: Path = write_policy(POLICY)
    d2.configure_rbac_sync(path)
    return path


def test_vendor_module_paths_import() -> None:
    from d2.context import (
        UserContext,
        clear_user_context,
        get_current_user,
        get_user_context,
        get_user_id,
        get_user_roles,
        is_context_set,
        set_user,
        set_user_context,
    )
    from d2.decorator import d2_guard
    from d2.middleware import ASGIMiddleware, clear_context, clear_context_async, headers_extractor

    assert d2_guard is d2.d2_guard and ASGIMiddleware is d2.ASGIMiddleware
    assert clear_context is d2.clear_context and clear_context_async is d2.clear_context_async
    assert headers_extractor is d2.headers_extractor and UserContext is d2.UserContext
    assert set_user is d2.set_user and set_user_context is d2.set_user_context
    assert get_user_context is d2.get_user_context and clear_user_context is d2.clear_user_context
    with d2.run_as("alice", ["analyst"]):
        assert is_context_set() and get_user_id() == "alice" and get_user_roles() == {"analyst"}
        assert get_current_user() == d2.UserContext("alice", frozenset({"analyst"}))
    assert not is_context_set() and get_user_id() is None and get_user_roles() == frozenset()


def test_configure_rbac_is_the_async_name(policy: Path) -> None:
    import asyncio

    manager = asyncio.run(d2.configure_rbac(policy, instance_name="compat"))
    assert manager is d2.get_policy_manager("compat") and manager.policy is not None


def test_vendor_keywords_are_accepted(policy: Path) -> None:
    manager = d2.configure_rbac_sync(
        policy, instance_name="kw", api_url="https://plane.example", pin_jwks_thumbprints=None
    )
    assert manager.policy is not None and manager.mode == "local"


def test_permission_denied_error_vendor_positional_form() -> None:
    exc = d2.PermissionDeniedError("db.read", "alice", {"viewer"}, reason="Not permitted")
    assert (exc.tool_id, exc.user_id, exc.roles, exc.reason) == (
        "db.read",
        "alice",
        ("viewer",),
        "Not permitted",
    )
    assert str(exc).startswith(
        "Permission denied for user 'alice' (roles: ['viewer']) to access tool 'db.read'."
    )
    coded = d2.PermissionDeniedError("db.read", "alice", None, reason="sequence_violation")
    assert coded.reason == d2.Reason.SEQUENCE_VIOLATION and coded.roles == ()


def test_refusals_carry_the_vendor_wording_and_the_reason_code(policy: Path) -> None:
    @d2.d2_guard("compat.admin")
    def admin() -> None: ...

    with d2.run_as("alice", ["analyst"]), pytest.raises(d2.PermissionDeniedError) as info:
        admin()
    text = str(info.value)
    assert text.startswith(
        "Permission denied for user 'alice' (roles: ['analyst']) to access tool 'compat.admin'."
    )
    assert info.value.reason in ("rbac", "unknown_tool")


def test_policy_error_and_context_leak_warning_exist() -> None:
    for cls in (
        d2.InvalidSignatureError,
        d2.PolicyTooLargeError,
        d2.TooManyToolsError,
        d2.BundleExpiredError,
    ):
        assert issubclass(cls, d2.PolicyError) and issubclass(cls, d2.D2Error)
    assert issubclass(d2.BundleExpiredError, d2.PermissionDeniedError)  # every refusal is one
    assert issubclass(d2.ContextLeakWarning, Warning)
    from d2.exceptions import ContextLeakWarning, PolicyError

    assert PolicyError is d2.PolicyError and ContextLeakWarning is d2.ContextLeakWarning


def test_get_user_context_is_empty_not_none_and_has_request_views(policy: Path) -> None:
    empty = d2.get_user_context()
    assert empty is not None and empty.user_id is None and empty.roles == frozenset()
    assert empty.request_id is None and empty.call_history == () and empty.facts == frozenset()

    @d2.d2_guard("compat.read")
    def read() -> str:
        return "ok"

    with d2.run_as("alice", ["analyst"]):
        read()
        d2.record_fact("SECRET")
        read()
        ctx = d2.get_user_context()
        assert ctx.call_history == ("compat.read", "compat.read")
        assert ctx.facts == frozenset({"SECRET"}) and ctx.request_id
        # A snapshot: later calls do not change it, and editing it is impossible.
        read()
        assert len(ctx.call_history) == 2 and len(d2.get_user_context().call_history) == 3
        with pytest.raises(AttributeError):
            ctx.call_history = ()  # type: ignore[misc]


def test_a_user_context_carrying_history_cannot_forge_the_request(policy: Path) -> None:
    forged = d2.UserContext(
        "mallory", frozenset({"analyst"}), call_history=("x",) * 5, facts=frozenset({"OK"})
    )
    with d2.run_as(forged):
        assert d2.get_user_context().call_history == () and d2.get_facts() == frozenset()


@pytest.mark.parametrize(
    ("value", "mode"),
    [
        ("0", "off"),
        ("none", "off"),
        ("false", "off"),
        ("off", "off"),
        ("1", "all"),
        ("true", "all"),
        ("yes", "all"),
        ("*", "all"),
        ("all", "all"),
        ("metrics", "metrics"),
        ("usage", "usage"),
        ("", "off"),
    ],
)
def test_vendor_telemetry_values_are_accepted(
    value: str, mode: str, policy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from d2._runtime.telemetry import telemetry_mode

    monkeypatch.setenv("D2_TELEMETRY", value)
    assert telemetry_mode() == mode
    d2.configure_rbac_sync(policy, instance_name=f"tel-{mode}")  # must not raise


def test_unknown_telemetry_value_is_an_error_with_a_suggestion(
    monkeypatch: pytest.MonkeyPatch, policy: Path
) -> None:
    monkeypatch.setenv("D2_TELEMETRY", "metrcs")
    with pytest.raises(d2.ConfigurationError, match="did you mean 'metrics'"):
        d2.configure_rbac_sync(policy)


def test_usage_telemetry_warns_that_raw_ids_are_not_sent(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from d2._runtime import telemetry

    monkeypatch.setattr(telemetry, "_warned", set())
    monkeypatch.setenv("D2_TELEMETRY", "yes")
    with caplog.at_level(logging.WARNING, logger="d2"):
        assert telemetry.telemetry_mode() == "all"
    assert "without raw user ids" in caplog.text


def test_submit_with_context_fails_closed_at_submit_time(policy: Path) -> None:
    with ThreadPoolExecutor(1) as pool:
        with pytest.raises(d2.D2NoContextError):
            d2.threads.submit_with_context(pool, print)
        future = d2.threads.submit_with_context(pool, d2.get_user_context, actor=d2.UserContext("bob"))
        assert future.result().user_id == "bob"


def test_context_leak_is_warned_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    d2.set_user("leaky", ["analyst"])
    with caplog.at_level(logging.WARNING, logger="d2.context"), pytest.warns(d2.ContextLeakWarning):
        assert d2.warn_if_context_set() is True
    assert "leaky" in caplog.text
    d2.clear_user_context()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert d2.warn_if_context_set() is False


def test_configuring_inside_a_request_warns_of_a_leaked_context(
    write_policy,
    caplog: pytest.LogCaptureFixture,  # type: ignore[no-untyped-def]
) -> None:
    path = write_policy(POLICY)
    with d2.run_as("alice", ["analyst"]), pytest.warns(d2.ContextLeakWarning, match="configured while"):
        d2.configure_rbac_sync(path)


def test_two_roles_with_different_grants_allow_when_any_grant_passes(write_policy) -> None:  # type: ignore[no-untyped-def]
    """docs/migrating.md: grants are alternatives (the vendor required every role's grant to pass)."""
    d2.configure_rbac_sync(
        write_policy(
            """
            policies:
              - role: limited
                permissions:
                  - tool: pay
                    conditions: {input: {amount: {max: 10}}}
              - role: trusted
                permissions: [pay]
            """
        )
    )

    @d2.d2_guard("pay")
    def pay(amount: int) -> int:
        return amount

    with d2.run_as("u", ["limited", "trusted"]):
        assert pay(500) == 500
    with d2.run_as("u", ["limited"]), pytest.raises(d2.PermissionDeniedError) as info:
        pay(500)
    assert info.value.reason == "input_validation"


def test_one_element_deny_sequence_forbids_the_tool(write_policy) -> None:  # type: ignore[no-untyped-def]
    """docs/migrating.md: `deny: [x]` forbids x (the vendor ignored one-element patterns)."""
    d2.configure_rbac_sync(
        write_policy(
            """
            policies:
              - role: agent
                permissions: [shell.run, files.read]
                sequence:
                  - deny: [shell.run]
                    reason: never run a shell
            """
        )
    )

    @d2.d2_guard("shell.run")
    def run() -> str:
        return "ran"

    @d2.d2_guard("files.read")
    def read() -> str:
        return "read"

    with d2.run_as("a", ["agent"]):
        assert read() == "read"
        with pytest.raises(d2.PermissionDeniedError) as info:
            run()
    assert info.value.reason == "sequence_violation"


def test_migrating_doc_examples_run() -> None:
    import re

    doc = (Path(__file__).parents[2] / "docs" / "migrating.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", doc, flags=re.S)
    assert len(blocks) >= 2
    for block in blocks:
        exec(compile(block, "docs/migrating.md", "exec"), {"__name__": "migrating_doc"})


def test_readme_lists_every_refusal_reason() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    section = readme[readme.index("### Refusal reasons") : readme.index("## Environment variables")]
    assert [r.value for r in d2.Reason if f"`{r.value}`" not in section] == []
