"""Shared timing helpers for the benchmarks: median of repeated runs, in microseconds per call."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any


def per_call_us(fn: Callable[[], Any], *, number: int = 100_000, repeat: int = 7) -> float:
    """Median microseconds per call of ``fn`` over ``repeat`` runs of ``number`` calls."""
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        runs.append((time.perf_counter() - start) / number * 1e6)
    return statistics.median(runs)


def per_call_us_async(fn: Callable[[], Awaitable[Any]], *, number: int = 100_000, repeat: int = 7) -> float:
    """Median microseconds per awaited call, measured inside one running event loop."""

    async def run() -> list[float]:
        runs = []
        for _ in range(repeat):
            start = time.perf_counter()
            for _ in range(number):
                await fn()
            runs.append((time.perf_counter() - start) / number * 1e6)
        return runs

    return statistics.median(asyncio.run(run()))


def report(rows: list[tuple[str, float]], *, baseline: float, wrapper: float) -> None:
    """Print each case as µs per call, overhead over a bare call, and ratios to bare and to a dict wrapper."""
    print(f"{'case':<34}{'µs/call':>10}{'overhead µs':>13}{'x bare':>9}{'x dict-wrapper':>16}")
    for name, value in rows:
        over = value - baseline
        print(f"{name:<34}{value:>10.3f}{over:>13.3f}{value / baseline:>9.1f}{value / wrapper:>16.2f}")
