"""A simulated agent for ``d2 tui --demo``: real guarded functions, real policy, real decision events.

The tools are ordinary functions behind ``d2.d2_guard`` on the demo policy, in their own d2 instance
(``tui-demo``) so nothing else in the process is affected; a seeded random script of users and calls
makes a steady mix of allowed and refused calls, and the decisions reach the TUI through
``d2.add_decision_sink`` like any other sink.
"""

from __future__ import annotations

import functools
import random
import threading
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import d2

from ..live.feed import DecisionFeed, DecisionRecord

__all__ = ["DemoAgent", "demo_policy_path"]

INSTANCE = "tui-demo"

_USERS = (
    ("ana", ("support",)),
    ("bo", ("analyst",)),
    ("cy", ("admin",)),
    ("dee", ("support", "analyst")),
    ("eve", ()),
)


def demo_policy_path() -> Path:
    """The demo policy shipped with the package."""
    return Path(str(resources.files(__package__).joinpath("policy.yaml")))


def _tools() -> dict[str, Callable[..., Any]]:
    guard: Any = functools.partial(d2.d2_guard, instance_name=INSTANCE)

    def plain(tool: str) -> Callable[..., Any]:
        def call() -> str:
            return "ok"

        guarded: Callable[..., Any] = guard(tool)(call)
        return guarded

    def read_users(limit: int = 10) -> list[dict[str, str]]:
        return [{"name": "Ada", "email": "ada@example.com", "ssn": "000-11-2222"}][:limit]

    def update_ticket(status: str) -> str:
        return status

    names = (
        "billing.read",
        "billing.refund",
        "weather.lookup",
        "users.delete",
        "email.send",
        "http.post",
        "reports.generate",
        "shell.run",
    )
    tools = {name: plain(name) for name in names}
    tools["database.read_users"] = guard("database.read_users")(read_users)
    tools["tickets.update"] = guard("tickets.update")(update_ticket)
    return tools


def _sink(feed: DecisionFeed) -> Callable[[d2.DecisionEvent], None]:
    def sink(event: d2.DecisionEvent) -> None:
        feed.ingest(
            [
                DecisionRecord(
                    event.timestamp,
                    event.request_id,
                    event.user_id,
                    event.roles,
                    event.tool_id,
                    event.allowed,
                    event.reason,
                    event.location,
                    event.latency_us,
                    event.policy_version,
                )
            ]
        )

    return sink


class DemoAgent:
    """Runs the script in a daemon thread at about ``rate`` calls per second until ``stop()``."""

    def __init__(self, feed: DecisionFeed, *, rate: float = 25.0, seed: int = 14) -> None:
        self.feed = feed
        self.rate = rate
        self.rng = random.Random(seed)
        self.calls = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="d2-tui-demo", daemon=True)
        self._remove: Callable[[], None] | None = None

    def start(self) -> DemoAgent:
        d2.configure_rbac_sync(policy_file=str(demo_policy_path()), instance_name=INSTANCE)
        self._remove = d2.add_decision_sink(_sink(self.feed))
        self.tools = _tools()
        self.feed.set_source("demo agent", f"simulated calls on {demo_policy_path().name}")
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        d2.flush_events(1.0)
        if self._remove is not None:
            self._remove()
        d2.shutdown_rbac(instance_name=INSTANCE)

    def run_request(self) -> None:
        """One request: a user and two to four calls, some with arguments that fail conditions."""
        user, roles = self.rng.choice(_USERS)
        with d2.set_user_context(user, list(roles)):
            for _ in range(self.rng.randint(2, 4)):
                tool = self.rng.choice(sorted(self.tools))
                args = self._args(tool)
                self.calls += 1
                try:
                    self.tools[tool](**args)
                except d2.PermissionDeniedError:
                    pass

    def _args(self, tool: str) -> dict[str, Any]:
        if tool == "database.read_users":
            return {"limit": self.rng.choice([10, 50, 500])}
        if tool == "tickets.update":
            return {"status": self.rng.choice(["open", "closed", "deleted"])}
        return {}

    def _run(self) -> None:
        while not self._stop.is_set():
            self.run_request()
            self._stop.wait(3.0 / self.rate)
