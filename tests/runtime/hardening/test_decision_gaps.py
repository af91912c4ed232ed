"""Decision paths no test covered before (issue 11 item 22, runtime part): each could regress silently."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

import d2

from .conftest import Box

POLICY = """
policies:
  - role: hr
    permissions:
      - tool: people.read
        conditions: {output: {ssn: {action: filter}}}
      - tool: rows.scoped
        conditions: {output: {tenant: {eq: {$attr: user.tenant}}}}
      - tool: rows.crash
        conditions: {output: {secret: {action: redact}}}
  - role: mail
    permissions:
      - tool: people.read
        conditions: {output: {email: {action: redact}}}
"""


@pytest.fixture(autouse=True)
def _policy(load: Callable[[str], Path]) -> None:
    load(POLICY)


def test_the_output_rules_of_every_allowing_grant_apply(box: Box) -> None:
    row = {"name": "a", "ssn": "1", "email": "a@x"}
    box.value = [row]
    with d2.set_user_context("u", ["hr", "mail"]):
        assert box.tool("people.read")() == [{"name": "a", "email": "[REDACTED]"}]
    with d2.set_user_context("u", ["mail", "hr"]):
        assert box.tool("people.read")() == [{"name": "a", "email": "[REDACTED]"}]
    with d2.set_user_context("u", ["mail"]):
        assert box.tool("people.read")() == [{"name": "a", "ssn": "1", "email": "[REDACTED]"}]


def test_restriction_conditions_see_arguments_when_the_grant_has_only_output_rules(box: Box) -> None:
    @d2.d2_guard("people.read")
    def read(name: str) -> list[dict[str, str]]:
        return [{"name": name}]

    with (
        d2.set_user_context("u", ["hr"]),
        d2.restrict(conditions={"people.read": {"input": {"name": {"in": ["alice"]}}}}),
    ):
        assert read("alice") == [{"name": "alice"}]
        with pytest.raises(d2.PermissionDeniedError) as info:
            read("bob")
    assert info.value.reason == d2.Reason.RESTRICTION


def test_output_rule_on_a_missing_user_attribute_refuses(box: Box) -> None:
    box.value = {"tenant": "acme"}
    with d2.set_user_context("u", ["hr"]), pytest.raises(d2.PermissionDeniedError) as info:
        box.tool("rows.scoped")()
    assert info.value.reason == d2.Reason.MISSING_ATTRIBUTE
    with d2.set_user_context("u", ["hr"], attributes={"tenant": "acme"}):
        assert box.tool("rows.scoped")() == {"tenant": "acme"}


class Exploding(Mapping[str, Any]):
    """A mapping that fails when the output walker reads it."""

    def __getitem__(self, key: str) -> Any:
        raise RuntimeError("boom")

    def get(self, key: str, default: Any = None) -> Any:
        raise RuntimeError("boom")

    def __iter__(self) -> Iterator[str]:
        return iter(["secret"])

    def __len__(self) -> int:
        return 1


@pytest.mark.parametrize("on_deny", ["fallback", None])
def test_a_crash_inside_output_rules_refuses_and_never_returns_the_raw_result(on_deny: Any) -> None:
    raw = Exploding()
    tool = d2.d2_guard("rows.crash", on_deny=on_deny)(lambda: raw)
    with d2.set_user_context("u", ["hr"]):
        assert tool() is on_deny
    strict = d2.d2_guard("rows.crash")(lambda: raw)
    with d2.set_user_context("u", ["hr"]), pytest.raises(d2.PermissionDeniedError) as info:
        strict()
    assert info.value.reason == d2.Reason.INTERNAL_ERROR


def test_async_tools_check_expiry(write_policy: Callable[..., Path]) -> None:
    soon = datetime.now(timezone.utc) + timedelta(seconds=1.5)
    text = f"metadata:\n  expires: '{soon.isoformat()}'\npolicies:\n  - role: r\n    permissions: [t.async]\n"
    d2.configure_rbac_sync(write_policy(text, "expiring.yaml"))

    @d2.d2_guard("t.async")
    async def tool() -> str:
        return "ran"

    with d2.set_user_context("u", ["r"]):
        assert asyncio.run(tool()) == "ran"
        time.sleep(max(0.0, (soon - datetime.now(timezone.utc)).total_seconds()) + 0.1)
        with pytest.raises(d2.BundleExpiredError) as info:
            asyncio.run(tool())
    assert info.value.reason == d2.Reason.POLICY_EXPIRED


def test_conditions_on_a_star_grant_are_refused_at_load(write_policy: Callable[..., Path]) -> None:
    text = (
        "policies:\n  - role: r\n    permissions:\n      - tool: '*'\n"
        "        conditions: {input: {amount: {max: 1}}}\n"
    )
    with pytest.raises(d2.ConfigurationError) as info:
        d2.configure_rbac_sync(write_policy(text, "star.yaml"))
    assert "'*' cannot carry conditions" in str(info.value.diagnostics[0].message)
