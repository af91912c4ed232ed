"""Follow a JSONL decision log the way ``tail -F`` does: across rotation and truncation.

A poll loop (no inotify dependency, works on every platform and filesystem): when the path names a
new file (inode changed) the old one is read to its end first, so lines written just before rotation
are not lost; when the file shrank it was truncated and is read again from the start. Only complete
lines are parsed; a partial last line waits for its newline.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import BinaryIO

from .feed import DecisionFeed

__all__ = ["LogFollower"]

_CHUNK = 1 << 20
_START_TAIL = 4 << 20  # on open, read at most the last 4 MiB of an existing log


class LogFollower:
    """A daemon thread feeding ``feed`` from the log at ``path``; ``stop()`` ends it."""

    def __init__(self, path: Path, feed: DecisionFeed, *, interval: float = 0.1, from_start: bool = False):
        self.path = path
        self.feed = feed
        self.interval = interval
        self.from_start = from_start
        self.rotations = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"d2-tui-follow {path.name}", daemon=True)
        self._fh: BinaryIO | None = None
        self._inode: tuple[int, int] | None = None
        self._partial = b""

    def start(self) -> LogFollower:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.ident is not None:
            self._thread.join(timeout=2)
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def _run(self) -> None:
        name = f"log {self.path}"
        first = True
        while not self._stop.is_set():
            try:
                self.poll(first=first)
                first = False
                self.feed.set_source(name, "following" if self._fh is not None else "waiting for the file")
            except OSError as exc:
                self.feed.set_source(name, f"error: {exc.strerror or exc}")
            self._stop.wait(self.interval)

    def poll(self, *, first: bool = False) -> int:
        """Read what is new; returns the number of decisions taken (also used by tests directly)."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return self._drain_old()
        ident = (st.st_dev, st.st_ino)
        taken = 0
        if self._fh is not None and ident != self._inode:
            taken += self._drain_old()  # rotated: finish the old file before switching
        if self._fh is None:
            self._fh = open(self.path, "rb")
            self._inode = ident
            if first and not self.from_start and st.st_size > _START_TAIL:
                self._fh.seek(st.st_size - _START_TAIL)
                self._fh.readline()  # skip the partial line we landed in
        elif st.st_size < self._fh.tell():
            self._fh.seek(0)  # truncated in place
            self._partial = b""
        return taken + self._read()

    def _drain_old(self) -> int:
        if self._fh is None:
            return 0
        taken = self._read()
        self._fh.close()
        self._fh = None
        self._partial = b""
        self.rotations += 1
        return taken

    def _read(self) -> int:
        assert self._fh is not None
        taken = 0
        while True:
            chunk = self._fh.read(_CHUNK)
            if not chunk:
                return taken
            data = self._partial + chunk
            lines = data.split(b"\n")
            self._partial = lines.pop()
            taken += self.feed.ingest_lines(lines)
