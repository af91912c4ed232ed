"""The proxy's stdin/stdout served from event-loop pipes: raw JSON-RPC lines in, lines out, clean EOF.

The ``mcp`` client hides framing details, so this drives the proxy process over plain pipes: a
message far larger than one read (3 MB), messages back to back, and the end of stdin ending the
proxy with exit code 0.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from .conftest import CRM, POLICY, ROOT


def test_large_and_back_to_back_messages_over_raw_pipes() -> None:
    args = [sys.executable, "-m", "d2tools.mcp", "--policy", str(POLICY), "--name", "crm",
            "--user", "agent-7", "--role", "support", "--", *CRM]  # fmt: skip
    env = os.environ | {"D2_SILENT": "1"}
    proc = subprocess.Popen(
        args, cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None

    def send(*messages: dict[str, Any]) -> None:
        assert proc.stdin is not None
        proc.stdin.write(b"".join(json.dumps(m).encode() + b"\n" for m in messages))
        proc.stdin.flush()

    def receive() -> dict[str, Any]:
        assert proc.stdout is not None
        return dict(json.loads(proc.stdout.readline()))

    try:
        send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}})  # fmt: skip
        assert receive()["result"]["protocolVersion"] == "2025-11-25"
        huge = "C" + "0" * 3_000_000
        send(
            {"jsonrpc": "2.0", "method": "notifications/initialized"},
            {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
             "params": {"name": "crm.lookup_customer", "arguments": {"customer_id": huge}}},
            {"jsonrpc": "2.0", "id": 3, "method": "tools/call",
             "params": {"name": "crm.read_notes", "arguments": {"customer_id": "C001"}}},
        )  # fmt: skip
        replies = {r["id"]: r["result"] for r in (receive(), receive())}
        assert replies[2]["_meta"]["io.d2/refusal"]["reason"] == "input_validation"
        assert not replies[3].get("isError")
        proc.stdin.close()
        assert proc.wait(timeout=30) == 0
        assert proc.stdout.read() == b""  # nothing follows the last reply
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
