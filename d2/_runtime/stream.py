"""A live decision stream for local inspectors (``d2 tui``): off by default, bounded, never blocking.

Opt in with ``D2_DECISION_STREAM=unix:/run/app/d2.sock`` (or ``tcp:127.0.0.1:7341``) before
``configure_rbac_sync()``, or call :func:`serve_decision_stream`. The stream is an ordinary decision
sink (registered with ``add_decision_sink``): it runs on the event dispatcher thread, never on the
guarded call's thread, and only appends each encoded event to every subscriber's bounded queue. One
server thread writes to subscribers with non-blocking sockets; a subscriber too slow to keep up loses
its oldest lines and is told how many with a ``{"dropped": N}`` line. Events are the decision log's
JSON lines (no argument values; user ids hashed when ``D2_HASH_USER_IDS=1``). Only a Unix socket
(mode 0600) or a loopback TCP address is accepted: decisions name users and must not leave the host.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import stat
import threading
from collections import deque
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from d2._base.log import logger
from d2._runtime.events import DecisionEvent, add_decision_sink, remove_decision_sink
from d2._runtime.telemetry import hash_user_id
from d2.exceptions import ConfigurationError

if TYPE_CHECKING:  # socket and selectors load only when a stream starts: `import d2` stays light
    import selectors
    import socket

__all__ = ["ENV_VAR", "DecisionStream", "StreamAddress", "parse_stream_address", "serve_decision_stream"]

ENV_VAR = "D2_DECISION_STREAM"
MAX_SUBSCRIBERS = 8
BUFFER_LINES = 50_000  # per subscriber; ~12 MB at the worst, 5 s of 10,000 decisions/s
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
_SEND_BYTES = 256 * 1024


@dataclass(frozen=True, slots=True)
class StreamAddress:
    """Where the stream listens: a Unix socket path, or a loopback host and port."""

    path: str | None = None
    host: str | None = None
    port: int | None = None

    def __str__(self) -> str:
        return f"unix:{self.path}" if self.path is not None else f"tcp:{self.host}:{self.port}"


def parse_stream_address(text: str) -> StreamAddress:
    """``unix:PATH``, a path starting with ``/`` or ``.``, ``tcp:HOST:PORT`` or ``HOST:PORT`` (loopback)."""
    raw = text.strip()
    if raw.startswith("unix:"):
        raw = raw[5:]
        if not raw:
            raise ConfigurationError(f"{ENV_VAR}: 'unix:' needs a socket path, e.g. unix:/tmp/d2.sock")
        return StreamAddress(path=raw)
    if raw.startswith(("/", "./", "../", "~")):
        return StreamAddress(path=os.path.expanduser(raw))
    if raw.startswith("tcp:"):
        raw = raw[4:]
    host, sep, port = raw.rpartition(":")
    host = host.strip("[]")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise ConfigurationError(
            f"{ENV_VAR}: cannot read {text!r} as an address; use unix:/path/to.sock or tcp:127.0.0.1:PORT"
        )
    if host not in _LOOPBACK:
        raise ConfigurationError(
            f"{ENV_VAR}: {host!r} is not a loopback address; the decision stream only listens on "
            "127.0.0.1, ::1 or a Unix socket (decisions name users and must not leave the host)"
        )
    return StreamAddress(host=host, port=int(port))


class _Subscriber:
    __slots__ = ("dropped", "out", "queue", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.queue: deque[bytes] = deque()
        self.out = b""
        self.dropped = 0


class DecisionStream:
    """Serve decision events as JSON lines to local subscribers; call :meth:`stop` to end it."""

    def __init__(
        self,
        address: str | StreamAddress,
        *,
        max_subscribers: int = MAX_SUBSCRIBERS,
        buffer_lines: int = BUFFER_LINES,
        hash_user_ids: bool | None = None,
        salt: str | None = None,
    ) -> None:
        self.address = address if isinstance(address, StreamAddress) else parse_stream_address(address)
        self.max_subscribers = max_subscribers
        self.buffer_lines = buffer_lines
        env_hash = os.environ.get("D2_HASH_USER_IDS", "").lower() in ("1", "true", "yes", "on")
        self.hash_user_ids = env_hash if hash_user_ids is None else hash_user_ids
        self.salt = os.environ.get("D2_USER_ID_SALT", "") if salt is None else salt
        self.dropped = 0
        self._subs: list[_Subscriber] = []
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None
        self._woken = False
        self._closing = False
        self._thread: threading.Thread | None = None

    @property
    def subscribers(self) -> int:
        with self._lock:
            return len(self._subs)

    def start(self) -> DecisionStream:
        """Bind, start the server thread and subscribe to decisions; returns self."""
        import socket

        self._listener = self._bind()
        self._wake_r, self._wake_w = socket.socketpair()
        self._thread = threading.Thread(target=self._serve, name="d2-decision-stream", daemon=True)
        self._thread.start()
        add_decision_sink(self)
        return self

    def stop(self) -> None:
        """Unsubscribe, close every connection and remove the socket file."""
        remove_decision_sink(self)
        with contextlib.suppress(ValueError):
            _ACTIVE.remove(self)
        self._closing = True
        self._wake()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __call__(self, event: DecisionEvent) -> None:
        """The sink: encode once, append to each subscriber's bounded queue, wake the server thread."""
        if not self._subs:
            return
        record = asdict(event)
        if self.hash_user_ids:
            record["user_id"] = hash_user_id(event.user_id, self.salt)
        line = json.dumps(record, separators=(",", ":"), sort_keys=True).encode("utf-8") + b"\n"
        with self._lock:
            for sub in self._subs:
                if len(sub.queue) >= self.buffer_lines:
                    sub.queue.popleft()
                    sub.dropped += 1
                    self.dropped += 1
                sub.queue.append(line)
        self._wake()

    def _wake(self) -> None:
        if self._woken or self._wake_w is None:
            return
        self._woken = True
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")

    def _bind(self) -> socket.socket:
        import socket

        addr = self.address
        if addr.path is not None:
            _remove_stale_socket(addr.path)
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.bind(addr.path)
                os.chmod(addr.path, 0o600)
            except OSError as exc:
                sock.close()
                raise ConfigurationError(
                    f"{ENV_VAR}: cannot listen on {addr}: {exc.strerror or exc}"
                ) from exc
        else:
            family = socket.AF_INET6 if addr.host == "::1" else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((addr.host or "127.0.0.1", addr.port or 0))
            except OSError as exc:
                sock.close()
                raise ConfigurationError(
                    f"{ENV_VAR}: cannot listen on {addr}: {exc.strerror or exc}"
                ) from exc
            self.address = StreamAddress(host=addr.host, port=sock.getsockname()[1])
        sock.listen(self.max_subscribers)
        sock.setblocking(False)
        return sock

    def _serve(self) -> None:
        import selectors

        assert self._listener is not None and self._wake_r is not None
        wake = self._wake_r
        sel = selectors.DefaultSelector()
        sel.register(self._listener, selectors.EVENT_READ, "accept")
        sel.register(wake, selectors.EVENT_READ, "wake")
        try:
            while not self._closing:
                self._arm(sel)
                for key, events in sel.select(timeout=1.0):
                    if key.data == "accept":
                        self._accept(sel)
                    elif key.data == "wake":
                        with contextlib.suppress(OSError):
                            wake.recv(4096)
                        self._woken = False
                    else:
                        self._service(sel, key.data, events)
        except Exception:  # pragma: no cover - the stream must never take the app down
            logger().exception("d2 decision stream stopped after an internal error")
        finally:
            self._close_all(sel)

    def _arm(self, sel: selectors.BaseSelector) -> None:
        import selectors

        with self._lock:
            subs = list(self._subs)
        for sub in subs:
            wanted = selectors.EVENT_READ | (selectors.EVENT_WRITE if sub.out or sub.queue else 0)
            if sel.get_key(sub.sock).events != wanted:
                sel.modify(sub.sock, wanted, sub)

    def _accept(self, sel: selectors.BaseSelector) -> None:
        import selectors

        assert self._listener is not None
        try:
            conn, _ = self._listener.accept()
        except OSError:
            return
        with self._lock:
            full = len(self._subs) >= self.max_subscribers
            if not full:
                conn.setblocking(False)
                sub = _Subscriber(conn)
                self._subs.append(sub)
        if full:
            with contextlib.suppress(OSError):
                conn.sendall(b'{"error":"too many subscribers"}\n')
            conn.close()
            return
        sel.register(conn, selectors.EVENT_READ, sub)

    def _service(self, sel: selectors.BaseSelector, sub: _Subscriber, events: int) -> None:
        import selectors

        try:
            if events & selectors.EVENT_READ and not sub.sock.recv(4096):
                raise ConnectionResetError("subscriber closed the connection")
            if events & selectors.EVENT_WRITE:
                if not sub.out:
                    sub.out = self._take(sub)
                sent = sub.sock.send(sub.out)
                sub.out = sub.out[sent:]
        except BlockingIOError:
            return
        except OSError:
            self._drop(sel, sub)

    def _take(self, sub: _Subscriber) -> bytes:
        parts: list[bytes] = []
        size = 0
        with self._lock:
            if sub.dropped:
                parts.append(b'{"dropped":%d}\n' % sub.dropped)
                sub.dropped = 0
            while sub.queue and size < _SEND_BYTES:
                line = sub.queue.popleft()
                parts.append(line)
                size += len(line)
        return b"".join(parts)

    def _drop(self, sel: selectors.BaseSelector, sub: _Subscriber) -> None:
        with self._lock:
            if sub in self._subs:
                self._subs.remove(sub)
        with contextlib.suppress(KeyError, ValueError):
            sel.unregister(sub.sock)
        sub.sock.close()

    def _close_all(self, sel: selectors.BaseSelector) -> None:
        with self._lock:
            subs, self._subs = list(self._subs), []
        for sub in subs:
            sub.sock.close()
        if self._listener is not None:
            self._listener.close()
        if self.address.path is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.address.path)
        sel.close()
        for end in (self._wake_r, self._wake_w):
            if end is not None:
                end.close()


