"""The decision-event ring: a call appends a record, the consumer builds events, every loss is counted.

A record becomes a ``RecordedEvent``, filled in on first read; it must be indistinguishable from a
plain ``DecisionEvent`` to sinks (fields, ``asdict``, ``replace``, equality, hashing, pickling).
"""

from __future__ import annotations

import dataclasses
import pickle
import threading
import time

import pytest

import d2
from d2._runtime import events as _events
from d2._runtime.recorded_event import RecordedEvent


@pytest.fixture
def tool(write_policy):  # type: ignore[no-untyped-def]
    d2.configure_rbac_sync(write_policy("policies:\n  - role: r\n    permissions: [ring.ok]\n"))

    @d2.d2_guard("ring.ok")
    def ok(n: int = 0) -> int:
        return n

    return ok


def _collect(events: list[d2.DecisionEvent]):  # type: ignore[no-untyped-def]
    return d2.add_decision_sink(events.append)


def test_events_arrive_in_call_order_with_every_field(tool) -> None:  # type: ignore[no-untyped-def]
    events: list[d2.DecisionEvent] = []
    remove = _collect(events)
    try:
        with d2.set_user_context("alice", ["r", "a"]):
            before = time.time()
            for i in range(500):
                tool(i)
            after = time.time()
        assert d2.flush_events()
    finally:
        remove()
    assert len(events) == 500
    first = events[0]
    assert isinstance(first, d2.DecisionEvent)
    assert (first.tool_id, first.user_id, first.roles, first.allowed) == (
        "ring.ok",
        "alice",
        ("a", "r"),
        True,
    )
    assert first.reason is None and first.location is None and first.policy_version
    assert before - 1 <= first.timestamp <= after + 1 and first.latency_us >= 0
    stamps = [e.timestamp for e in events]
    assert stamps == sorted(stamps)
    assert len({e.request_id for e in events}) == 1


def test_a_blocked_consumer_loses_records_and_counts_each(tool, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(_events, "QUEUE_LIMIT", 8)
    release, entered = threading.Event(), threading.Event()
    seen: list[d2.DecisionEvent] = []

    def slow(event: d2.DecisionEvent) -> None:
        entered.set()
        release.wait(10)
        seen.append(event)

    before = _events.dropped_events()
    remove = d2.add_decision_sink(slow)
    try:
        with d2.set_user_context("alice", ["r"]):
            tool(0)
            assert entered.wait(5)  # the consumer holds the first record and is stuck in the sink
            start = time.perf_counter()
            for i in range(1, 101):
                tool(i)
            assert time.perf_counter() - start < 1.0, "a stuck sink slowed the calls"
        # 100 more records into a ring of 8: at least 92 were overwritten, and each one is counted.
        lost = _events.dropped_events() - before
        assert lost >= 92
        release.set()
        assert d2.flush_events()
    finally:
        release.set()
        remove()
    assert _events.dropped_events() - before == 101 - len(seen)
    assert [e.tool_id for e in seen] == ["ring.ok"] * len(seen)


def test_recorded_events_behave_like_plain_ones(tool) -> None:  # type: ignore[no-untyped-def]
    events: list[d2.DecisionEvent] = []
    remove = _collect(events)
    try:
        with d2.set_user_context("bob", ["r"]):
            tool(1)
        assert d2.flush_events()
    finally:
        remove()
    (event,) = events
    assert isinstance(event, RecordedEvent)
    plain = d2.DecisionEvent(*(getattr(event, f.name) for f in dataclasses.fields(d2.DecisionEvent)))
    assert event == plain and plain == event and hash(event) == hash(plain)
    assert dataclasses.asdict(event) == dataclasses.asdict(plain)
    assert repr(event) == repr(plain) and repr(event).startswith("DecisionEvent(")
    changed = dataclasses.replace(event, allowed=False)
    assert type(changed) is d2.DecisionEvent and changed.allowed is False and changed.tool_id == "ring.ok"
    restored = pickle.loads(pickle.dumps(event))
    assert type(restored) is d2.DecisionEvent and restored == plain
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.allowed = False  # type: ignore[misc]


def test_refusals_carry_reason_and_location(write_policy) -> None:  # type: ignore[no-untyped-def]
    d2.configure_rbac_sync(write_policy("policies:\n  - role: r\n    permissions: [ring.ok]\n"))
    no = d2.d2_guard("ring.nope", on_deny=None)(lambda: 1)
    events: list[d2.DecisionEvent] = []
    remove = _collect(events)
    try:
        with d2.set_user_context("carol", ["r"]):
            assert no() is None
        assert d2.flush_events()
    finally:
        remove()
    (event,) = events
    assert (event.allowed, event.reason) == (False, "unknown_tool")
    assert event.location and event.location.endswith("policy.yaml")


def test_ready_made_events_keep_their_place(tool) -> None:  # type: ignore[no-untyped-def]
    events: list[d2.DecisionEvent] = []
    remove = _collect(events)
    mine = d2.DecisionEvent("manual", None, (), True, None, None, 0.0, None, None, 0.0)
    try:
        with d2.set_user_context("dan", ["r"]):
            tool(1)
            _events.emit(mine)
            tool(2)
        assert d2.flush_events()
    finally:
        remove()
    assert [e.tool_id for e in events] == ["ring.ok", "manual", "ring.ok"]
    assert events[1] is mine


def test_flush_without_sinks_returns_at_once() -> None:
    start = time.perf_counter()
    assert d2.flush_events(timeout=5)
    assert time.perf_counter() - start < 1.0
