"""Build the d2 tui app the way ``d2 tui`` does (``make_tui``), on file fixtures, at a fixed size and time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "tui"
POLICY = FIXTURES / "policy.yaml"
SIZE = (130, 40)
# Lint's expiry checks and bundle dates are judged against this instant, never the wall clock.
NOW = datetime(2026, 6, 1, tzinfo=timezone.utc)


def record(
    i: int, *, tool: str = "billing.read", allowed: bool = True, user: str = "ana", **extra: Any
) -> Any:
    """A decision as the log and the stream carry it, at a fixed time."""
    from d2tools.tui.live.feed import DecisionRecord

    reason = None if allowed else extra.pop("reason", "rbac")
    return DecisionRecord(
        timestamp=1_767_225_600 + i * 0.25,
        request_id=extra.pop("request_id", f"req{i // 3:04d}"),
        user_id=user,
        roles=tuple(extra.pop("roles", ("support",))),
        tool_id=tool,
        allowed=allowed,
        reason=reason,
        location=extra.pop("location", None),
        latency_us=extra.pop("latency_us", 3.0),
        policy_version=None,
    )


@pytest.fixture
def make_app() -> Callable[..., Any]:
    """``make_app(**TuiOptions fields)``: the real app, sources not started unless asked."""
    from d2tools.tui import TuiOptions, make_tui

    def build(*, start_sources: bool = False, **options: Any) -> Any:
        options.setdefault("now", NOW)
        if "path" not in options and not any(options.get(k) for k in ("demo", "state", "server")):
            options["path"] = POLICY
        return make_tui(TuiOptions(**options), start_sources=start_sources)

    return build
