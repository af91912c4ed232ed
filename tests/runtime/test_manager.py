"""Policy manager: atomic swaps, reload keeping the old policy on error, hot reload, shutdown."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

import d2

V1 = "policies:\n  - role: r\n    permissions: [tool.a]\n"
V2 = "policies:\n  - role: r\n    permissions: [tool.a, tool.b]\n"
BROKEN = "policies:\n  - role: r\n    permisions: [tool.a, tool.b]\n"


@d2.d2_guard("tool.b")
def tool_b() -> str:
    return "b"


def wait_for(predicate, timeout: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_reload_swaps_in_a_valid_policy(write_policy) -> None:  # type: ignore[no-untyped-def]
    path: Path = write_policy(V1)
    manager = d2.configure_rbac_sync(path)
    d2.set_user("u", ["r"])
    with pytest.raises(d2.PermissionDeniedError):
        tool_b()
    path.write_text(V2)
    assert manager.reload() is True
    assert tool_b() == "b"


def test_invalid_file_on_reload_keeps_the_old_policy(write_policy) -> None:  # type: ignore[no-untyped-def]
    path: Path = write_policy(V2)
    manager = d2.configure_rbac_sync(path)
    old = manager.policy
    path.write_text(BROKEN)
    assert manager.reload() is False
    assert manager.policy is old
    assert isinstance(manager.last_reload_error, d2.ConfigurationError)
    assert "permisions" in str(manager.last_reload_error)
    d2.set_user("u", ["r"])
    assert tool_b() == "b"
    path.unlink()
    assert manager.reload() is False and manager.policy is old


def test_hot_reload_watches_the_file(write_policy) -> None:  # type: ignore[no-untyped-def]
    path: Path = write_policy(V1)
    manager = d2.configure_rbac_sync(path, hot_reload=True)
    first = manager.policy
    path.write_text(BROKEN)
    assert wait_for(lambda: manager.last_reload_error is not None), "the watcher never tried the broken file"
    assert manager.policy is first
    path.write_text(V2)
    assert wait_for(lambda: manager.policy is not first and manager.last_reload_error is None)
    d2.set_user("u", ["r"])
    assert tool_b() == "b"


def test_shutdown_plain_and_awaited(write_policy) -> None:  # type: ignore[no-untyped-def]
    path = write_policy(V2)
    d2.configure_rbac_sync(path)
    assert d2.shutdown_rbac() is not None
    d2.set_user("u", ["r"])
    with pytest.raises(d2.MissingPolicyError):
        tool_b()

    d2.clear_user_context()

    async def main() -> None:
        d2.configure_rbac_sync(path, instance_name="other")
        await d2.shutdown_rbac("other")
        await d2.shutdown_all_rbac()

    asyncio.run(main())
    assert d2.get_policy_manager("other").policy is None


def test_instances_are_separate(write_policy) -> None:  # type: ignore[no-untyped-def]
    d2.configure_rbac_sync(write_policy(V1, "one.yaml"))
    d2.configure_rbac_sync(write_policy(V2, "two.yaml"), instance_name="two")

    @d2.d2_guard("tool.b", instance_name="two")
    def b_two() -> str:
        return "b2"

    d2.set_user("u", ["r"])
    assert b_two() == "b2"
    with pytest.raises(d2.PermissionDeniedError):
        tool_b()
    assert "two" in repr(d2.get_policy_manager("two"))
