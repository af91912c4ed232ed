"""Usage events to the control plane (cloud mode, ``D2_TELEMETRY=usage|all``): batched, bounded, polite.

A decision sink copies a few fields of each decision into a bounded buffer (the oldest are dropped
and counted when it is full); a daemon thread posts them to ``/v1/events/ingest`` in chunks of at most
32 KiB and 1000 events, waits out ``Retry-After`` on 429, and backs off on failures. A guarded call
never waits on any of this. What is sent: tool, outcome, reason code, rule location, policy version,
latency and time. Never arguments, never a raw user id (a salted hash only when
``D2_HASH_USER_IDS=1``), never the request id.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from d2._base.log import logger
from d2._runtime.events import DecisionEvent, add_decision_sink, remove_decision_sink
from d2._sources.cloud_http import HttpError, Response, http_request

__all__ = [
    "MAX_CHUNK_BYTES",
    "UsageReporter",
    "start_usage_reporter",
    "stop_usage_reporter",
    "usage_from_env",
    "usage_reporter",
]

MAX_CHUNK_BYTES = 32 * 1024
MAX_CHUNK_EVENTS = 1000
EVENT_TYPE = "decision"

Post = Callable[[bytes], Response]


class UsageReporter:
    """Buffer decisions and post them in the background; ``dropped`` counts what never left."""

    def __init__(
        self,
        url: str,
        token: str | None,
        *,
        buffer_limit: int = 10_000,
        interval: float = 5.0,
        max_backoff: float = 300.0,
        user_salt: str | None = None,
        timeout: float = 10.0,
        post: Post | None = None,
    ) -> None:
        self.url = url
        self.token = token
        self.buffer: deque[dict[str, Any]] = deque()
        self.buffer_limit = buffer_limit
        self.interval = interval
        self.max_backoff = max_backoff
        self.user_salt = user_salt
        self.timeout = timeout
        self.post: Post = post or self._http_post
        self.dropped = 0
        self.sent = 0
        self.posts = 0
        self.next_post = 0.0  # monotonic time before which nothing is posted (Retry-After, backoff)
        self.failures = 0
        self._cond = threading.Condition()
        self._stop = False
        self._thread: threading.Thread | None = None

    # -- the sink: called on the decision-event thread, never on the guarded call ----------------
    def __call__(self, event: DecisionEvent) -> None:
        record: dict[str, Any] = {
            "tool": event.tool_id,
            "allowed": event.allowed,
            "reason": event.reason,
            "rule": event.location,
            "policy_version": event.policy_version,
            "latency_us": round(event.latency_us, 1),
        }
        if self.user_salt is not None and event.user_id is not None:
            from d2._runtime.telemetry import hash_user_id

            record["user"] = hash_user_id(event.user_id, self.user_salt)
        item = {"event_type": EVENT_TYPE, "payload": record, "occurred_at": round(event.timestamp, 3)}
        with self._cond:
            if len(self.buffer) >= self.buffer_limit:
                self.buffer.popleft()
                self.dropped += 1
            self.buffer.append(item)
            if len(self.buffer) >= MAX_CHUNK_EVENTS:
                self._cond.notify()

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> UsageReporter:
        add_decision_sink(self)
        self._thread = threading.Thread(target=self._run, name="d2-usage-events", daemon=True)
        self._thread.start()
        return self

    def stop(self, *, flush_timeout: float = 2.0) -> None:
        """Unsubscribe, try to send what is buffered (bounded), and end the thread."""
        remove_decision_sink(self)
        deadline = time.monotonic() + flush_timeout
        while self.buffer and time.monotonic() < deadline and self.send_once():
            pass
        with self._cond:
            self._stop = True
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                if self._stop:
                    return
                self._cond.wait(max(self.interval, self.next_post - time.monotonic()))
                if self._stop:
                    return
            while self.buffer and self.send_once():
                pass

    # -- sending -------------------------------------------------------------------------------------
    def take_chunk(self) -> tuple[list[dict[str, Any]], bytes]:
        """Pop the next events whose JSON body fits in MAX_CHUNK_BYTES (an oversized one is dropped)."""
        chunk: list[dict[str, Any]] = []
        size = len(b'{"events":[]}')
        with self._cond:
            while self.buffer and len(chunk) < MAX_CHUNK_EVENTS:
                encoded = len(json.dumps(self.buffer[0], separators=(",", ":")).encode("utf-8")) + 1
                if encoded + len(b'{"events":[]}') > MAX_CHUNK_BYTES:
                    self.buffer.popleft()
                    self.dropped += 1
                    continue
                if size + encoded > MAX_CHUNK_BYTES:
                    break
                chunk.append(self.buffer.popleft())
                size += encoded
        body = json.dumps({"events": chunk}, separators=(",", ":")).encode("utf-8")
        return chunk, body

    def send_once(self) -> bool:
        """Post one chunk if allowed now; True when it was accepted (so the caller may send more)."""
        if time.monotonic() < self.next_post:
            return False
        chunk, body = self.take_chunk()
        if not chunk:
            return False
        self.posts += 1
        try:
            response = self.post(body)
        except HttpError as exc:
            return self._retry_later(chunk, None, f"{exc}")
        if 200 <= response.status < 300:
            self.sent += len(chunk)
            self.failures = 0
            return True
        if response.status == 429 or response.status >= 500:
            return self._retry_later(chunk, response.header_float("Retry-After"), f"HTTP {response.status}")
        # 4xx other than 429: this chunk will never be accepted; drop it, keep the rest.
        self.dropped += len(chunk)
        logger().warning(
            "d2: usage events refused by %s (HTTP %s); %d dropped", self.url, response.status, len(chunk)
        )
        return True

    def _retry_later(self, chunk: list[dict[str, Any]], retry_after: float | None, why: str) -> bool:
        self.failures += 1
        if retry_after is not None and retry_after >= 0:
            wait = min(retry_after, self.max_backoff)
        else:
            wait = min(self.max_backoff, self.interval * 2 ** min(self.failures, 16)) * random.uniform(
                0.8, 1.2
            )
        self.next_post = time.monotonic() + wait
        with self._cond:
            room = self.buffer_limit - len(self.buffer)
            keep = chunk[-room:] if room > 0 else []
            self.dropped += len(chunk) - len(keep)
            self.buffer.extendleft(reversed(keep))
        logger().info("d2: usage events deferred %.1fs (%s)", wait, why)
        return False

    def _http_post(self, body: bytes) -> Response:
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return http_request("POST", self.url, headers=headers, content=body, timeout=self.timeout)


_REPORTER: list[UsageReporter] = []


def start_usage_reporter(url: str, token: str | None, *, user_salt: str | None = None) -> UsageReporter:
    """Start the process's usage reporter (replacing a previous one)."""
    stop_usage_reporter()
    reporter = UsageReporter(url, token, user_salt=user_salt).start()
    _REPORTER.append(reporter)
    return reporter


def stop_usage_reporter() -> None:
    while _REPORTER:
        _REPORTER.pop().stop()


def usage_from_env(token: str | None) -> UsageReporter | None:
    """Start the reporter when ``D2_TELEMETRY`` is ``usage`` or ``all`` and ``D2_API_URL`` names a plane."""
    import os

    from d2._runtime.telemetry import telemetry_mode

    if telemetry_mode() not in ("usage", "all"):
        return None
    api = (os.environ.get("D2_API_URL") or "").rstrip("/")
    if not api:
        logger().info("d2: usage telemetry is on but D2_API_URL is not set; no usage events are sent")
        return None
    hashing = os.environ.get("D2_HASH_USER_IDS", "").lower() in ("1", "true", "yes", "on")
    salt = os.environ.get("D2_USER_ID_SALT", "") if hashing else None
    return start_usage_reporter(f"{api}/v1/events/ingest", token, user_salt=salt)


def usage_reporter() -> UsageReporter | None:
    """The running reporter (for status output and tests)."""
    return _REPORTER[-1] if _REPORTER else None
