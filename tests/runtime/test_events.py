"""Decision events reach sinks off the calling thread; sinks can neither raise into nor block calls."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

import d2
from d2._runtime import events as _events


@pytest.fixture
def guarded(write_policy):  # type: ignore[no-untyped-def]
    d2.configure_rbac_sync(write_policy("policies:\n  - role: r\n    permissions: [ev.ok]\n"))

    @d2.d2_guard("ev.ok")
    def ok() -> str:
        return "ok"

    @d2.d2_guard("ev.no", on_deny="denied")
    def no() -> str:
        return "ran"

    return ok, no


def test_every_decision_becomes_one_event(guarded) -> None:  # type: ignore[no-untyped-def]
    ok, no = guarded
    events: list[d2.DecisionEvent] = []
    remove = d2.add_decision_sink(events.append)
    try:
        with d2.set_user_context("alice", ["r"]):
            assert ok() == "ok"
            assert no() == "denied"
        assert d2.flush_events()
    finally:
        remove()
    allowed, refused = events
    assert (allowed.tool_id, allowed.allowed, allowed.reason, allowed.user_id) == (
        "ev.ok",
        True,
        None,
        "alice",
    )
    assert (refused.tool_id, refused.allowed, refused.reason) == ("ev.no", False, "unknown_tool")
    assert allowed.roles == ("r",) and allowed.latency_us >= 0 and allowed.policy_version
    assert allowed.request_id == refused.request_id


def test_raising_sink_does_not_break_the_call(guarded, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    ok, _ = guarded

    def bad(event: d2.DecisionEvent) -> None:
        raise RuntimeError("sink bug")

    remove = d2.add_decision_sink(bad)
    try:
        with d2.set_user_context("alice", ["r"]):
            assert ok() == "ok"
        assert d2.flush_events()
    finally:
        remove()
    assert "sink" in caplog.text


def test_slow_sink_does_not_block_the_call(guarded) -> None:  # type: ignore[no-untyped-def]
    ok, _ = guarded
    release = threading.Event()

    def slow(event: d2.DecisionEvent) -> None:
        release.wait(5)

    remove = d2.add_decision_sink(slow)
    try:
        with d2.set_user_context("alice", ["r"]):
            start = time.perf_counter()
            for _ in range(50):
                ok()
            assert time.perf_counter() - start < 0.5
    finally:
        release.set()
        remove()
        d2.flush_events()


def test_full_queue_drops_oldest(guarded, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    ok, _ = guarded
    release = threading.Event()
    monkeypatch.setattr(_events, "QUEUE_LIMIT", 5)
    remove = d2.add_decision_sink(lambda e: release.wait(5))
    before = _events.dropped_events()
    try:
        with d2.set_user_context("alice", ["r"]):
            for _ in range(30):
                ok()
        assert _events.dropped_events() > before
    finally:
        release.set()
        remove()
        d2.flush_events()


def test_no_sink_means_no_event_work(guarded, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    ok, _ = guarded
    assert _events.SINKS == []

    def fail(event: object) -> None:
        raise AssertionError("emitted without a sink")

    monkeypatch.setattr(_events, "emit", fail)
    with d2.set_user_context("alice", ["r"]):
        assert ok() == "ok"


@pytest.mark.parametrize("is_async", [False, True])
def test_a_result_withheld_by_output_rules_is_a_refusal_event_after_the_allow(
    write_policy, is_async: bool
) -> None:  # type: ignore[no-untyped-def]
    # "Decision events for every allow and refusal": the call ran (allowed), then output rules refused
    # its result; an audit log that saw only the allow would say the caller got the data.
    d2.configure_rbac_sync(
        write_policy(
            "policies:\n  - role: r\n    permissions:\n      - tool: ev.rows\n        conditions:\n"
            "          output:\n            ssn: {action: deny}\n"
        )
    )

    def rows() -> dict[str, str]:
        return {"ssn": "123-45-6789"}

    async def arows() -> dict[str, str]:
        return rows()

    guarded = d2.d2_guard("ev.rows", on_deny="withheld")(arows if is_async else rows)
    events: list[d2.DecisionEvent] = []
    remove = d2.add_decision_sink(events.append)
    try:
        with d2.set_user_context("alice", ["r"]):
            result = asyncio.run(guarded()) if is_async else guarded()
        assert result == "withheld"
        assert d2.flush_events()
    finally:
        remove()
    assert [(e.tool_id, e.allowed, e.reason) for e in events] == [
        ("ev.rows", True, None),
        ("ev.rows", False, "output_sanitization"),
    ]
    assert events[1].location is not None and events[1].request_id == events[0].request_id
