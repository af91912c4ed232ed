"""Sequence-rule overhead: a deny rule over two 50-tool groups, after 20 and after 10,000 prior calls.

Each sample times one guarded call in a fresh copy of a request that already holds N prior calls, so
the history length is exactly N when the call is checked (a batch loop would grow it). Prints the
median µs per call, the overhead over a bare call timed the same way, and the extra cost over the
same guard without sequence rules. A brute-force rescan of the history (what an implementation
without per-rule progress pays) is timed for contrast. Run: ``python bench/sequence.py``.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from _timing import per_call_us

import d2
from d2._runtime.context import RequestLog, RequestState, UserContext, push_state, reset_state

SENSITIVE = [f"db.read_{i}" for i in range(50)]
EXTERNAL = [f"net.send_{i}" for i in range(50)]
FILLER = [f"util.step_{i}" for i in range(10)]
PRIORS = (20, 10_000)
SAMPLES = 4_000


def policy_text(with_sequence: bool) -> str:
    """The benchmark policy: one role granted three groups, optionally with one deny rule."""
    lines = ["metadata:", "  tool_groups:"]
    for name, tools in (("sensitive", SENSITIVE), ("external", EXTERNAL), ("filler", FILLER)):
        lines.append(f"    {name}: [{', '.join(tools)}]")
    lines += ["policies:", "  - role: analyst", '    permissions: ["@sensitive", "@external", "@filler"]']
    if with_sequence:
        lines += [
            "    sequence:",
            '      - deny: ["@sensitive", "@external"]',
            "        reason: no exfiltration",
        ]
    return "\n".join(lines) + "\n"


def bare() -> int:
    return 1


def clone(log: RequestLog) -> RequestLog:
    """Copy a request log (set-up only; the timed loop undoes each call instead of copying)."""
    copy = RequestLog()
    copy.history.extend(log.history)
    copy.calls = log.calls
    copy.progress.update(log.progress)
    copy.facts.update(log.facts)
    copy.last_tool = log.last_tool
    return copy


def per_sample_us(fn: Callable[[], Any], log: RequestLog, user: UserContext) -> float:
    """Median µs of one call of ``fn`` with the history at its starting length (timer cost removed).

    After each sample the call's effects are undone in O(1) (drop the recorded call, restore the
    small progress and facts), so every sample sees the same history without copying it, which
    would flush the CPU caches and time the copy's aftermath rather than the guard.
    """
    clock = time.perf_counter_ns
    samples: list[int] = []
    empty: list[int] = []
    history, progress, facts = log.history, dict(log.progress), set(log.facts)
    size, first, last_tool, calls = len(log.history), log.history[0], log.last_tool, log.calls
    token = push_state(RequestState(user, log))
    for _ in range(SAMPLES):
        start = clock()
        fn()
        samples.append(clock() - start)
        start = clock()
        empty.append(clock() - start)
        if len(history) != size or history[0] != first:
            history.pop()
            if len(history) < size:
                history.appendleft(first)
        log.progress.clear()
        log.progress.update(progress)
        log.facts.clear()
        log.facts.update(facts)
        log.last_tool = last_tool
        log.calls = calls
    reset_state(token)
    return (statistics.median(samples) - statistics.median(empty)) / 1000


def prepare(prior: int, guard: Callable[[str], Callable[[], Any]], user: UserContext) -> RequestLog:
    """Make ``prior`` allowed filler calls in a real request and return its log."""
    log = RequestLog()
    token = push_state(RequestState(user, log))
    steps = [guard(tool) for tool in FILLER]
    for i in range(prior):
        steps[i % len(steps)]()
    reset_state(token)
    return log


def brute_force_us(history: Iterable[str], pattern: list[frozenset[str]], tool: str) -> float:
    """Time a rescan of the history per call: the cost an index-free matcher pays."""
    items = list(history)

    def rescan() -> bool:
        k = 0
        for name in items:
            if k < len(pattern) - 1 and name in pattern[k]:
                k += 1
        return k == len(pattern) - 1 and tool in pattern[-1]

    return per_call_us(rescan, number=200 if len(items) > 1000 else 20_000, repeat=5)


def run(*, with_sequence: bool) -> dict[tuple[str, int], float]:
    """Time the three calls of the case for each history length under one policy."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "policy.yaml"
        path.write_text(policy_text(with_sequence))
        d2.configure_rbac_sync(path)
    user = UserContext("bench", frozenset({"analyst"}))
    guards = {tool: d2.d2_guard(tool, on_deny=None)(bare) for tool in (*SENSITIVE, *EXTERNAL, *FILLER)}
    out: dict[tuple[str, int], float] = {}
    for prior in PRIORS:
        clean = prepare(prior, guards.__getitem__, user)
        tainted = clone(clean)
        token = push_state(RequestState(user, tainted))
        guards[SENSITIVE[7]]()
        reset_state(token)
        out[("egress, allowed", prior)] = per_sample_us(guards[EXTERNAL[31]], clean, user)
        out[("sensitive read (advances)", prior)] = per_sample_us(guards[SENSITIVE[3]], clean, user)
        if with_sequence:
            out[("egress after read, denied", prior)] = per_sample_us(guards[EXTERNAL[31]], tainted, user)
        out[("bare call", prior)] = per_sample_us(bare, clean, user)
    d2.shutdown_all_rbac()
    return out


def main() -> None:
    plain = run(with_sequence=False)
    seq = run(with_sequence=True)
    print("deny [@sensitive(50), @external(50)]; median of", SAMPLES, "single-call samples, µs")
    print(f"{'case':<30}{'prior':>8}{'µs/call':>10}{'overhead':>10}{'vs RBAC-only':>14}")
    for case in ("egress, allowed", "sensitive read (advances)", "egress after read, denied"):
        for prior in PRIORS:
            value = seq[(case, prior)]
            over = value - seq[("bare call", prior)]
            extra = f"{value - plain[(case, prior)]:>+14.3f}" if (case, prior) in plain else f"{'':>14}"
            print(f"{case:<30}{prior:>8}{value:>10.3f}{over:>10.3f}{extra}")
    pattern = [frozenset(SENSITIVE), frozenset(EXTERNAL)]
    print("\nbrute-force rescan of the history per call (no progress index), µs:")
    for prior in PRIORS:
        history = [FILLER[i % len(FILLER)] for i in range(prior)]
        print(f"  {prior:>6} prior calls: {brute_force_us(history, pattern, EXTERNAL[31]):10.3f}")


if __name__ == "__main__":
    main()
