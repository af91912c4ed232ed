"""Named sessions without Redis: one history for several requests of this process, bounded and owned."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

import d2


@pytest.fixture
def tools(policy: Path) -> dict[str, object]:
    made: dict[str, object] = {}
    for name in ("db.read", "notes.write", "web.post", "secrets.read", "email.send"):

        def tool(name: str = name) -> str:
            return name

        made[name] = d2.d2_guard(name)(tool)
    return made


def _call(tools: dict[str, object], session: str | None, tool: str, user: str = "alice") -> str:
    with d2.set_user_context(user, ["agent"]):
        try:
            if session is None:
                tools[tool]()  # type: ignore[operator]
            else:
                with d2.session(session):
                    tools[tool]()  # type: ignore[operator]
        except d2.PermissionDeniedError as exc:
            return str(exc.reason)
    return "ok"


def test_two_requests_of_one_session_share_the_history(tools: dict[str, object], sid: str) -> None:
    assert _call(tools, sid, "db.read") == "ok"
    assert _call(tools, sid, "web.post") == "sequence_violation"
    assert _call(tools, None, "web.post") == "ok"  # a plain request has its own history


def test_another_user_is_refused_in_a_session(tools: dict[str, object], sid: str) -> None:
    assert _call(tools, sid, "db.read") == "ok"
    assert _call(tools, sid, "notes.write", user="mallory") == "session_invalid"
    assert _call(tools, sid, "notes.write") == "ok"


def test_local_sessions_expire(tools: dict[str, object], sid: str) -> None:
    d2.configure_session_state(ttl=0.2)
    assert _call(tools, sid, "db.read") == "ok"
    time.sleep(0.3)
    assert _call(tools, sid, "web.post") == "ok"


def test_local_session_table_is_bounded_and_never_forgets_a_live_session(
    tools: dict[str, object], sid: str
) -> None:
    d2.configure_session_state(max_local_sessions=3, ttl=0.5)
    assert _call(tools, sid, "db.read") == "ok"
    for i in range(2):
        assert _call(tools, f"{sid}-{i}", "notes.write") == "ok"
    # Full: a new session is refused instead of evicting a live one (flooding cannot erase history).
    assert _call(tools, f"{sid}-new", "notes.write") == "state_unavailable"
    assert _call(tools, sid, "web.post") == "sequence_violation"
    time.sleep(0.6)
    assert _call(tools, f"{sid}-new", "notes.write") == "ok"  # idle sessions make room


def test_session_scope_keeps_user_and_restores_the_request(tools: dict[str, object], sid: str) -> None:
    with d2.set_user_context("alice", ["agent"]):
        tools["db.read"]()  # type: ignore[operator]
        with d2.session(sid) as user:
            assert user.user_id == "alice"
            tools["web.post"]()  # type: ignore[operator]  # the session's history is empty
        with pytest.raises(d2.PermissionDeniedError):
            tools["web.post"]()  # type: ignore[operator]  # back in the request: db.read was called


def test_async_session_scope(tools: dict[str, object], sid: str) -> None:
    async def run() -> str:
        with d2.set_user_context("alice", ["agent"]):
            async with d2.session(sid):
                tools["secrets.read"]()  # type: ignore[operator]
            async with d2.session(sid):
                try:
                    tools["email.send"]()  # type: ignore[operator]
                except d2.PermissionDeniedError as exc:
                    return str(exc.reason)
        return "ok"

    assert asyncio.run(run()) == "data_flow"


def test_session_needs_a_user() -> None:
    with pytest.raises(d2.D2NoContextError), d2.session("s"):
        pass


@pytest.mark.parametrize("bad", ["", "x" * 201, "a\nb", 42])
def test_session_id_is_checked(bad: object) -> None:
    with d2.set_user_context("alice", ["agent"]), pytest.raises((ValueError, TypeError)), d2.session(bad):  # type: ignore[arg-type]
        pass
