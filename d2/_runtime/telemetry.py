"""Telemetry sinks for decision events: a JSONL decision log and OpenTelemetry metrics.

Nothing leaves the process unless asked: ``D2_TELEMETRY`` defaults to ``off``. Events never carry
argument values. User ids are left out of metrics entirely (they would explode cardinality and leak
identities) and can be replaced by a salted hash in the decision log (``D2_HASH_USER_IDS=1``).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import asdict
from pathlib import Path
from typing import Any

from d2._runtime.events import DecisionEvent, add_decision_sink, remove_decision_sink
from d2.exceptions import ConfigurationError

__all__ = [
    "JsonlDecisionLog",
    "OtelMetricsSink",
    "configure_telemetry",
    "hash_user_id",
    "telemetry_mode",
]

MODES = ("off", "metrics", "usage", "all")
# Values the vendor SDK accepts, mapped onto ours (semantics.md, "Privacy").
_ALIASES = {
    "0": "off",
    "none": "off",
    "false": "off",
    "no": "off",
    "disabled": "off",
    "1": "all",
    "on": "all",
    "true": "all",
    "yes": "all",
    "*": "all",
    "enabled": "all",
}
_warned: set[str] = set()


def telemetry_mode() -> str:
    """Return ``D2_TELEMETRY`` as off, metrics, usage or all; an unknown value is a configuration error."""
    raw = os.environ.get("D2_TELEMETRY", "off").strip().lower() or "off"
    mode = _ALIASES.get(raw, raw)
    if mode not in MODES:
        from d2._base.suggest import suggest

        guess = suggest(raw, (*MODES, *_ALIASES))
        hint = f" (did you mean {guess!r}?)" if guess else ""
        raise ConfigurationError(
            f"D2_TELEMETRY must be one of {', '.join(MODES)} (or 0/1, true/false, yes/no, none, *), "
            f"got {raw!r}{hint}"
        )
    if mode in ("usage", "all") and mode not in _warned:
        # The vendor's usage events carry raw user ids and denial details; ours never do.
        _warned.add(mode)
        from d2._base.log import logger

        logger().warning(
            "d2: D2_TELEMETRY=%s: usage events are sent without raw user ids or argument values "
            "(hashed ids only with D2_HASH_USER_IDS=1); see docs/migrating.md",
            raw,
        )
    return mode


def hash_user_id(user_id: str | None, salt: str = "") -> str | None:
    """A stable pseudonym for ``user_id``: the first 16 hex digits of SHA-256(salt + id)."""
    if user_id is None:
        return None
    return hashlib.sha256(f"{salt}{user_id}".encode()).hexdigest()[:16]


def _hashing_from_env() -> tuple[bool, str]:
    flag = os.environ.get("D2_HASH_USER_IDS", "").lower() in ("1", "true", "yes", "on")
    return flag, os.environ.get("D2_USER_ID_SALT", "")


class JsonlDecisionLog:
    """Append every decision as one JSON line to ``path`` (a local audit trail; nothing is sent)."""

    def __init__(
        self, path: str | os.PathLike[str], *, hash_user_ids: bool | None = None, salt: str | None = None
    ):
        env_flag, env_salt = _hashing_from_env()
        self.path = Path(path)
        self.hash_user_ids = env_flag if hash_user_ids is None else hash_user_ids
        self.salt = env_salt if salt is None else salt
        self._lock = threading.Lock()
        self._remove: Any = None

    def __call__(self, event: DecisionEvent) -> None:
        record = asdict(event)
        if self.hash_user_ids:
            record["user_id"] = hash_user_id(event.user_id, self.salt)
        line = json.dumps(record, separators=(",", ":"), sort_keys=True)
        with self._lock, self.path.open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")

    def install(self) -> JsonlDecisionLog:
        """Subscribe to decision events; returns self, so ``JsonlDecisionLog(p).install()`` reads well."""
        self._remove = add_decision_sink(self)
        return self

    def uninstall(self) -> None:
        remove_decision_sink(self)


class OtelMetricsSink:
    """Count decisions and record check latency with the OpenTelemetry metrics API (the ``otel`` extra).

    Uses the application's meter provider; d2 never installs or overrides one. Attributes are the tool,
    the outcome and the reason: never user ids, never argument values.
    """

    def __init__(self, meter_provider: Any = None) -> None:
        try:
            from opentelemetry import metrics
        except ImportError as exc:  # pragma: no cover - exercised only without the extra
            raise ConfigurationError(
                "OpenTelemetry metrics need the 'otel' extra: pip install 'd2-guard[otel]'"
            ) from exc
        meter = (meter_provider or metrics.get_meter_provider()).get_meter("d2")
        self.decisions = meter.create_counter("d2.decisions", unit="1", description="Guarded-call decisions")
        self.latency = meter.create_histogram("d2.decision.latency", unit="us", description="Time to decide")

    def __call__(self, event: DecisionEvent) -> None:
        attributes: dict[str, Any] = {
            "tool": event.tool_id,
            "allowed": event.allowed,
            "reason": event.reason or "allowed",
        }
        self.decisions.add(1, attributes)
        self.latency.record(event.latency_us, attributes)

    def install(self) -> OtelMetricsSink:
        add_decision_sink(self)
        return self


_INSTALLED: list[Any] = []


def configure_telemetry() -> list[Any]:
    """Install the sinks ``D2_TELEMETRY`` asks for (once); with ``off`` (the default) install none."""
    mode = telemetry_mode()
    if _INSTALLED or mode in ("off", "usage"):
        return list(_INSTALLED)
    try:
        _INSTALLED.append(OtelMetricsSink().install())
    except ConfigurationError as exc:
        # Asked for metrics we cannot send: say so once instead of failing start-up.
        from d2._base.log import logger

        logger().warning("d2: D2_TELEMETRY=%s asks for metrics, which are not sent: %s", mode, exc)
    return list(_INSTALLED)
