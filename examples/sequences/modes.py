"""Sequence modes side by side: allow mode (a blocklist of patterns) and deny mode (a workflow allowlist).

A trusted engineer works in allow mode: anything RBAC permits, except the denied patterns, unless an
allow pattern completed by the same call says otherwise. An AI agent and a clinical assistant work in
deny mode: the first call must start a drawn workflow and every later call must follow an edge from
the previous one. Run ``python examples/sequences/modes.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import d2

POLICY = Path(__file__).with_name("modes_policy.yaml")
TOOLS = [
    "database.read_users",
    "report.approve",
    "email.send",
    "web.http_request",
    "web.search",
    "llm.summarize",
    "report.save",
    "clock.now",
    "consent.check",
    "ehr.read_record",
    "audit.log",
]


def make_tool(name: str) -> Callable[[], str]:
    """Guard a stand-in tool that just reports it ran."""

    def tool() -> str:
        return "ok"

    return d2.d2_guard(name)(tool)


GUARDED = {name: make_tool(name) for name in TOOLS}


def request(title: str, user: str, roles: list[str], calls: list[str]) -> None:
    """Play ``calls`` as one request and print each decision."""
    print(f"{title} ({user} {roles})")
    with d2.set_user_context(user, roles):
        for name in calls:
            try:
                GUARDED[name]()
                print(f"  ALLOW  {name}")
            except d2.PermissionDeniedError as exc:
                print(f"  DENY   {name:<20} -> {exc.detail}")


def main() -> None:
    d2.configure_rbac_sync(POLICY)
    eng = ["senior_engineer"]
    print("== Allow mode: a blocklist of patterns ==")
    request("Exfiltration is denied", "dana", eng, ["database.read_users", "web.search", "email.send"])
    request(
        "An approved report may go out", "dana", eng, ["database.read_users", "report.approve", "email.send"]
    )
    request(
        "The approval covers email only",
        "dana",
        eng,
        ["database.read_users", "report.approve", "web.http_request"],
    )
    print("\n== Deny mode: an allowlist of workflows ==")
    agent = ["ai_agent"]
    request("Search, summarize, save", "agent-1", agent, ["web.search", "llm.summarize", "report.save"])
    request("Skipping a step", "agent-2", agent, ["web.search", "report.save"])
    request("Entering a workflow mid-way", "agent-3", agent, ["report.save"])
    request(
        "clock.now may come anywhere, and the next step must follow from it",
        "agent-4",
        agent,
        ["web.search", "llm.summarize", "clock.now", "report.save"],
    )
    print("\n== Deny mode in a regulated workflow ==")
    nurse = ["clinical_assistant"]
    request("Reading without consent", "nurse-1", nurse, ["ehr.read_record"])
    request(
        "Consent, read, audit, then email",
        "nurse-2",
        nurse,
        ["consent.check", "ehr.read_record", "audit.log", "email.send"],
    )
    request("A notification without a record", "nurse-3", nurse, ["audit.log", "email.send"])
    d2.shutdown_rbac()


if __name__ == "__main__":
    main()
