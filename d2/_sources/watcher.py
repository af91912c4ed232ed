"""Hot reload: watch a policy file, hand over its bytes only once they are stable, never die.

Three promises. The watcher thread survives any exception (a ``RecursionError`` from a deeply nested
file included): it records it and keeps watching, and :class:`WatchStatus` tells the manager (and
``d2 diagnose``) how it is doing. It watches the path as given, not the file a symlink pointed to
when watching began, so a Kubernetes ConfigMap's ``..data`` symlink swap is followed every time. And
it reloads only a stable file: after a change it reads the file, waits ``D2_RELOAD_DELAY`` seconds
(default 0.5) and reads again, and hands over the bytes only when both reads agree, so a writer
that pauses mid-write never installs a half-written policy. Write policy files atomically anyway
(write a temporary file, then rename it over the policy).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from d2._base.log import logger
from d2.exceptions import ConfigurationError

__all__ = ["DEFAULT_DELAY", "FileWatcher", "WatchStatus", "reload_delay"]

DEFAULT_DELAY = 0.5
# Bytes read = the policy size limit + 1, so an oversized file is refused without reading all of it.
OnStable = Callable[[bytes | None], "str | None"]


def reload_delay() -> float:
    """Seconds a changed file must stay the same before it is reloaded (``D2_RELOAD_DELAY``)."""
    raw = os.environ.get("D2_RELOAD_DELAY", "").strip()
    if not raw:
        return DEFAULT_DELAY
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 60:
        raise ConfigurationError(
            f"D2_RELOAD_DELAY={raw!r} is not a number of seconds between 0 and 60; "
            f"unset it for the default ({DEFAULT_DELAY} s)"
        )
    return value


@dataclass(frozen=True, slots=True)
class WatchStatus:
    """The hot-reload watcher's health: running, what it did, and its last failure."""

    path: str
    running: bool
    delay: float
    checks: int
    reloads: int
    failures: int
    last_error: str | None
    last_error_at: float | None
    last_reload_at: float | None

    @property
    def healthy(self) -> bool:
        """Running, and the last reload attempt (if any) did not fail."""
        failed_last = self.last_error_at is not None and (
            self.last_reload_at is None or self.last_error_at > self.last_reload_at
        )
        return self.running and not failed_last


class FileWatcher:
    """Call ``on_stable(bytes)`` when ``path`` changed and its content is stable; a daemon thread."""

    def __init__(
        self,
        path: Path,
        on_stable: OnStable,
        *,
        interval: float = 0.5,
        delay: float | None = None,
        read_limit: int | None = None,
    ) -> None:
        # Not resolved: the path's symlinks are followed afresh on every look (ConfigMap ``..data``).
        self.path = Path(os.path.abspath(path))
        self.on_stable = on_stable
        self.interval = interval
        self.delay = reload_delay() if delay is None else delay
        self.read_limit = read_limit
        self.stop_event = threading.Event()
        self.stamp = self._stamp()
        self._lock = threading.Lock()
        self._counts = {"checks": 0, "reloads": 0, "failures": 0}
        self._last_error: tuple[str, float] | None = None
        self._last_reload: float | None = None
        self.thread = threading.Thread(target=self._run, name=f"d2-watch-{self.path.name}", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(timeout=5)

    def status(self) -> WatchStatus:
        with self._lock:
            error = self._last_error
            return WatchStatus(
                path=str(self.path),
                running=self.thread.is_alive() and not self.stop_event.is_set(),
                delay=self.delay,
                checks=self._counts["checks"],
                reloads=self._counts["reloads"],
                failures=self._counts["failures"],
                last_error=error[0] if error else None,
                last_error_at=error[1] if error else None,
                last_reload_at=self._last_reload,
            )

    # -- the thread -------------------------------------------------------------------------------

    def _run(self) -> None:
        """Watch until stopped; whatever goes wrong is recorded and watching resumes (polling if needed)."""
        use_events = True
        while not self.stop_event.is_set():
            try:
                if use_events and self._watch_events():
                    return
                use_events = False
                self._poll()
                return
            except BaseException as exc:  # the watcher must outlive anything a reload raises
                if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                    raise
                self._failed(exc)
                use_events = False  # the event source may be what broke: fall back to stat polling
                self.stop_event.wait(self.interval)

    def _watch_events(self) -> bool:
        """Wake on file events in the file's directory; False when watchfiles is not installed."""
        try:
            import watchfiles  # type: ignore[import-not-found,unused-ignore]
        except ImportError:
            return False
        for _changes in watchfiles.watch(
            self.path.parent,
            stop_event=self.stop_event,
            rust_timeout=int(self.interval * 1000),
            yield_on_timeout=True,
            debounce=50,
            raise_interrupt=False,
        ):
            self._check()
        return True

    def _poll(self) -> None:
        while not self.stop_event.wait(self.interval):
            self._check()

    def _check(self) -> None:
        try:
            with self._lock:
                self._counts["checks"] += 1
            stamp = self._stamp()
            if stamp == self.stamp:
                return
            stable = self._stable_read()
            if stable is None:
                return  # stopped while waiting
            self.stamp, raw = stable
            error = self.on_stable(raw)
        except Exception as exc:  # recorded; the next change is tried again
            self._failed(exc)
            return
        if error is None:
            with self._lock:
                self._counts["reloads"] += 1
                self._last_reload = time.time()
        else:
            self._record_failure(error)

    def _stable_read(self) -> tuple[Any, bytes | None] | None:
        """Read until two reads ``delay`` seconds apart agree (stamp and bytes); None when stopped."""
        first = self._read()
        while True:
            if self.stop_event.wait(self.delay):
                return None
            second = self._read()
            if second == first:
                return second
            first = second

    def _read(self) -> tuple[Any, bytes | None]:
        stamp = self._stamp()
        try:
            with self.path.open("rb") as fh:
                data = fh.read() if self.read_limit is None else fh.read(self.read_limit + 1)
        except OSError:
            data = None
        return stamp, data

    def _stamp(self) -> tuple[int, int, int] | None:
        try:
            st = self.path.stat()  # follows symlinks, so a swapped ``..data`` shows as a new inode
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def _failed(self, exc: BaseException) -> None:
        logger().error("d2: policy watcher error on %s (still watching): %r", self.path, exc)
        self._record_failure(f"{type(exc).__name__}: {exc}")

    def _record_failure(self, message: str) -> None:
        with self._lock:
            self._counts["failures"] += 1
            self._last_error = (message, time.time())
