"""A progress bar for source scans: shown on a terminal only, silent in CI and pipes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from ._common import make_console, use_color

__all__ = ["MIN_FILES_FOR_BAR", "scan_progress"]

MIN_FILES_FOR_BAR = 200

Callback = Callable[[int, int], None]


@contextmanager
def scan_progress(label: str = "Scanning") -> Iterator[Callback | None]:
    """Yield an ``on_progress(done, total)`` callback drawing a Rich bar on stderr, or None off a TTY."""
    import sys

    if not use_color(sys.stderr):
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=make_console(stderr=True),
        transient=True,
    )
    task = progress.add_task(label, total=None, visible=False)

    def update(done: int, total: int) -> None:
        progress.update(task, completed=done, total=total, visible=total >= MIN_FILES_FOR_BAR)

    with progress:
        yield update
