"""Real control-plane processes on 127.0.0.1 over SQLite (temp dir) and PostgreSQL (unique schema).

PostgreSQL is the one this machine runs on 127.0.0.1:5432 (trust auth, user postgres or root,
database ``test``); each test module gets its own schema, dropped afterwards, so parallel and
consecutive runs never collide. Where no PostgreSQL answers, those tests skip and say why.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from d2tools.server import admin

ROOT = Path(__file__).resolve().parents[2]
AGENT = ROOT / "tests" / "cloud" / "sdk_agent.py"
PG_USERS = ("postgres", "root")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def postgres_url() -> str | None:
    """The first PostgreSQL URL that answers, or None."""
    try:
        import psycopg
    except ImportError:
        return None
    for user in PG_USERS:
        url = f"postgresql://{user}@127.0.0.1:5432/test"
        try:
            with psycopg.connect(url, connect_timeout=2) as conn:
                conn.execute("SELECT 1")
            return url
        except Exception:
            continue
    return None


@dataclass
class Backend:
    """Where a test's control plane keeps its data."""

    name: str
    db: str
    schema: str | None

    def admin_args(self) -> list[str]:
        return ["--db", self.db, *(["--schema", self.schema] if self.schema else [])]

    def create_app(self, name: str | None = None) -> str:
        app = name or f"app-{secrets.token_hex(4)}"
        admin.create_app_named(self.db, app, self.schema)
        return app

    def token(self, kind: str, app: str | None) -> str:
        return admin.issue(self.db, kind, app, self.schema)

    def rotate_key(self, ttl: int = 7 * 86400) -> str:
        return admin.rotate_key(self.db, self.schema, bundle_ttl=ttl)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("D2_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


@dataclass
class ServerProc:
    """One ``python -m d2tools.server serve`` process."""

    backend: Backend
    log: Path
    extra: list[str] = field(default_factory=list)
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServerProc:
        cmd = [
            sys.executable,
            "-m",
            "d2tools.server",
            "serve",
            *self.backend.admin_args(),
            "--port",
            str(self.port),
            "--poll-interval",
            "1",
            *self.extra,
        ]
        with self.log.open("ab") as fh:
            self.proc = subprocess.Popen(cmd, stdout=fh, stderr=fh, env=_env(), cwd=ROOT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=0.5).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError(f"server not ready: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def _make_backend(kind: str, tmp: Path) -> Iterator[Backend]:
    if kind == "sqlite":
        backend = Backend("sqlite", str(tmp / "d2.db"), None)
        admin.init_storage(backend.db)
        yield backend
        return
    url = postgres_url()
    if url is None:
        pytest.skip("PostgreSQL is not running on 127.0.0.1:5432 (user postgres or root, database test)")
    schema = f"d2t_{os.getpid()}_{secrets.token_hex(4)}"
    backend = Backend("postgres", url, schema)
    admin.init_storage(url, schema)
    try:
        yield backend
    finally:
        from d2tools.server.postgres import PostgresStorage

        storage = PostgresStorage(url, schema=schema)
        storage.drop_schema()
        storage.close()


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    yield from _make_backend(request.param, tmp_path_factory.mktemp(f"cp-{request.param}"))


@pytest.fixture(scope="module")
def server(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProc]:
    proc = ServerProc(backend, tmp_path_factory.mktemp("log") / "server.log").start()
    yield proc
    proc.stop()


@pytest.fixture
def spawn(backend: Backend, tmp_path: Path) -> Iterator[Any]:
    """Start extra server processes on the same backend; all are stopped after the test."""
    started: list[ServerProc] = []

    def start(*extra: str) -> ServerProc:
        proc = ServerProc(backend, tmp_path / f"server-{len(started)}.log", list(extra)).start()
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.stop()


@dataclass
class AppCtx:
    """An app on a server with one runtime and one developer token."""

    server: ServerProc
    name: str
    runtime: str
    developer: str

    def call(
        self, method: str, path: str, *, token: str | None = None, via: str | None = None, **kw: Any
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token or self.developer}", **kw.pop("headers", {})}
        return httpx.request(method, f"{via or self.server.url}{path}", headers=headers, timeout=10, **kw)

    def publish(self, policy: str, *, etag: str | None = None, **kw: Any) -> httpx.Response:
        headers = {"If-Match": etag} if etag else {"If-None-Match": "*"}
        return self.call("POST", "/v1/policy/publish", json={"policy": policy}, headers=headers, **kw)

    def head_etag(self) -> str | None:
        head = self.call("GET", "/v1/status").json()["head"]
        return head["etag"] if head else None

    def publish_next(self, policy: str, *, via: str | None = None) -> httpx.Response:
        response = self.publish(policy, etag=self.head_etag(), via=via)
        assert response.status_code == 201, response.text
        return response


@pytest.fixture
def app(server: ServerProc, backend: Backend) -> AppCtx:
    name = backend.create_app()
    return AppCtx(server, name, backend.token("runtime", name), backend.token("developer", name))
