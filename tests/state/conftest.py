"""Fixtures for shared session state: the machine's Redis, a private Redis to stop, worker processes."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import d2
from d2._sources.session_state import reset_session_state

POLICY = Path(__file__).parents[1] / "fixtures" / "policies" / "state" / "shared.yaml"
WORKER = Path(__file__).parent / "_worker.py"
SHARED_REDIS = "redis://127.0.0.1:6379/0"


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(autouse=True)
def _fresh_state(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("D2_STATE_URL", "D2_SESSION_KEY", "D2_STATE_DEGRADED"):
        monkeypatch.delenv(name, raising=False)
    reset_session_state()
    yield
    reset_session_state()


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The machine's Redis (``.ci/run`` starts one); its absence is a failure, not a skip."""
    if not _port_open(6379):
        pytest.fail("no Redis on 127.0.0.1:6379: start redis-server (bash .ci/run does)")
    return SHARED_REDIS


@pytest.fixture
def sid() -> str:
    """A session id no other test (or earlier run) uses."""
    return f"t-{uuid.uuid4().hex}"


@pytest.fixture
def policy() -> Path:
    d2.configure_rbac_sync(POLICY)
    return POLICY


_CLIENTS: dict[str, Any] = {}


def redis_client(url: str) -> Any:
    """One client per URL for the whole run (closed at exit), so tests leave no sockets behind."""
    import redis

    if url not in _CLIENTS:
        _CLIENTS[url] = redis.Redis.from_url(url)
    return _CLIENTS[url]


@pytest.fixture(scope="session", autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    for client in _CLIENTS.values():
        client.close()


def session_log(url: str, session_id: str) -> list[str]:
    """The retained entries of a session, read straight from Redis."""
    return [e.decode() for e in redis_client(url).lrange(f"d2:s:{{{session_id}}}:l", 0, -1)]


class PrivateRedis:
    """A redis-server of our own on a free loopback port, to stop and start without touching others."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not installed; the fault tests need their own Redis to stop")
        self.proc = subprocess.Popen(
            [
                binary,
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not _port_open(self.port):
            if time.monotonic() > deadline:
                raise RuntimeError("private redis-server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop()


class Worker:
    """A separate Python process guarding the shared policy's tools, driven by JSON lines."""

    def __init__(self, url: str, *extra: str) -> None:
        env = {**os.environ, "D2_SILENT": "1", "PYTHONPATH": str(Path(__file__).parents[2])}
        self.proc = subprocess.Popen(
            [sys.executable, str(WORKER), str(POLICY), url, *extra],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )
        assert self.ask({"op": "ping"}) == "pong"

    def ask(self, command: dict[str, Any]) -> Any:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"worker exited with {self.proc.wait()}")
        return json.loads(line)

    def call(self, session: str, tool: str, user: str = "alice") -> str:
        return str(self.ask({"op": "call", "session": session, "tool": tool, "user": user}))

    def close(self) -> None:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.close()
        self.proc.wait(10)
        self.proc.stdout.close()


@pytest.fixture(scope="session")
def workers(redis_url: str) -> Iterator[list[Worker]]:
    """Two replicas for the whole run (each test uses its own session ids, so they never interfere)."""
    pair = [Worker(redis_url), Worker(redis_url)]
    yield pair
    for worker in pair:
        worker.close()
