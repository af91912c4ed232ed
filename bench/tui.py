"""Time ``d2 tui`` start-up on a generated large policy: 1,000 tools, 100 roles (the goal is <= 1.5 s).

Usage: ``python bench/tui.py [--tools 1000] [--roles 100] [--repeat 3]``

Uses the policy generator of ``bench/lint.py``. Prints the median of each stage: opening the session
(parse, compile), building the app and painting its first frame headless, and a whole ``d2 tui``
process from launch until the first frame (the app exits itself once painted), in wall time and in
CPU time (which a busy shared machine does not inflate). A large policy is linted and indexed by a
worker after the first frame; the process figures also say when that was done (the tree filled) and
what the whole run cost in CPU (``getrusage`` of the child, interpreter start-up included).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
# Exits at the first frame ("frame"), or once the policy view is ready ("ready"); prints both marks.
_PROCESS = """
import sys, time
t0 = time.perf_counter()
from pathlib import Path
from d2tools.tui import TuiOptions, make_tui
from d2tools.tui.policy.view import PolicyPane
app = make_tui(TuiOptions(path=Path(sys.argv[1])), start_sources=False)
marks = []

def mark():
    marks.append((time.perf_counter() - t0, time.process_time()))

def first_frame():
    mark()
    if sys.argv[2] == "frame":
        app.exit()
        return
    pane = app.query_one(PolicyPane)

    def poll():
        if getattr(pane, "ready", True):  # a build without background indexing is ready at once
            mark()
            app.exit()

    poll()
    app.set_interval(0.01, poll)

app.call_after_refresh(first_frame)
app.run(headless=True, size=(130, 40))
print(" ".join(f"{w:.4f} {c:.4f}" for w, c in marks))
"""


def _generator():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("bench_lint", HERE / "lint.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.generate


async def _first_frame(path: Path) -> tuple[float, float]:
    from d2tools.tui import TuiOptions, make_tui

    started = time.perf_counter()
    app = make_tui(TuiOptions(path=path), start_sources=False)
    built = time.perf_counter() - started
    async with app.run_test(size=(130, 40)) as pilot:
        await pilot.pause()
        painted = time.perf_counter() - started
    return built, painted


def _process(path: Path, until: str) -> tuple[float, ...]:
    """One ``d2 tui`` process: launch-to-exit wall, first-frame (wall, CPU), rusage CPU, ready (wall, CPU)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _PROCESS, str(path), until], capture_output=True, text=True, check=True
    )
    whole = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    used = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    marks = [float(x) for x in done.stdout.strip().splitlines()[-1].split()]
    frame, ready = marks[:2], marks[2:] or marks[:2]
    return (whole, *frame, used, *ready)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tools", type=int, default=1000)
    parser.add_argument("--roles", type=int, default=100)
    parser.add_argument("--per-role", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    generate = _generator()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "policy.yaml"
        path.write_text(generate(args.tools, args.roles, args.per_role), encoding="utf-8")
        lines = path.read_text(encoding="utf-8").count("\n")
        size = path.stat().st_size / 1024
        print(f"policy: {lines} lines, {size:.0f} KiB, {args.tools} tools, {args.roles} roles")
        runs = [asyncio.run(_first_frame(path)) for _ in range(args.repeat)]
        session = statistics.median(r[0] for r in runs)
        painted = statistics.median(r[1] for r in runs)
        frame = [_process(path, "frame") for _ in range(args.repeat)]
        ready = [_process(path, "ready") for _ in range(args.repeat)]
        whole = statistics.median(p[0] for p in frame)
        cpu = statistics.median(p[2] for p in frame)
        print("(process figures: median of the runs; CPU also as the minimum, the least disturbed run)")
        for name, value in (
            ("open session + app (in-process)", session),
            ("first frame (in-process)", painted),
            ("process: imports to first frame", statistics.median(p[1] for p in frame)),
            ("process: CPU time to first frame", cpu),
            ("process: CPU time to first frame, min", min(p[2] for p in frame)),
            ("process: launch to exit", whole),
            ("process: CPU of the whole run", statistics.median(p[3] for p in frame)),
            ("process: imports to view ready", statistics.median(p[4] for p in ready)),
            ("process: CPU time to view ready", statistics.median(p[5] for p in ready)),
            ("process: CPU time to view ready, min", min(p[5] for p in ready)),
            ("process: launch to exit (ready)", statistics.median(p[0] for p in ready)),
        ):
            print(f"{name:<34}{value * 1000:>8.0f} ms")
        print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        print(f"goal: first frame in <= 1500 ms from launch: {'met' if whole <= 1.5 else 'NOT met'}")
        if whole > 1.5 and cpu <= 1.5:
            print("(the process needed less CPU than that: the machine is busy; run it again when idle)")


if __name__ == "__main__":
    main()
