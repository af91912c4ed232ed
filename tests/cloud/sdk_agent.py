"""A real application process for the integration tests: configures d2 from D2_* and answers commands.

Reads one command per line on stdin and prints one JSON line per command:
  call TOOL  -> {"ok": true} or {"ok": false, "error": "<exception class>", "reason": "..."}
  state      -> {"version": N|null, "kid": ..., "error": "<last error class>"|null, "polls": N}
  quit       -> exits
Run by tests/server/test_sdk_process.py; not collected by pytest (no test_ prefix).
"""

from __future__ import annotations

import json
import sys
import time

import d2
from d2._sources.cloud import bundle_source


@d2.d2_guard("tool.a")
def tool_a() -> str:
    return "a"


@d2.d2_guard("tool.b")
def tool_b() -> str:
    return "b"


TOOLS = {"tool.a": tool_a, "tool.b": tool_b}


def call(name: str) -> dict[str, object]:
    try:
        with d2.set_user_context("agent", ["r"]):
            TOOLS[name]()
    except d2.PermissionDeniedError as exc:
        return {"ok": False, "error": type(exc).__name__, "reason": str(exc.reason)}
    return {"ok": True}


def state() -> dict[str, object]:
    source = bundle_source()
    if source is None:
        return {"version": None, "kid": None, "error": "no source", "polls": 0}
    current = source.current
    return {
        "version": current.version if current else None,
        "kid": current.kid if current else None,
        "revoked": current.revoked if current else None,
        "error": type(source.last_error).__name__ if source.last_error else None,
        "polls": source.polls,
    }


def main() -> None:
    started = time.monotonic()
    try:
        d2.configure_rbac_sync(startup_timeout=float(sys.argv[1]) if len(sys.argv) > 1 else 5.0)
    except d2.D2Error as exc:
        print(json.dumps({"configured": False, "error": type(exc).__name__, "message": str(exc)}), flush=True)
        return
    print(json.dumps({"configured": True, "seconds": time.monotonic() - started, **state()}), flush=True)
    for line in sys.stdin:
        command, _, arg = line.strip().partition(" ")
        if command == "quit":
            break
        answer = call(arg) if command == "call" else state()
        print(json.dumps(answer), flush=True)
    d2.shutdown_all_rbac()


if __name__ == "__main__":
    main()
