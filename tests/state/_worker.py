"""A replica for the shared-state tests: guards the policy's tools and answers JSON-line commands.

argv: policy path, state URL. Commands: ``ping``; ``call`` (session, tool, user) -> "ok" or the
refusal's reason; ``race`` (sessions, tools, start, gap, threads) -> per round, what each call got.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import d2

TOOLS = ("db.read", "secrets.read", "notes.write", "web.post", "email.send")


def make(name: str) -> Callable[[], str]:
    def tool() -> str:
        return name

    return d2.d2_guard(name)(tool)


def call(guarded: dict[str, Callable[[], str]], session: str, tool: str, user: str) -> str:
    with d2.set_user_context(user, ["agent"]), d2.session(session):
        try:
            guarded[tool]()
        except d2.PermissionDeniedError as exc:
            return str(exc.reason)
    return "ok"


def race(guarded: dict[str, Callable[[], str]], cmd: dict[str, Any]) -> list[list[list[str]]]:
    """Each round: wait for the shared start time, then every thread calls its tool at once."""
    out: list[list[list[str]]] = []
    for i, session in enumerate(cmd["sessions"]):
        start = cmd["start"] + i * cmd["gap"]
        results: list[list[str]] = []
        lock = threading.Lock()

        def one(
            tool: str,
            session: str = session,
            start: float = start,
            results: list[list[str]] = results,
            lock: threading.Lock = lock,
        ) -> None:
            while time.time() < start:
                pass
            outcome = call(guarded, session, tool, "alice")
            with lock:
                results.append([tool, outcome])

        threads = [threading.Thread(target=one, args=(tool,)) for tool in cmd["tools"]]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        out.append(results)
    return out


def main() -> None:
    policy, url = sys.argv[1], sys.argv[2]
    d2.configure_rbac_sync(policy)
    d2.configure_session_state(url, timeout=2.0)
    guarded = {name: make(name) for name in TOOLS}
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["op"] == "ping":
            reply: Any = "pong"
        elif cmd["op"] == "call":
            reply = call(guarded, cmd["session"], cmd["tool"], cmd.get("user", "alice"))
        elif cmd["op"] == "race":
            reply = race(guarded, cmd)
        else:
            reply = f"unknown op {cmd['op']!r}"
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
