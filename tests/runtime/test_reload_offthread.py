"""A reload compiles on its own thread and swaps the policy in one step: calls never wait for it."""

from __future__ import annotations

import itertools
import threading
import time

import d2


def _big_policy(grants: int, *, with_t: bool) -> str:
    lines = ["policies:", "  - role: r", "    permissions:"]
    lines += ["      - t"] if with_t else []
    lines += [
        f"      - {{tool: svc{i}.op, conditions: {{input: {{n: {{type: int, max: {i}}}}}}}}}"
        for i in range(grants)
    ]
    return "\n".join(lines) + "\n"


def test_calls_go_on_while_a_big_policy_compiles(write_policy) -> None:  # type: ignore[no-untyped-def]
    path = write_policy(_big_policy(10, with_t=True))
    manager = d2.configure_rbac_sync(path)
    old = manager.policy
    tool = d2.d2_guard("t", on_deny=False)(lambda: True)
    path.write_text(_big_policy(1500, with_t=False), encoding="utf-8")

    done = threading.Event()
    took: list[float] = []

    def reload() -> None:
        start = time.perf_counter()
        assert manager.reload()
        took.append(time.perf_counter() - start)
        done.set()

    outcomes: list[bool] = []
    slowest = 0.0
    with d2.set_user_context("u", ["r"]):
        worker = threading.Thread(target=reload)
        worker.start()
        while not done.is_set():
            start = time.perf_counter()
            outcomes.append(tool())
            slowest = max(slowest, time.perf_counter() - start)
        worker.join(30)
        assert tool() is False  # the new policy no longer grants t
    assert manager.policy is not old and took
    assert len(outcomes) >= 10, "calls stalled during the reload"
    assert slowest < took[0] / 2, f"a call waited {slowest:.3f} s of a {took[0]:.3f} s compile"
    # One swap: every call saw the old policy, then every call saw the new one; never a mix.
    flips = sum(a != b for a, b in itertools.pairwise(outcomes))
    assert flips <= 1 and outcomes[0] is True
