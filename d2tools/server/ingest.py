"""Usage events in: chunks of at most 32 KiB, throttled per token, stored for the app."""

from __future__ import annotations

import json
import math
import time
from typing import Any

from .bodies import parse_json
from .config import ApiError
from .ratelimit import RateLimiter
from .service import ControlPlane, Principal
from .storage import EventRecord

__all__ = ["MAX_CHUNK_BYTES", "MAX_EVENTS", "ingest"]

MAX_CHUNK_BYTES = 32 * 1024
MAX_EVENTS = 1000


def throttle(limiter: RateLimiter, who: Principal) -> None:
    """Refuse with 429 and a whole-second Retry-After when the token is over its rate."""
    wait = limiter.take(who.token.id)
    if wait > 0:
        seconds = max(1, math.ceil(wait))
        raise ApiError(
            429,
            "rate_limited",
            f"too many event chunks; retry after {seconds}s",
            headers={"Retry-After": str(seconds)},
        )


def parse_events(raw: bytes) -> list[EventRecord]:
    """Check a chunk's size and shape: ``{"events": [{event_type, payload, occurred_at}, ...]}``."""
    if len(raw) > MAX_CHUNK_BYTES:
        raise ApiError(
            413,
            "chunk_too_large",
            f"an ingest chunk is at most {MAX_CHUNK_BYTES} bytes; this one is {len(raw)}: split it",
        )
    data = parse_json(raw, what="the ingest chunk")
    events = data.get("events") if isinstance(data, dict) else None
    if not isinstance(events, list) or len(events) > MAX_EVENTS:
        raise ApiError(400, "bad_events", f'send {{"events": [...]}} with at most {MAX_EVENTS} events')
    return [_event(e, i) for i, e in enumerate(events)]


def _event(item: Any, index: int) -> EventRecord:
    if not isinstance(item, dict):
        raise ApiError(400, "bad_events", f"events[{index}] must be an object")
    kind, occurred = item.get("event_type"), item.get("occurred_at")
    if not isinstance(kind, str) or not kind or len(kind) > 100:
        raise ApiError(400, "bad_events", f"events[{index}].event_type must be a short string")
    if occurred is not None and not isinstance(occurred, (str, int, float)):
        raise ApiError(400, "bad_events", f"events[{index}].occurred_at must be a string or a number")
    payload = json.dumps(item.get("payload"), separators=(",", ":"), sort_keys=True)
    return EventRecord(kind, payload, None if occurred is None else str(occurred))


def ingest(cp: ControlPlane, who: Principal, events: list[EventRecord]) -> dict[str, Any]:
    accepted = cp.storage.add_events(who.app.id, who.token.id, events, int(time.time()))
    return {"accepted": accepted}
