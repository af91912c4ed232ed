"""Session-state load test: N processes x M sessions, in-process beside Redis (loopback only, bounded).

Every process loads the shared-state test policy (a sequence rule and a data-flow block, so each call
is checked against the session history), enters its M sessions in turn and makes allowed calls in
each. Timed: the guarded call alone (the session scope is entered once per batch of calls). Printed:
decisions per second over all processes (calls / wall time of the slowest process) and p50/p99
guard latency in µs, for three backends: a plain request (today's path), named sessions in-process,
and named sessions on Redis.

Run: ``python bench/state_redis.py [--procs 2] [--sessions 50] [--calls 4000] [--url redis://127.0.0.1:6379/0]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
POLICY = ROOT / "tests" / "fixtures" / "policies" / "state" / "shared.yaml"
TOOLS = ("notes.write", "email.send", "db.read")
BATCH = 10
MAX_CALLS = 50_000


def worker(backend: str, url: str, sessions: int, calls: int, tag: str) -> dict[str, object]:
    """One process: make ``calls`` guarded calls spread over ``sessions`` sessions; return timings."""
    import d2

    d2.configure_rbac_sync(POLICY)
    if backend == "redis":
        d2.configure_session_state(url, timeout=1.0)
    guarded = []
    for name in TOOLS:

        def tool(name: str = name) -> str:
            return name

        guarded.append(d2.d2_guard(name)(tool))
    samples: list[float] = []
    clock = time.perf_counter
    start = clock()
    done = 0
    turn = 0
    while done < calls:
        session = f"bench-{tag}-{turn % sessions}"
        turn += 1
        with d2.set_user_context("bench-user", ["agent"]):
            if backend == "request":
                done = _batch(guarded, samples, done, calls, clock)
            else:
                with d2.session(session):
                    done = _batch(guarded, samples, done, calls, clock)
    return {"wall": clock() - start, "samples": samples}


def _batch(guarded: list, samples: list[float], done: int, calls: int, clock: object) -> int:  # type: ignore[type-arg]
    for i in range(min(BATCH, calls - done)):
        fn = guarded[i % len(guarded)]
        t0 = clock()  # type: ignore[operator]
        fn()
        samples.append(clock() - t0)  # type: ignore[operator]
    return done + min(BATCH, calls - done)


def run(backend: str, url: str, procs: int, sessions: int, calls: int) -> dict[str, float]:
    tag = uuid.uuid4().hex[:8]
    cmd = [
        sys.executable,
        __file__,
        "--worker",
        backend,
        "--url",
        url,
        "--sessions",
        str(sessions),
        "--calls",
        str(calls),
    ]
    children = [
        subprocess.Popen([*cmd, "--tag", f"{tag}-{i}"], stdout=subprocess.PIPE, text=True)
        for i in range(procs)
    ]
    results = [json.loads(child.communicate()[0]) for child in children]
    samples = sorted(s for r in results for s in r["samples"])
    wall = max(r["wall"] for r in results)
    return {
        "decisions_per_s": len(samples) / wall,
        "p50_us": statistics.median(samples) * 1e6,
        "p99_us": samples[int(len(samples) * 0.99) - 1] * 1e6,
        "calls": float(len(samples)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--procs", type=int, default=2)
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--calls", type=int, default=4000, help="guarded calls per process")
    parser.add_argument("--url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--worker", choices=["request", "memory", "redis"])
    parser.add_argument("--tag", default="x")
    args = parser.parse_args()
    if urlparse(args.url).hostname not in ("127.0.0.1", "localhost", "::1"):
        parser.error("this load test only runs against a Redis on the loopback interface")
    if not (1 <= args.procs <= 8 and 1 <= args.sessions <= 10_000 and 1 <= args.calls <= MAX_CALLS):
        parser.error(f"bounded: 1-8 processes, 1-10000 sessions, 1-{MAX_CALLS} calls per process")
    if args.worker:
        print(json.dumps(worker(args.worker, args.url, args.sessions, args.calls, args.tag)))
        return
    print(f"{args.procs} processes x {args.sessions} sessions, {args.calls} guarded calls per process")
    print(f"{'backend':<28}{'decisions/s':>14}{'p50 µs':>10}{'p99 µs':>10}")
    for backend, label in (
        ("request", "plain request (in-process)"),
        ("memory", "named sessions, in-process"),
        ("redis", "named sessions, Redis"),
    ):
        r = run(backend, args.url, args.procs, args.sessions, args.calls)
        print(f"{label:<28}{r['decisions_per_s']:>14,.0f}{r['p50_us']:>10.1f}{r['p99_us']:>10.1f}")


if __name__ == "__main__":
    main()
