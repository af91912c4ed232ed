"""Decisions arriving from any source, counted exactly and kept for display within fixed bounds.

Readers (log follower, stream client, demo agent) call :meth:`DecisionFeed.ingest` from their own
threads. Counters are updated for every decision, so they never lose one; the rows kept for display
and the rows waiting for the UI are bounded deques, so memory stays flat at any rate. The UI drains
the pending rows on a timer, in one batch per tick, instead of one message per decision.
"""

from __future__ import annotations

import json
import threading
from collections import Counter, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["DecisionFeed", "DecisionRecord", "FeedSnapshot", "parse_record"]

KEEP_ROWS = 5_000
PENDING_ROWS = 5_000
MAX_TOOLS = 10_000
SPARK_SECONDS = 60
_OTHER = "(other tools)"


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    """One decision as the decision log and the live stream write it (see ``d2.DecisionEvent``)."""

    timestamp: float
    request_id: str | None
    user_id: str | None
    roles: tuple[str, ...]
    tool_id: str
    allowed: bool
    reason: str | None
    location: str | None
    latency_us: float
    policy_version: str | None = None

    def matches(self, needle: str) -> bool:
        """Filter: ``user:x``, ``tool:x``, ``reason:x``, ``refused``/``allowed``, else any field."""
        for word in needle.lower().split():
            field, _, value = word.partition(":")
            if word == "refused":
                ok = not self.allowed
            elif word == "allowed":
                ok = self.allowed
            elif value and field == "user":
                ok = value in (self.user_id or "").lower()
            elif value and field == "tool":
                ok = value in self.tool_id.lower()
            elif value and field == "reason":
                ok = value in (self.reason or "allowed").lower()
            elif value and field == "role":
                ok = any(value in r.lower() for r in self.roles)
            else:
                ok = word in self.haystack
            if not ok:
                return False
        return True

    @property
    def haystack(self) -> str:
        parts = (self.tool_id, self.user_id or "", self.reason or "allowed", " ".join(self.roles))
        return " ".join(parts).lower()


def parse_record(data: Mapping[str, Any]) -> DecisionRecord | None:
    """Read one decision (a ``DecisionEvent`` as JSON); None when it is not one."""
    tool, allowed = data.get("tool_id"), data.get("allowed")
    if not isinstance(tool, str) or not isinstance(allowed, bool):
        return None
    roles = data.get("roles")

    def text(key: str) -> str | None:
        value = data.get(key)
        return value if isinstance(value, str) else None

    def number(key: str) -> float:
        value = data.get(key)
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0

    return DecisionRecord(
        number("timestamp"),
        text("request_id"),
        text("user_id"),
        tuple(str(r) for r in roles) if isinstance(roles, list) else (),
        tool,
        allowed,
        text("reason"),
        text("location"),
        number("latency_us"),
        text("policy_version"),
    )


@dataclass(frozen=True, slots=True)
class FeedSnapshot:
    """Counters at one moment (copied, so the UI reads them without holding the lock)."""

    total: int
    refused: int
    per_tool: Mapping[str, tuple[int, int]]
    refusals_per_second: tuple[int, ...]
    malformed: int
    lost: int
    sources: tuple[str, ...]


class DecisionFeed:
    """Thread-safe sink of decisions with exact counters and bounded row buffers."""

    def __init__(self, *, keep: int = KEEP_ROWS, pending: int = PENDING_ROWS) -> None:
        self._lock = threading.Lock()
        self.rows: deque[DecisionRecord] = deque(maxlen=keep)
        self._pending: deque[DecisionRecord] = deque(maxlen=pending)
        self._allowed: Counter[str] = Counter()
        self._refused: Counter[str] = Counter()
        self._known: set[str] = set()
        self._by_second: dict[int, int] = {}
        self._latest_second = 0
        self.total = 0
        self.malformed = 0
        self.lost = 0
        self.sources: dict[str, str] = {}

    def ingest(self, records: Iterable[DecisionRecord]) -> int:
        """Count and keep ``records``; returns how many were taken."""
        taken = 0
        with self._lock:
            for record in records:
                taken += 1
                tool = record.tool_id
                if tool not in self._known:
                    if len(self._known) >= MAX_TOOLS:
                        tool = _OTHER
                    self._known.add(tool)
                if record.allowed:
                    self._allowed[tool] += 1
                else:
                    self._refused[tool] += 1
                    second = int(record.timestamp)
                    self._by_second[second] = self._by_second.get(second, 0) + 1
                    if second > self._latest_second:
                        self._latest_second = second
                        self._trim_seconds()
                self.rows.append(record)
                self._pending.append(record)
            self.total += taken
        return taken

    def ingest_lines(self, lines: Iterable[bytes | str]) -> int:
        """Parse JSON lines (decision log or stream) and ingest the decisions among them."""
        records = []
        bad = lost = 0
        for line in lines:
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except ValueError:
                bad += 1
                continue
            if isinstance(data, dict) and isinstance(data.get("dropped"), int):
                lost += data["dropped"]  # the stream's notice that it dropped lines for a slow reader
                continue
            record = parse_record(data) if isinstance(data, dict) else None
            if record is None:
                bad += 1
            else:
                records.append(record)
        with self._lock:
            self.malformed += bad
            self.lost += lost
        return self.ingest(records)

    def set_source(self, name: str, status: str) -> None:
        with self._lock:
            self.sources[name] = status

    def drain(self) -> list[DecisionRecord]:
        """Rows that arrived since the last drain (at most ``pending``; older ones are in the counters)."""
        with self._lock:
            out = list(self._pending)
            self._pending.clear()
        return out

    def snapshot(self) -> FeedSnapshot:
        with self._lock:
            per_tool = {t: (self._allowed[t], self._refused[t]) for t in self._known}
            top = self._latest_second
            spark = tuple(self._by_second.get(s, 0) for s in range(top - SPARK_SECONDS + 1, top + 1))
            return FeedSnapshot(
                self.total,
                sum(self._refused.values()),
                per_tool,
                spark if top else (),
                self.malformed,
                self.lost,
                tuple(f"{k}: {v}" for k, v in self.sources.items()),
            )

    def _trim_seconds(self) -> None:
        floor = self._latest_second - SPARK_SECONDS
        for second in [s for s in self._by_second if s <= floor]:
            del self._by_second[second]