def _remove_stale_socket(path: str) -> None:
    """Replace a socket left by a dead process; never touch a file that is not a socket."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise ConfigurationError(f"{ENV_VAR}: {path} exists and is not a socket; choose another path")
    import socket

    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
    except OSError:
        os.unlink(path)  # nobody listens: stale
        return
    finally:
        probe.close()
    raise ConfigurationError(f"{ENV_VAR}: another process already serves decisions on {path}")


_ACTIVE: list[DecisionStream] = []


def serve_decision_stream(
    address: str | None = None,
    *,
    max_subscribers: int = MAX_SUBSCRIBERS,
    buffer_lines: int = BUFFER_LINES,
) -> DecisionStream:
    """Start streaming decisions to local subscribers at ``address`` (default: ``D2_DECISION_STREAM``).

    Returns the running stream; ``.address`` is where it listens (the real port when 0 was asked for)
    and ``.stop()`` ends it.
    """
    chosen = address if address is not None else os.environ.get(ENV_VAR, "").strip()
    if not chosen:
        raise ConfigurationError(
            f"no decision stream address: pass one, or set {ENV_VAR}=unix:/path/to.sock "
            "(or tcp:127.0.0.1:PORT)"
        )
    stream = DecisionStream(chosen, max_subscribers=max_subscribers, buffer_lines=buffer_lines).start()
    _ACTIVE.append(stream)
    atexit.register(stream.stop)  # remove the socket file on a normal exit (a stale one is replaced anyway)
    return stream


def stream_from_env() -> DecisionStream | None:
    """Start the stream ``D2_DECISION_STREAM`` asks for, once per process; None when it is unset."""
    if _ACTIVE or not os.environ.get(ENV_VAR, "").strip():
        return _ACTIVE[0] if _ACTIVE else None
    return serve_decision_stream()
