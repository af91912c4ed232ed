"""Subscribe to an app's live decision stream (``D2_DECISION_STREAM``) and feed what arrives.

A daemon thread reads JSON lines in large chunks and ingests them in batches; when the app is not
running yet, or restarts, it reconnects every second. Reading never waits on the UI.
"""

from __future__ import annotations

import socket
import threading

from d2._toolkit import parse_stream_address

from .feed import DecisionFeed

__all__ = ["StreamClient"]

_CHUNK = 1 << 18


class StreamClient:
    """Connects to ``address`` (``unix:PATH`` or ``tcp:127.0.0.1:PORT``) and feeds ``feed``."""

    def __init__(self, address: str, feed: DecisionFeed, *, retry: float = 1.0) -> None:
        self.address = parse_stream_address(address)
        self.feed = feed
        self.retry = retry
        self.connected = threading.Event()
        self._stop = threading.Event()
        self._sock: socket.socket | None = None
        self._thread = threading.Thread(target=self._run, name="d2-tui-stream", daemon=True)

    def start(self) -> StreamClient:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        sock = self._sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(timeout=2)

    def _run(self) -> None:
        name = f"stream {self.address}"
        while not self._stop.is_set():
            try:
                self._sock = self._connect()
            except OSError as exc:
                self.feed.set_source(name, f"not connected ({exc.strerror or exc}); retrying")
                self._stop.wait(self.retry)
                continue
            self.feed.set_source(name, "connected")
            self.connected.set()
            try:
                self._read(self._sock)
            except OSError:
                pass
            finally:
                self.connected.clear()
                self._sock.close()
                self._sock = None
            if not self._stop.is_set():
                self.feed.set_source(name, "disconnected; retrying")
                self._stop.wait(self.retry)

    def _connect(self) -> socket.socket:
        addr = self.address
        if addr.path is not None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            target: object = addr.path
        else:
            sock = socket.socket(
                socket.AF_INET6 if addr.host == "::1" else socket.AF_INET, socket.SOCK_STREAM
            )
            target = (addr.host, addr.port)
        try:
            sock.connect(target)  # type: ignore[arg-type]
        except OSError:
            sock.close()
            raise
        return sock

    def _read(self, sock: socket.socket) -> None:
        partial = b""
        while not self._stop.is_set():
            chunk = sock.recv(_CHUNK)
            if not chunk:
                return
            lines = (partial + chunk).split(b"\n")
            partial = lines.pop()
            self.feed.ingest_lines(lines)
