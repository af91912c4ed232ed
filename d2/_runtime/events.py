"""Decision events: one small record per decision, delivered to sinks off the calling thread.

With no sink registered the guard pays one truthiness test. With sinks, a call appends one tuple to
a bounded ring (a ``deque`` with ``maxlen``: lock-free, it never blocks) and the consumer thread turns
records into :class:`DecisionEvent` objects and hands them to the sinks, so a slow sink cannot block
a guarded call and a raising sink cannot raise into one. When the ring is full the oldest record is
overwritten; every record carries a sequence number, so each one lost is counted
(:func:`dropped_events`), never lost silently.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from time import perf_counter
from typing import TYPE_CHECKING, Any

from d2._base.log import logger
from d2._base.roles import _SORTED, sorted_roles

if TYPE_CHECKING:
    from d2._runtime.event_model import DecisionEvent

__all__ = ["DecisionEvent", "EventSink", "add_decision_sink", "flush_events", "remove_decision_sink"]

QUEUE_LIMIT = 10_000


EventSink = Callable[["DecisionEvent"], object]

# Read on the hot path: a plain list whose truthiness says whether anyone listens.
SINKS: list[EventSink] = []


# A record: (seq, tool, user_id, roles, allowed, reason, location, started, ended, version,
# request_id). Built on the calling thread; the consumer turns it into a DecisionEvent.
_Record = tuple[Any, ...]

_IDLE_WAIT = 0.5  # the consumer's fallback poll; a record normally wakes it at once
_BATCH_PAUSE = 0.002


class _Dispatcher:
    def __init__(self) -> None:
        self.ring: deque[_Record] = deque(maxlen=QUEUE_LIMIT)
        self.seq = itertools.count()
        self.expected = 0  # every sequence number below this one is delivered or counted as dropped
        self.dropped = 0
        self.waiting = False
        self.busy = False
        self.wake = threading.Event()
        self.cond = threading.Condition()
        self.thread: threading.Thread | None = None

    def allocated(self) -> int:
        """How many sequence numbers were handed out (read without taking one)."""
        return int(repr(self.seq)[6:-1])

    def resize(self) -> None:
        """Follow ``QUEUE_LIMIT`` (read when a sink is added)."""
        if self.ring.maxlen != QUEUE_LIMIT:
            self.ring = deque(self.ring, maxlen=QUEUE_LIMIT)

    def ensure_thread(self) -> None:
        with self.cond:
            if self.thread is not None and self.thread.is_alive():
                return
            self.thread = threading.Thread(target=self._run, name="d2-decision-events", daemon=True)
            self.thread.start()

    def _run(self) -> None:
        # Only once a sink listens. The loop builds each event inline (no call per event).
        from d2._runtime.recorded_event import EPOCH_SET, NEW, RECORD_SET, RecordedEvent

        while True:
            if not self.ring:
                self._idle()
                continue
            batch = self._take()
            epoch = time.time() - perf_counter()
            sinks = list(SINKS)
            for record in batch:
                # One event at a time: each is freed before the next exists, so delivery allocates
                # nothing that lives long enough to make the collector scan the whole heap.
                if len(record) == 2:
                    event = record[1]
                else:
                    event = NEW(RecordedEvent)
                    RECORD_SET(event, record)
                    EPOCH_SET(event, epoch)
                for sink in sinks:
                    try:
                        sink(event)
                    except Exception:
                        logger().exception("d2 decision sink %r failed; the event was dropped for it", sink)
            with self.cond:
                self.busy = False
                self.cond.notify_all()
            # Let records gather: one pass over many costs less than a wake-up per call.
            time.sleep(_BATCH_PAUSE)

    def _take(self) -> list[_Record]:
        """Move every record in the ring to a batch and account for its sequence numbers."""
        ring = self.ring
        batch: list[_Record] = []
        take = ring.popleft
        with self.cond:
            self.busy = True
            try:
                for _ in range(len(ring)):
                    batch.append(take())
            except IndexError:
                pass
            if batch:
                seqs = [record[0] for record in batch]
                low, high = min(seqs), max(seqs)
                if low == self.expected and high - low + 1 == len(seqs):
                    self.expected = high + 1  # distinct and spanning exactly: nothing was lost
                else:
                    for seq in seqs:
                        self._account(seq)
        return batch

    def _idle(self) -> None:
        self.waiting = True
        if not self.ring:
            with self.cond:
                self.cond.notify_all()
            self.wake.wait(_IDLE_WAIT)
        self.wake.clear()
        self.waiting = False

    def _account(self, seq: int) -> None:
        """Count the gap before ``seq`` as dropped; a late record (out of order) is not a drop after all."""
        if seq >= self.expected:
            self.dropped += seq - self.expected
            self.expected = seq + 1
        else:
            self.dropped -= 1

    def pending_drops(self) -> int:
        """Records overwritten in the ring that the consumer has not reached (and counted) yet."""
        unseen = self.allocated() - self.expected - len(self.ring)
        return max(0, unseen)

    def flush(self, timeout: float) -> bool:
        target = self.allocated()
        if self.waiting:
            self.wake.set()
        with self.cond:
            return self.cond.wait_for(
                lambda: self.thread is None or (self.expected >= target and not self.busy), timeout
            )


_DISPATCHER = _Dispatcher()


def record(
    tool: str,
    state: Any,
    allowed: bool,
    reason: str | None,
    location: str | None,
    started: float,
    policy: Any,
) -> None:
    """Append one decision to the ring (the hot path: no lock, no event object, never blocks).

    The record holds only strings, numbers and tuples of strings, so the collector untracks it: a
    ring full of records adds nothing to the full collections that would scan a big policy.
    """
    d = _DISPATCHER
    if state is not None:
        user = state.user
        roles = _ROLES.get(user.roles) or sorted_roles(user.roles)
        user_id, request_id = user.user_id, state.log.request_id
    else:
        roles, user_id, request_id = (), None, None
    version = policy.version if policy is not None else None
    d.ring.append(
        (
            next(d.seq),
            tool,
            user_id,
            roles,
            allowed,
            reason,
            location,
            started,
            perf_counter(),
            version,
            request_id,
        )
    )
    if d.waiting:
        d.wake.set()


_ROLES = _SORTED  # read directly on the hot path; ``sorted_roles`` fills it


def record_refusal(tool: str, state: Any, reason: str, policy: Any) -> None:
    """Record a refusal decided after the guard let a call run (the MCP proxy withholding a result
    its output rules cannot see), exactly as the guard records its own; nothing without a sink."""
    if SINKS:
        now = perf_counter()
        record(tool, state, False, reason, None, now, policy)


def emit(event: DecisionEvent) -> None:
    """Deliver a ready-made event to the sinks, in order with recorded decisions; never raises."""
    try:
        d = _DISPATCHER
        d.ring.append((next(d.seq), event))
        if d.waiting:
            d.wake.set()
    except Exception:  # pragma: no cover - defensive: events must never break a call
        logger().exception("d2 could not queue a decision event")


def add_decision_sink(sink: EventSink) -> Callable[[], None]:
    """Subscribe ``sink`` to every decision; returns a function that unsubscribes it."""
    _DISPATCHER.resize()
    _DISPATCHER.ensure_thread()
    SINKS.append(sink)
    return lambda: remove_decision_sink(sink)


def remove_decision_sink(sink: EventSink) -> None:
    """Unsubscribe ``sink`` (no error if it was not subscribed)."""
    try:
        SINKS.remove(sink)
    except ValueError:
        pass


def flush_events(timeout: float = 5.0) -> bool:
    """Wait until queued events were delivered (for tests and shutdown); True when drained in time."""
    return _DISPATCHER.flush(timeout)


def dropped_events() -> int:
    """How many events were dropped because the ring was full (counted, never silent)."""
    d = _DISPATCHER
    with d.cond:
        return d.dropped + d.pending_drops()


def _after_fork() -> None:
    """A forked child has no consumer thread: start afresh (records of the parent stay there)."""
    global _DISPATCHER
    _DISPATCHER = _Dispatcher()
    if SINKS:
        _DISPATCHER.ensure_thread()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


def __getattr__(name: str) -> Any:
    """``DecisionEvent`` on first use: a program with no sink never builds the class's dataclass."""
    if name == "DecisionEvent":
        from d2._runtime.event_model import DecisionEvent

        return DecisionEvent
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
