"""Sessions on the machine's Redis: rules enforced across processes, TTL, bounds, ownership, lost state."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import d2
from d2._sources.session_state import reset_session_state

from .conftest import Worker, redis_client, session_log


def _tools() -> dict[str, object]:
    names = ("db.read", "secrets.read", "notes.write", "web.post", "email.send")
    made: dict[str, object] = {}
    for name in names:

        def tool(name: str = name) -> str:
            return name

        made[name] = d2.d2_guard(name)(tool)
    return made


def _call(tools: dict[str, object], session: str, tool: str, user: str = "alice") -> str:
    with d2.set_user_context(user, ["agent"]), d2.session(session):
        try:
            tools[tool]()  # type: ignore[operator]
        except d2.PermissionDeniedError as exc:
            return str(exc.reason)
    return "ok"


def test_sequence_rule_holds_across_two_worker_processes(workers: list[Worker], sid: str) -> None:
    first, second = workers
    assert first.call(sid, "db.read") == "ok"
    assert second.call(sid, "web.post") == "sequence_violation"
    assert second.call(sid, "notes.write") == "ok"
    assert first.call(sid, "web.post") == "sequence_violation"


def test_data_flow_block_holds_across_two_worker_processes(workers: list[Worker], sid: str) -> None:
    first, second = workers
    assert second.call(sid, "email.send") == "ok"  # nothing sensitive yet
    assert first.call(sid, "secrets.read") == "ok"
    assert second.call(sid, "email.send") == "data_flow"
    assert second.call(sid, "web.post") == "data_flow"


def test_sessions_stay_apart(workers: list[Worker], sid: str) -> None:
    first, second = workers
    assert first.call(sid, "db.read") == "ok"
    assert second.call(sid + "-other", "web.post") == "ok"


def test_another_user_cannot_enter_a_session(workers: list[Worker], sid: str) -> None:
    first, second = workers
    assert first.call(sid, "db.read", user="alice") == "ok"
    assert second.call(sid, "notes.write", user="mallory") == "session_invalid"
    assert session_log(first_url(), sid) == ["cdb.read"]


def first_url() -> str:
    return "redis://127.0.0.1:6379/0"


def test_idle_sessions_expire_after_the_ttl(redis_url: str, policy: Path, sid: str) -> None:
    d2.configure_session_state(redis_url, ttl=0.4)
    tools = _tools()
    assert _call(tools, sid, "db.read") == "ok"
    assert _call(tools, sid, "web.post") == "sequence_violation"
    assert redis_client(redis_url).exists(f"d2:s:{{{sid}}}:l") == 1
    time.sleep(0.7)
    assert redis_client(redis_url).exists(f"d2:s:{{{sid}}}:l", f"d2:s:{{{sid}}}:m") == 0
    assert _call(tools, sid, "web.post") == "ok"  # a fresh session


def test_activity_keeps_a_session_alive(redis_url: str, policy: Path, sid: str) -> None:
    d2.configure_session_state(redis_url, ttl=1.0)
    tools = _tools()
    assert _call(tools, sid, "db.read") == "ok"
    for _ in range(6):
        time.sleep(0.3)  # 1.8 s in all: only the calls keep it alive
        assert _call(tools, sid, "notes.write") == "ok"
    assert _call(tools, sid, "web.post") == "sequence_violation"


def test_history_per_session_is_bounded(redis_url: str, policy: Path, sid: str) -> None:
    d2.configure_session_state(redis_url, max_calls=5)
    tools = _tools()
    for _ in range(12):
        assert _call(tools, sid, "notes.write") == "ok"
    client = redis_client(redis_url)
    assert client.llen(f"d2:s:{{{sid}}}:l") == 5
    assert int(client.hget(f"d2:s:{{{sid}}}:m", "v")) == 12


def test_labels_survive_trimming_for_a_process_that_joins_late(
    redis_url: str, policy: Path, sid: str, workers: list[Worker]
) -> None:
    d2.configure_session_state(redis_url, max_calls=3)
    tools = _tools()
    assert _call(tools, sid, "secrets.read") == "ok"
    for _ in range(6):
        assert _call(tools, sid, "notes.write") == "ok"
    assert session_log(redis_url, sid) == ["cnotes.write"] * 3  # secrets.read was trimmed away
    assert workers[0].call(sid, "email.send") == "data_flow"  # a replica that never saw the session


def test_label_bound_refuses_rather_than_grows(redis_url: str, policy: Path, sid: str) -> None:
    d2.configure_session_state(redis_url, max_labels=2)
    with d2.set_user_context("alice", ["agent"]), d2.session(sid):
        d2.record_facts(["A", "B"])
        with pytest.raises(d2.PermissionDeniedError) as info:
            d2.record_fact("C")
    assert info.value.reason == "state_unavailable"
    assert "labels" in str(info.value)


def test_labels_recorded_by_code_reach_other_processes(workers: list[Worker], policy: Path, sid: str) -> None:
    d2.configure_session_state(first_url())
    with d2.set_user_context("alice", ["agent"]), d2.session(sid):
        d2.record_fact("SECRET")
    assert workers[0].call(sid, "web.post") == "data_flow"


def test_a_session_redis_lost_is_restored_from_the_mirror(redis_url: str, policy: Path, sid: str) -> None:
    d2.configure_session_state(redis_url)
    tools = _tools()
    assert _call(tools, sid, "db.read") == "ok"
    assert _call(tools, sid, "notes.write") == "ok"
    redis_client(redis_url).delete(*(f"d2:s:{{{sid}}}:{k}" for k in "lmf"))
    assert _call(tools, sid, "web.post") == "sequence_violation"
    assert session_log(redis_url, sid) == ["cdb.read", "cnotes.write"]


def test_garbage_in_redis_is_refused_with_its_own_reason(redis_url: str, policy: Path, sid: str) -> None:
    d2.configure_session_state(redis_url)
    tools = _tools()
    redis_client(redis_url).set(f"d2:s:{{{sid}}}:m", "not a hash", px=5000)
    assert _call(tools, sid, "notes.write") == "state_unavailable"
    assert _call(tools, sid + "-ok", "notes.write") == "ok"  # one bad session does not trip the rest


def test_without_a_state_url_requests_stay_in_process(policy: Path) -> None:
    tools = _tools()
    with d2.set_user_context("alice", ["agent"]):
        tools["db.read"]()  # type: ignore[operator]
        from d2._runtime.context import current_state

        state = current_state()
        assert state is not None and state.log.shared is None
        with pytest.raises(d2.PermissionDeniedError):
            tools["web.post"]()  # type: ignore[operator]


def test_state_url_from_the_environment(
    redis_url: str, policy: Path, sid: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("D2_STATE_URL", redis_url)
    reset_session_state()
    tools = _tools()
    assert _call(tools, sid, "db.read") == "ok"
    assert session_log(redis_url, sid) == ["cdb.read"]


def test_unsupported_state_url_is_a_configuration_error() -> None:
    with pytest.raises(d2.ConfigurationError, match="redis://"):
        d2.configure_session_state("memcached://127.0.0.1")


@pytest.mark.parametrize(
    "reply",
    [
        None,
        b"OK",
        [],
        ["1", 2],
        [1],
        [1, -3],
        [0, 2, 0, [b"xdb.read"], []],
        [0, 2, 7, [b"cdb.read"], []],
        [0, 2, 0, [b"\xff\xfe"], []],
        [0, 2, 0, [3], []],
        [9, 1],
    ],
)
def test_malformed_replies_are_faults_never_guesses(reply: object) -> None:
    from d2._core.session import SessionFault
    from d2._sources.state_redis import _parse

    with pytest.raises(SessionFault) as info:
        _parse(reply)
    assert info.value.reason == "state_unavailable"
