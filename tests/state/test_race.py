"""Many concurrent calls of one session over two processes never let a forbidden pattern through.

Each round both processes fire the two halves of a forbidden pattern at the same instant, from
several threads. Whatever the interleaving, the session's history in Redis (the order the calls were
admitted) must never hold ``db.read`` before ``web.post``, nor ``secrets.read`` before an egress
tool; and every call a process was told "ok" must be in that history exactly once.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter

from .conftest import SHARED_REDIS, Worker, session_log

ROUNDS = 60
GAP = 0.02


def _forbidden(history: list[str]) -> list[str]:
    problems: list[str] = []
    seen_read = seen_secret = False
    for entry in history:
        tool = entry[1:]
        if tool == "web.post" and seen_read:
            problems.append("web.post after db.read")
        if tool in ("web.post", "email.send") and seen_secret:
            problems.append(f"{tool} after secrets.read")
        seen_read |= tool == "db.read"
        seen_secret |= tool == "secrets.read"
    return problems


def test_concurrent_calls_over_two_processes_never_pass_a_forbidden_pattern(workers: list[Worker]) -> None:
    first, second = workers
    sessions = [f"race-{uuid.uuid4().hex}" for _ in range(ROUNDS)]
    start = time.time() + 1.0
    base = {"op": "race", "sessions": sessions, "start": start, "gap": GAP}
    assert first.proc.stdin is not None and second.proc.stdin is not None
    import json

    # Both workers get their orders before either answers, so the rounds really overlap.
    first.proc.stdin.write(json.dumps({**base, "tools": ["db.read", "secrets.read", "web.post"]}) + "\n")
    second.proc.stdin.write(json.dumps({**base, "tools": ["web.post", "email.send", "db.read"]}) + "\n")
    first.proc.stdin.flush()
    second.proc.stdin.flush()
    assert first.proc.stdout is not None and second.proc.stdout is not None
    results_a = json.loads(first.proc.stdout.readline())
    results_b = json.loads(second.proc.stdout.readline())

    refused = 0
    for session, round_a, round_b in zip(sessions, results_a, results_b, strict=True):
        history = session_log(SHARED_REDIS, session)
        assert _forbidden(history) == [], (session, history, round_a, round_b)
        allowed = Counter(tool for tool, outcome in [*round_a, *round_b] if outcome == "ok")
        assert Counter(e[1:] for e in history) == allowed, (session, history, round_a, round_b)
        outcomes = {outcome for _, outcome in [*round_a, *round_b]}
        assert outcomes <= {"ok", "sequence_violation", "data_flow"}, outcomes
        refused += sum(outcome != "ok" for _, outcome in [*round_a, *round_b])
    # The halves really met: in most rounds something was refused.
    assert refused >= ROUNDS // 2
