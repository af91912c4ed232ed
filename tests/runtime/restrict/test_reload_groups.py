"""A restriction written with @groups follows the policy in force, also when it reloads mid-block."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import d2

POLICY = """
metadata:
  tool_groups:
    safe: [{safe}]
policies:
  - role: agent
    permissions: [files.read, files.list, files.delete]
"""

NO_GROUP = """
policies:
  - role: agent
    permissions: [files.read, files.list, files.delete]
"""


@pytest.fixture
def tools(write_policy: Callable[..., Path]) -> dict[str, Callable[[], str]]:
    d2.configure_rbac_sync(write_policy(POLICY.format(safe="files.read, files.list")))
    made: dict[str, Callable[[], str]] = {}
    for name in ("files.read", "files.list", "files.delete"):

        def tool(name: str = name) -> str:
            return name

        made[name] = d2.d2_guard(name)(tool)
    return made


def _reload(write_policy: Callable[..., Path], text: str) -> None:
    """Rewrite the policy file and reload it, as the file watcher does (hot reload)."""
    write_policy(text)
    assert d2.get_policy_manager().reload()


def _outcome(fn: Callable[[], str]) -> str:
    try:
        fn()
    except d2.PermissionDeniedError as exc:
        return str(exc.reason)
    return "ok"


def test_group_shrinks_mid_block(
    tools: dict[str, Callable[[], str]], write_policy: Callable[..., Path]
) -> None:
    with d2.set_user_context("u", ["agent"]), d2.restrict(tools=["@safe"]):
        assert _outcome(tools["files.list"]) == "ok"
        assert _outcome(tools["files.delete"]) == "restriction"
        _reload(write_policy, POLICY.format(safe="files.read"))
        assert _outcome(tools["files.list"]) == "restriction"
        assert _outcome(tools["files.read"]) == "ok"


def test_group_grows_mid_block(
    tools: dict[str, Callable[[], str]], write_policy: Callable[..., Path]
) -> None:
    with d2.set_user_context("u", ["agent"]), d2.restrict(tools=["@safe"]):
        assert _outcome(tools["files.delete"]) == "restriction"
        _reload(write_policy, POLICY.format(safe="files.read, files.list, files.delete"))
        assert _outcome(tools["files.delete"]) == "ok"


def test_group_removed_mid_block_refuses(
    tools: dict[str, Callable[[], str]], write_policy: Callable[..., Path]
) -> None:
    with d2.set_user_context("u", ["agent"]), d2.restrict(tools=["@safe"], deny=["files.delete"]):
        _reload(write_policy, NO_GROUP)
        with pytest.raises(d2.PermissionDeniedError) as info:
            tools["files.read"]()
        assert info.value.reason == "restriction"
        assert "@safe" in str(info.value) or "safe" in str(info.value)


def test_restriction_sequence_progress_survives_a_reload(
    tools: dict[str, Callable[[], str]], write_policy: Callable[..., Path]
) -> None:
    with d2.set_user_context("u", ["agent"]), d2.restrict(sequence=[{"deny": ["@safe", "files.delete"]}]):
        assert _outcome(tools["files.list"]) == "ok"
        _reload(write_policy, POLICY.format(safe="files.read, files.list"))
        assert _outcome(tools["files.delete"]) == "restriction"
