"""Data-flow labels: blanket protection once sensitive data is in the request.

Scenarios: sensitive data blocks every egress tool; LLM output cannot reach code execution; a pivot
to another egress channel slips past a sequence rule but not past a label; labels accumulate; a label
set from code blocks like one set by policy. Run ``python examples/data_flow/demo.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import d2

HERE = Path(__file__).parent
TOOLS = [
    "database.read_users",
    "secrets.get_key",
    "payment.process",
    "analytics.summarize",
    "llm.generate",
    "http.request",
    "email.send",
    "slack.post",
    "webhook.call",
    "logging.info",
    "shell.execute",
    "code.eval",
]


def make_tool(name: str) -> Callable[[], str]:
    """Guard a stand-in tool that just reports it ran."""

    def tool() -> str:
        return "ok"

    return d2.d2_guard(name)(tool)


GUARDED = {name: make_tool(name) for name in TOOLS}


def call(name: str) -> None:
    """Call one tool in the current request and print the decision."""
    try:
        GUARDED[name]()
        print(f"  ALLOW  {name:<20} labels now: {sorted(d2.get_facts())}")
    except d2.PermissionDeniedError as exc:
        print(f"  DENY   {name:<20} -> {exc.reason}: {exc.detail}")


def request(title: str, calls: list[str], *, hand_set: str | None = None) -> None:
    """Play ``calls`` as one request of a researcher; optionally record a label from code first."""
    print(title)
    with d2.set_user_context("agent-1", ["researcher"]):
        if hand_set is not None:
            d2.record_fact(hand_set)
            print(f"  (code recorded {hand_set} after reading an untrusted web page)")
        for name in calls:
            call(name)


def main() -> None:
    d2.configure_rbac_sync(HERE / "policy.yaml")
    request(
        "1. Sensitive data blocks every egress tool",
        [
            "database.read_users",
            "analytics.summarize",
            "http.request",
            "slack.post",
            "email.send",
            "webhook.call",
        ],
    )
    request("2. LLM output cannot reach code execution", ["llm.generate", "shell.execute", "code.eval"])

    d2.configure_rbac_sync(HERE / "sequence_only_policy.yaml")
    request(
        "3a. Pivot attack against a sequence rule alone",
        ["database.read_users", "http.request", "slack.post"],
    )
    d2.configure_rbac_sync(HERE / "policy.yaml")
    request(
        "3b. The same pivot against a label",
        ["database.read_users", "http.request", "slack.post", "email.send"],
    )

    request("4. Labels accumulate", ["logging.info", "payment.process", "secrets.get_key", "logging.info"])
    request("5. A label recorded from code", ["code.eval"], hand_set="LLM_OUTPUT")
    d2.shutdown_rbac()


if __name__ == "__main__":
    main()
