"""Decision events: one small record per decision, delivered to sinks off the calling thread.

The guard only appends to a bounded queue when at least one sink is registered (with none, the cost
is one truthiness test). A daemon thread delivers to sinks, so a slow sink cannot block a guarded
call and a raising sink cannot raise into one; when the queue is full the oldest event is dropped
and counted.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from d2._base.log import logger

__all__ = ["DecisionEvent", "EventSink", "add_decision_sink", "flush_events", "remove_decision_sink"]

QUEUE_LIMIT = 10_000


@dataclass(frozen=True, slots=True)
class DecisionEvent:
    """What was decided, for whom, why, where in the policy, and how long the check took."""

    tool_id: str
    user_id: str | None
    roles: tuple[str, ...]
    allowed: bool
    reason: str | None
    location: str | None
    latency_us: float
    policy_version: str | None
    request_id: str | None
    timestamp: float


EventSink = Callable[[DecisionEvent], object]

# Read on the hot path: a plain list whose truthiness says whether anyone listens.
SINKS: list[EventSink] = []


class _Dispatcher:
    def __init__(self) -> None:
        self.queue: deque[DecisionEvent] = deque()
        self.dropped = 0
        self.cond = threading.Condition()
        self.thread: threading.Thread | None = None
        self.busy = False

    def put(self, event: DecisionEvent) -> None:
        with self.cond:
            if len(self.queue) >= QUEUE_LIMIT:
                self.queue.popleft()
                self.dropped += 1
            self.queue.append(event)
            self.cond.notify()
        if self.thread is None or not self.thread.is_alive():
            self._start()

    def _start(self) -> None:
        with self.cond:
            if self.thread is not None and self.thread.is_alive():
                return
            self.thread = threading.Thread(target=self._run, name="d2-decision-events", daemon=True)
            self.thread.start()

    def _run(self) -> None:
        while True:
            with self.cond:
                while not self.queue:
                    self.busy = False
                    self.cond.notify_all()
                    self.cond.wait()
                event = self.queue.popleft()
                self.busy = True
            for sink in list(SINKS):
                try:
                    sink(event)
                except Exception:
                    logger().exception("d2 decision sink %r failed; the event was dropped for it", sink)

    def flush(self, timeout: float) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: not self.queue and not self.busy, timeout)


_DISPATCHER = _Dispatcher()


def emit(event: DecisionEvent) -> None:
    """Queue an event for the sinks; never raises, never blocks on a sink."""
    try:
        _DISPATCHER.put(event)
    except Exception:  # pragma: no cover - defensive: events must never break a call
        logger().exception("d2 could not queue a decision event")


def add_decision_sink(sink: EventSink) -> Callable[[], None]:
    """Subscribe ``sink`` to every decision; returns a function that unsubscribes it."""
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
    """How many events were dropped because the queue was full."""
    return _DISPATCHER.dropped
