"""``--watch``: run the suite, then run it again whenever a scenario file, policy or scanned source changes.

Directories are watched rather than files: editors save by writing a new file and renaming it over
the old one, which a watch on the old file would miss.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from ._result import RunResult

__all__ = ["RELEVANT_SUFFIXES", "watch_paths", "watch_runs"]

RELEVANT_SUFFIXES = (".yaml", ".yml", ".json", ".py")


def watch_paths(
    paths: Sequence[str | Path], policies: Iterable[Path], code: Sequence[str | Path] = ()
) -> list[Path]:
    """The directories to watch: the scenario paths, each policy's directory, and the code paths."""
    out: list[Path] = []
    for raw in [*paths, *code]:
        p = Path(raw).resolve()
        out.append(p if p.is_dir() else p.parent)
    out.extend(p.resolve().parent for p in policies)
    unique = sorted(set(out), key=lambda p: len(p.parts))
    roots: list[Path] = []
    for p in unique:
        if p.exists() and not any(p.is_relative_to(r) for r in roots):
            roots.append(p)
    return roots


def _relevant(changes: Iterable[tuple[Any, str]]) -> bool:
    return any(path.endswith(RELEVANT_SUFFIXES) for _change, path in changes)


def watch_runs(
    run_once: Callable[[], RunResult],
    where: Callable[[RunResult], list[Path]],
    on_result: Callable[[RunResult], None],
    *,
    stop: threading.Event | None = None,
    debounce_ms: int = 200,
) -> int:
    """Run, report, and re-run on every relevant change until ``stop`` is set; return the number of runs."""
    from watchfiles import watch

    stop = stop or threading.Event()
    runs = 0
    while not stop.is_set():
        result = run_once()
        runs += 1
        on_result(result)
        roots = where(result)
        if not roots:
            return runs
        changed = False
        for changes in watch(
            *roots, stop_event=stop, debounce=debounce_ms, raise_interrupt=False, yield_on_timeout=False
        ):
            if _relevant(changes):
                changed = True
                break
        if not changed:
            break
    return runs
