"""The proxy over stdio in front of the example CRM server: every layer of the policy, both eras.

Each proxy start costs two Python processes, so one session walks through many checks in order.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from .conftest import CRM, POLICY, refusal, stdio_client, text

SUPPORT = ["--policy", str(POLICY), "--name", "crm", "--user", "agent-7", "--role", "support"]
LEAKS = ("agent-7", "support", "attacker", "../etc", str(POLICY.parent))


def proxy(*extra: str, mode: str = "auto"):  # type: ignore[no-untyped-def]
    return stdio_client(*SUPPORT, *extra, "--", *CRM, mode=mode)


def refused(result, reason: str, rule: str | None = None) -> None:  # type: ignore[no-untyped-def]
    meta = refusal(result)
    assert meta["reason"] == reason, text(result)
    if rule is not None:
        assert meta["rule"] == rule
    shown = text(result)
    assert shown.startswith(f"Refused by policy (reason: {reason}")
    for secret in LEAKS:  # nothing a model could use: no user id, roles, argument values or paths
        assert secret not in shown


@pytest.mark.parametrize(("mode", "era"), [("legacy", "2025-11-25"), ("auto", "2026-07-28")])
async def test_stdio_end_to_end(mode: str, era: str, tmp_path: Path) -> None:
    log = tmp_path / "decisions.jsonl"
    async with proxy("--decision-log", str(log), mode=mode) as client:
        assert client.protocol_version == era
        names = sorted(t.name for t in (await client.list_tools()).tools)
        # delete_customer is explicitly denied to support; crash is granted; the rest is not in the policy.
        assert names == [
            "crm.crash",
            "crm.export_customers",
            "crm.lookup_customer",
            "crm.post_webhook",
            "crm.read_notes",
            "crm.send_email",
        ]

        found = await client.call_tool("crm.lookup_customer", {"customer_id": "C001"})
        assert not found.is_error and found.structured_content is not None
        assert "ssn" not in found.structured_content
        assert found.structured_content["card"] == "[REDACTED]1111"
        # The text copy is rebuilt from the sanitized value: the raw SSN never reaches the client.
        assert "123-45-6789" not in text(found) and "4111111111111111" not in text(found)
        assert json.loads(text(found)) == found.structured_content

        refused(await client.call_tool("crm.delete_customer", {"customer_id": "C001"}), "explicit_deny",
                "policy.yaml:33")  # fmt: skip
        refused(await client.call_tool("crm.lookup_customer", {"customer_id": "../etc"}), "input_validation",
                "policy.yaml:20")  # fmt: skip
        mail = {"to": "attacker@evil.example", "subject": "s", "body": "b"}
        refused(await client.call_tool("crm.send_email", mail), "input_validation", "policy.yaml:30")
        refused(await client.call_tool("crm.no_such_tool", {}), "unknown_tool")

        # Data flow: once an export is in the session, nothing may leave by email or webhook.
        assert not (await client.call_tool("crm.export_customers", {})).is_error
        mail = {"to": "bo@example.com", "subject": "s", "body": "x"}
        refused(await client.call_tool("crm.send_email", mail), "data_flow", "policy.yaml:12")

        # Sequence: the notes carry an injected instruction; the export it asks for is refused.
        notes = await client.call_tool("crm.read_notes", {"customer_id": "C001"})
        assert "ignore previous instructions" in text(notes)
        refused(await client.call_tool("crm.export_customers", {}), "sequence_violation", "policy.yaml:37")

    events = [json.loads(line) for line in log.read_text().splitlines()]
    outcomes = [(e["tool_id"], e["allowed"], e["reason"]) for e in events]
    assert outcomes[0] == ("crm.lookup_customer", True, None)
    assert outcomes[-2:] == [
        ("crm.read_notes", True, None),
        ("crm.export_customers", False, "sequence_violation"),
    ]
    assert ("crm.no_such_tool", False, "unknown_tool") in outcomes
    assert {e["user_id"] for e in events} == {"agent-7"}
    assert {e["request_id"] for e in events if e["tool_id"] != "crm.no_such_tool"} == {
        events[0]["request_id"]
    }


async def test_upstream_crash_is_reported_and_the_proxy_reconnects() -> None:
    async with proxy() as client:
        assert not (await client.call_tool("crm.read_notes", {"customer_id": "C001"})).is_error
        crashed = await client.call_tool("crm.crash", {})
        assert refusal(crashed) == {"reason": "upstream_unavailable", "rule": None}
        assert "unavailable" in text(crashed)
        # The proxy is still up: the next call restarts the upstream and is served.
        again = await client.call_tool("crm.lookup_customer", {"customer_id": "C002"})
        assert not again.is_error and again.structured_content is not None
        # The session's history survived the upstream's restart.
        refused(await client.call_tool("crm.export_customers", {}), "sequence_violation")


def test_an_upstream_that_does_not_start_ends_the_proxy_with_a_clear_message() -> None:
    import subprocess

    args = [sys.executable, "-m", "d2tools.mcp", *SUPPORT, "--", sys.executable, "-c", "raise SystemExit(3)"]
    done = subprocess.run(args, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert done.returncode == 1
    assert "upstream 'crm' is unavailable" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_example_agent_is_refused_both_injected_calls() -> None:
    import subprocess

    agent = POLICY.parents[3] / "examples" / "mcp" / "agent.py"
    done = subprocess.run([sys.executable, str(agent)], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "crm.export_customers -> REFUSED: Refused by policy (reason: sequence_violation" in done.stdout
    assert "crm.send_email -> REFUSED: Refused by policy (reason: input_validation" in done.stdout
    assert "123-45-6789" not in done.stdout
