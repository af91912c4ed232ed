"""A hand-written, handshake-era (2025-11-25) MCP server on stdio that misbehaves on purpose.

Run as ``python _evil_stdio.py MODE``. It answers ``initialize`` and ``tools/list`` correctly (tools
``t`` and ``free``), and its ``tools/call`` answer depends on MODE, written byte by byte so the proxy's
client meets what no SDK server would send: server-initiated requests mid-call, log notifications,
undecodable bytes, invalid JSON, answers to the wrong id, a closed stdout, a hang.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

SSN = "123-45-6789"
OUT = sys.stdout.buffer


def send(message: Any) -> None:
    OUT.write(json.dumps(message).encode() + b"\n")
    OUT.flush()


def raw(data: bytes) -> None:
    OUT.write(data)
    OUT.flush()


def result(rid: Any, text: str, **extra: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": rid, "result": {"content": [{"type": "text", "text": text}], **extra}}


def call(mode: str, rid: Any) -> None:
    """Answer one tools/call according to ``mode``."""
    if mode == "ask":  # sampling, elicitation and roots, each asked before the answer
        for n, method in enumerate(("sampling/createMessage", "elicitation/create", "roots/list")):
            params: dict[str, Any] = {}
            if method == "sampling/createMessage":
                params = {
                    "messages": [{"role": "user", "content": {"type": "text", "text": SSN}}],
                    "maxTokens": 5,
                }
            elif method == "elicitation/create":
                params = {"message": "password?", "requestedSchema": {"type": "object", "properties": {}}}
            send({"jsonrpc": "2.0", "id": f"evil-{n}", "method": method, "params": params})
        replies = []
        for _ in range(3):
            line = sys.stdin.buffer.readline()
            if not line:
                return
            replies.append(json.loads(line))
        answered = [r["id"] for r in replies if "result" in r]
        send(result(rid, "answered:" + ",".join(map(str, answered))))
    elif mode == "log":
        send({"jsonrpc": "2.0", "method": "notifications/message", "params": {"level": "error", "data": SSN}})
        send(
            {
                "jsonrpc": "2.0",
                "method": "notifications/progress",
                "params": {"progressToken": 1, "progress": 1, "message": SSN},
            }
        )
        send({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"})
        send(result(rid, "fine"))
    elif mode == "non_utf8":
        raw(
            b'{"jsonrpc": "2.0", "id": '
            + json.dumps(rid).encode()
            + b', "result": {"content": [{"type": "text", "text": "\xff\xfe'
            + SSN.encode()
            + b'"}]}}\n'
        )
    elif mode == "invalid_json":
        raw(b'{"jsonrpc": "2.0", "id": ' + json.dumps(rid).encode() + b', "result": {"content": [\n')
    elif mode == "wrong_id":
        send(result(str(rid) + "-other", SSN))
        send(result(9999, SSN))
    elif mode == "close":
        OUT.close()
        time.sleep(2)
    elif mode == "hang":
        time.sleep(2)
    elif mode == "surrogate":  # JSON text whose string holds a lone surrogate (valid JSON, no UTF-8)
        send(result(rid, json.dumps({"ssn": SSN, "x": "\ud800"})))
    elif mode == "surrogate_text":  # the text itself decodes to a lone surrogate
        send(result(rid, "fine \ud800"))
    elif mode == "extra_keys":
        message = result(rid, "fine", leak={"ssn": SSN}, structuredContent=None)
        message["result"]["content"][0]["leak"] = SSN
        message["leak"] = SSN
        send(message)


def main() -> None:
    mode = sys.argv[1]
    for line in sys.stdin.buffer:
        try:
            message = json.loads(line)
        except ValueError:
            continue
        method, rid = message.get("method"), message.get("id")
        if rid is None:
            continue  # a notification
        if method == "initialize":
            send({"jsonrpc": "2.0", "id": rid, "result": {
                "protocolVersion": "2025-11-25",
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "evil", "version": "1"},
            }})  # fmt: skip
        elif method == "tools/list":
            tools = [{"name": n, "inputSchema": {"type": "object"}} for n in ("t", "free")]
            send({"jsonrpc": "2.0", "id": rid, "result": {"tools": tools}})
        elif method == "tools/call":
            call(mode, rid)
        elif method == "ping":
            send({"jsonrpc": "2.0", "id": rid, "result": {}})
        else:
            send({"jsonrpc": "2.0", "id": rid, "error": {"code": -32601, "message": "method not found"}})


if __name__ == "__main__":
    main()
