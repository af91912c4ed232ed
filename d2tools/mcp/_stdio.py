"""The proxy's stdin/stdout as event-loop pipes, handed to the ``mcp`` package's ``stdio_server``.

By default ``stdio_server`` reads and writes the standard streams through ``anyio.wrap_file``: every
line read, every write and every flush is a hand-off to a worker thread and back, three per
``tools/call`` — on a busy two-core machine that was the largest single share of the proxy's CPU per
call. ``stdio_server`` accepts the two streams as arguments, so the proxy gives it objects that read
and write the same file descriptors through the asyncio event loop instead (non-blocking pipes, no
threads). The framing (one JSON-RPC message per line, parsing and serializing) stays the SDK's.

Like the SDK, the wire descriptors are moved aside while serving: fd 1 points at stderr and fd 0 at
the null device, so a stray ``print`` from a library or a child process cannot corrupt the protocol
stream. Anything but a pipe or a socket (a terminal, a regular file, ``/dev/null``) and a
non-asyncio event loop fall back to the SDK's threaded streams.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import stat
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from typing import Any

import sniffio

__all__ = ["event_loop_stdio"]

_CHUNK = 1 << 16


class _LineReader:
    """``async for line in reader``: UTF-8 lines (newline kept), unbounded like the SDK's reader."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self._reader = reader
        self._pending = bytearray()
        self._scanned = 0  # bytes of ``_pending`` known to hold no newline (large messages stay linear)

    def __aiter__(self) -> _LineReader:
        return self

    async def __anext__(self) -> str:
        while True:
            end = self._pending.find(b"\n", self._scanned)
            if end >= 0:
                line = bytes(self._pending[: end + 1])
                del self._pending[: end + 1]
                self._scanned = 0
                return line.decode("utf-8", errors="replace")
            self._scanned = len(self._pending)
            chunk = await self._reader.read(_CHUNK)
            if not chunk:
                if self._pending:  # a last message without its newline still counts
                    line = bytes(self._pending)
                    self._pending.clear()
                    self._scanned = 0
                    return line.decode("utf-8", errors="replace")
                raise StopAsyncIteration
            self._pending += chunk


class _LineWriter:
    """``await write(text)`` queues on the pipe transport; ``await flush()`` waits for the kernel."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer

    async def write(self, text: str) -> int:
        data = text.encode("utf-8")
        self._writer.write(data)
        return len(text)

    async def flush(self) -> None:
        await self._writer.drain()


def _private_copy(fd: int) -> int:
    """A close-on-exec duplicate of ``fd`` above the standard range (children never inherit it)."""
    return fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)


def _pollable(fd: int) -> bool:
    """Pipes and sockets only: epoll refuses regular files and some devices (``/dev/null``)."""
    mode = os.fstat(fd).st_mode
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


@asynccontextmanager
async def _pipes() -> AsyncIterator[tuple[_LineReader, _LineWriter]]:
    loop = asyncio.get_running_loop()
    stdin_fd, stdout_fd = sys.stdin.fileno(), sys.stdout.fileno()
    if not (_pollable(stdin_fd) and _pollable(stdout_fd)):
        raise ValueError("stdin and stdout are not both pipes or sockets")
    sys.stdout.flush()
    async with AsyncExitStack() as stack:
        # The wire is served from private duplicates, closed last; fd 0 and 1 are never closed.
        wire_in = _private_copy(stdin_fd)
        stack.callback(os.close, wire_in)
        wire_out = _private_copy(stdout_fd)
        stack.callback(os.close, wire_out)
        in_file = os.fdopen(wire_in, "rb", buffering=0, closefd=False)
        out_file = os.fdopen(wire_out, "wb", buffering=0, closefd=False)
        reader = asyncio.StreamReader(limit=_CHUNK)
        read_transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), in_file
        )
        stack.callback(read_transport.close)
        write_transport, write_protocol = await loop.connect_write_pipe(
            asyncio.streams.FlowControlMixin, out_file
        )
        writer = asyncio.StreamWriter(write_transport, write_protocol, None, loop)
        stack.callback(write_transport.close)
        stack.enter_context(_diverted(stdin_fd, stdout_fd))
        yield _LineReader(reader), _LineWriter(writer)


class _diverted:
    """Point fd 0 at the null device and fd 1 at stderr while serving; restore both afterwards."""

    def __init__(self, stdin_fd: int, stdout_fd: int) -> None:
        self._fds = (stdin_fd, stdout_fd)
        self._saved: list[tuple[int, int]] = []

    def __enter__(self) -> None:
        stdin_fd, stdout_fd = self._fds
        null = os.open(os.devnull, os.O_RDONLY)
        try:
            self._save_and_replace(stdin_fd, null)
        finally:
            os.close(null)
        self._save_and_replace(stdout_fd, sys.stderr.fileno())

    def _save_and_replace(self, fd: int, source: int) -> None:
        saved = _private_copy(fd)
        self._saved.append((fd, saved))
        os.dup2(source, fd)

    def __exit__(self, *exc: Any) -> None:
        for fd, saved in reversed(self._saved):
            with suppress(OSError):
                os.dup2(saved, fd)
            with suppress(OSError):
                os.close(saved)
        self._saved.clear()


@asynccontextmanager
async def event_loop_stdio() -> AsyncIterator[tuple[Any, Any]]:
    """``(stdin, stdout)`` for ``stdio_server(stdin, stdout)``; ``(None, None)``: use the SDK's own."""
    stack = AsyncExitStack()
    streams: tuple[Any, Any] = (None, None)
    if sniffio.current_async_library() == "asyncio":
        try:
            streams = await stack.enter_async_context(_pipes())
        except (ValueError, OSError, AttributeError):  # a regular file, a closed or absent std stream
            streams = (None, None)
    async with stack:
        yield streams
