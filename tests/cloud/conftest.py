"""A real static HTTP host on 127.0.0.1 serving bundle and JWKS files, with ETags and scripted answers."""

from __future__ import annotations

import hashlib
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


class StaticHost:
    """Serves ``files`` (path -> Reply) like a plain static host: strong ETag, 304 on If-None-Match."""

    def __init__(self) -> None:
        self.files: dict[str, Reply] = {}
        self.hits: Counter[tuple[str, int]] = Counter()
        self.auth: list[str | None] = []
        host = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                reply = host.files.get(self.path, Reply(404, b"not found"))
                host.auth.append(self.headers.get("Authorization"))
                if reply.delay:
                    time.sleep(reply.delay)
                etag = f'"{hashlib.sha256(reply.body).hexdigest()[:16]}"'
                status = reply.status
                if status == 200 and self.headers.get("If-None-Match") == etag:
                    status = 304
                host.hits[(self.path, status)] += 1
                self.send_response(status)
                for k, v in {"ETag": etag, **reply.headers}.items():
                    self.send_header(k, v)
                body = b"" if status == 304 else reply.body
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def put(self, path: str, body: bytes | str, status: int = 200, **headers: str) -> None:
        self.files[path] = Reply(status, body.encode() if isinstance(body, str) else body, headers)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def host() -> Iterator[StaticHost]:
    h = StaticHost()
    yield h
    h.close()
