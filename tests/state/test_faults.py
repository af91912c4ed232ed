"""Backend faults fail closed with their own reason and recover by themselves (a private Redis)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

import d2

from .conftest import PrivateRedis, redis_client, session_log


@pytest.fixture
def tools(policy: Path) -> dict[str, object]:
    made: dict[str, object] = {}
    for name in ("db.read", "notes.write", "web.post"):

        def tool(name: str = name) -> str:
            return name

        made[name] = d2.d2_guard(name)(tool)
    return made


def _call(tools: dict[str, object], session: str, tool: str) -> str:
    with d2.set_user_context("alice", ["agent"]), d2.session(session):
        try:
            tools[tool]()  # type: ignore[operator]
        except d2.PermissionDeniedError as exc:
            return str(exc.reason)
    return "ok"


def _until(predicate: object, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def test_redis_stopped_mid_run_refuses_then_recovers(
    private_redis: PrivateRedis, tools: dict[str, object], sid: str
) -> None:
    d2.configure_session_state(private_redis.url, timeout=0.3)
    assert _call(tools, sid, "db.read") == "ok"
    private_redis.stop()
    started = time.monotonic()
    assert _call(tools, sid, "notes.write") == "state_unavailable"
    assert _call(tools, sid, "notes.write") == "state_unavailable"  # fail fast while down
    assert time.monotonic() - started < 1.0
    with d2.set_user_context("alice", ["agent"]), d2.session(sid):
        with pytest.raises(d2.PermissionDeniedError) as info:
            tools["notes.write"]()  # type: ignore[operator]
    assert "unavailable" in str(info.value) and "refused" in str(info.value)
    private_redis.start()  # empty: the restarted server lost every session
    assert _until(lambda: _call(tools, sid, "notes.write") == "ok")
    # The mirror re-created the session: the sequence rule still sees db.read.
    assert _call(tools, sid, "web.post") == "sequence_violation"
    assert session_log(private_redis.url, sid)[0] == "cdb.read"


def test_a_reply_slower_than_the_deadline_is_refused(
    private_redis: PrivateRedis, tools: dict[str, object], sid: str
) -> None:
    d2.configure_session_state(private_redis.url, timeout=0.2)
    assert _call(tools, sid, "notes.write") == "ok"
    admin = redis_client(private_redis.url)
    admin.execute_command("CLIENT", "PAUSE", "1500", "ALL")
    started = time.monotonic()
    assert _call(tools, sid, "notes.write") == "state_unavailable"
    assert time.monotonic() - started < 1.0  # the deadline, not the pause, ended the wait
    assert _until(lambda: _call(tools, sid, "notes.write") == "ok")


def test_degraded_mode_decides_locally_and_catches_up(
    private_redis: PrivateRedis, tools: dict[str, object], sid: str
) -> None:
    d2.configure_session_state(private_redis.url, timeout=0.3, degraded=True)
    assert _call(tools, sid, "db.read") == "ok"
    private_redis.stop()
    assert _call(tools, sid, "notes.write") == "ok"  # this replica's view decides
    assert _call(tools, sid, "web.post") == "sequence_violation"  # ... and still enforces what it saw
    private_redis.start()
    time.sleep(0.4)  # past the fail-fast window: the next call reaches Redis again
    assert _call(tools, sid, "notes.write") == "ok"
    assert session_log(private_redis.url, sid) == ["cdb.read", "cnotes.write", "cnotes.write"]


def test_degraded_mode_is_opt_in_from_the_environment(
    private_redis: PrivateRedis, tools: dict[str, object], sid: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("D2_STATE_DEGRADED", "local")
    d2.configure_session_state(private_redis.url, timeout=0.3)
    private_redis.stop()
    assert _call(tools, sid, "notes.write") == "ok"
    monkeypatch.setenv("D2_STATE_DEGRADED", "yes")  # anything but "local" keeps failing closed
    d2.configure_session_state(private_redis.url, timeout=0.3)
    assert _call(tools, sid, "notes.write") == "state_unavailable"


def test_calls_in_flight_while_redis_stops_never_run_unchecked(
    private_redis: PrivateRedis, tools: dict[str, object], sid: str
) -> None:
    d2.configure_session_state(private_redis.url, timeout=0.3)
    outcomes: list[str] = []
    stop = threading.Event()

    def hammer() -> None:
        while not stop.is_set():
            outcomes.append(_call(tools, sid, "notes.write"))

    thread = threading.Thread(target=hammer)
    thread.start()
    time.sleep(0.2)
    private_redis.stop()
    time.sleep(0.3)
    private_redis.start()
    assert _until(lambda: bool(outcomes) and outcomes[-1] == "ok")
    stop.set()
    thread.join()
    assert set(outcomes) <= {"ok", "state_unavailable"}
    assert "state_unavailable" in outcomes
