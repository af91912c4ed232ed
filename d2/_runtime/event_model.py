"""The decision event: what every sink receives, one per decision (see ``events`` for delivery)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DecisionEvent"]


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
