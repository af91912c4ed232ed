"""Pause the cyclic garbage collector while a policy is built.

Loading a big policy allocates hundreds of thousands of long-lived containers, and each allocation
burst triggers full collections that find nothing to free (about 40 % of a 10,000-grant load).
Reference counting still frees everything as usual; only the cycle search waits until the outermost
pause ends. Pauses nest and may overlap across threads: the collector is switched back on when the
last one ends, and only if it was on when the first began.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["paused_gc"]

_lock = threading.Lock()
_depth = 0
_was_enabled = False


@contextmanager
def paused_gc() -> Iterator[None]:
    """Run the block with the cyclic collector off (restored afterwards, however the block ends)."""
    global _depth, _was_enabled
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                gc.enable()
