"""A malicious MCP upstream over streamable HTTP for the round-3 attack tests.

The evil in-process server of round 2 is served over HTTP by the ``mcp`` package's own app, wrapped in
an ASGI layer that answers chosen ``tools/call`` requests itself the way a hostile server would:
error statuses, redirects to another origin, wrong content types, SSE streams that never end, huge
bodies, answers for another request id. Every request's headers are recorded, so a test can check
what the proxy sends upstream.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import anyio
import uvicorn

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
Misbehave = Callable[[dict[str, Any], Send], Awaitable[None]]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _reply(send: Send, status: int, body: bytes, ctype: str, extra: list[tuple[bytes, bytes]]) -> None:
    headers = [(b"content-type", ctype.encode()), (b"content-length", str(len(body)).encode()), *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def status(code: int, body: bytes = b'{"error": "nope"}', ctype: str = "application/json") -> Misbehave:
    async def run(message: dict[str, Any], send: Send) -> None:
        await _reply(send, code, body, ctype, [])

    return run


def redirect(location: str) -> Misbehave:
    async def run(message: dict[str, Any], send: Send) -> None:
        await _reply(send, 307, b"", "text/plain", [(b"location", location.encode())])

    return run


def result(payload: dict[str, Any], *, id_shift: int = 0) -> Misbehave:
    """A JSON answer carrying ``payload`` as the result (for the request's id plus ``id_shift``)."""

    async def run(message: dict[str, Any], send: Send) -> None:
        body = {"jsonrpc": "2.0", "id": message["id"] + id_shift, "result": payload}
        await _reply(send, 200, json.dumps(body).encode(), "application/json", [])

    return run


def sse_forever(message: dict[str, Any], send: Send) -> Awaitable[None]:
    async def run() -> None:
        headers = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-store")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        try:
            while True:  # keep-alive comments, never an event: the stream never ends
                await send({"type": "http.response.body", "body": b": ping\n\n", "more_body": True})
                await anyio.sleep(0.1)
        except Exception:  # the client went away
            return

    return run()


class EvilHttp:
    """An ASGI wrapper: ``tools/call`` of a name in ``misbehave`` gets that answer, the rest the app's."""

    def __init__(self, app: Any, misbehave: dict[str, Misbehave]) -> None:
        self.app = app
        self.misbehave = misbehave
        self.headers: list[dict[str, str]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.headers.append({k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]})
        chunks = []
        while True:
            event = await receive()
            chunks.append(event.get("body", b""))
            if not event.get("more_body"):
                break
        body = b"".join(chunks)
        try:
            message = json.loads(body) if body else None
        except ValueError:
            message = None
        if isinstance(message, dict) and message.get("method") == "tools/call":
            answer = self.misbehave.get(str((message.get("params") or {}).get("name")))
            if answer is not None:
                await answer(message, send)
                return
        sent = False

        async def replay() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Run ``app`` under uvicorn on 127.0.0.1 in a thread; yield its ``/mcp`` URL; stop it after."""
    port = _port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error", lifespan="on", timeout_notify=1)
    )
    server.config.timeout_graceful_shutdown = 1
    thread = threading.Thread(target=server.run, name=f"evil3-http-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            server.should_exit = True
            raise RuntimeError("the evil HTTP upstream did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        server.should_exit = True
        server.force_exit = True
        thread.join(timeout=5)
