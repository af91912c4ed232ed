"""SDK usage events against a real control plane (SQLite, loopback): batched, bounded, polite, private."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

import d2
from d2._runtime.events import DecisionEvent, flush_events
from d2._runtime.usage import MAX_CHUNK_BYTES, UsageReporter, stop_usage_reporter, usage_reporter
from d2._sources.cloud_http import Response
from d2tools.server import admin

from .conftest import POLICY, free_port

ROOT = Path(__file__).parents[2]


@dataclass
class Server:
    url: str
    db: Path


@dataclass
class ControlPlane:
    """A fresh app (and runtime token) on a running control plane: its events are the app's alone."""

    url: str
    db: Path
    token: str
    app_id: int
    name: str

    def stored(self) -> list[tuple[str, dict[str, object]]]:
        with sqlite3.connect(self.db) as conn:
            rows = conn.execute(
                "SELECT event_type, payload FROM d2_events WHERE app_id = ? ORDER BY rowid", (self.app_id,)
            ).fetchall()
        return [(kind, json.loads(payload)) for kind, payload in rows]


def _serve(tmp: Path, *extra: str) -> Iterator[Server]:
    db = tmp / "cp.db"
    admin.init_storage(str(db))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("D2_")}
    env["PYTHONPATH"] = str(ROOT)
    cmd = [sys.executable, "-m", "d2tools.server", "serve", "--db", str(db), "--port", str(port), *extra]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=0.5).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            raise RuntimeError("control plane did not start")
        time.sleep(0.05)
    yield Server(url, db)
    proc.terminate()
    proc.wait(10)


def _app(server: Server) -> ControlPlane:
    name = f"usage-{uuid.uuid4().hex[:8]}"
    record = admin.create_app_named(str(server.db), name)
    token = admin.issue(str(server.db), "runtime", name)
    return ControlPlane(server.url, server.db, token, record.id, name)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from _serve(tmp_path_factory.mktemp("cp"))


@pytest.fixture(scope="module")
def slow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from _serve(tmp_path_factory.mktemp("cp-slow"), "--ingest-rate", "0.5", "--ingest-burst", "1")


@pytest.fixture
def plane(server: Server) -> ControlPlane:
    return _app(server)


@pytest.fixture
def slow_plane(slow_server: Server) -> ControlPlane:
    return _app(slow_server)


def _event(i: int, tool: str = "db.read", user: str = "alice@example.com") -> DecisionEvent:
    return DecisionEvent(
        tool,
        user,
        ("agent",),
        i % 2 == 0,
        None if i % 2 == 0 else "rbac",
        None,
        12.5,
        "3",
        "req-secret",
        time.time(),
    )


class Recorder:
    """Observe the bodies the reporter posts (the post itself goes to the real server)."""

    def __init__(self, reporter: UsageReporter) -> None:
        self.inner = reporter.post
        self.sizes: list[int] = []
        self.statuses: list[int] = []
        reporter.post = self

    def __call__(self, body: bytes) -> Response:
        self.sizes.append(len(body))
        response = self.inner(body)
        self.statuses.append(response.status)
        return response


def test_decisions_reach_the_control_plane_without_args_or_user_ids(plane: ControlPlane) -> None:
    reporter = UsageReporter(f"{plane.url}/v1/events/ingest", plane.token)
    for i in range(10):
        reporter(_event(i))
    while reporter.send_once():
        pass
    stored = plane.stored()
    assert len(stored) == 10 and reporter.sent == 10 and reporter.dropped == 0
    text = json.dumps(stored)
    assert "alice" not in text and "req-secret" not in text
    kind, payload = stored[1]
    assert kind == "decision"
    assert payload == {
        "tool": "db.read",
        "allowed": False,
        "reason": "rbac",
        "rule": None,
        "policy_version": "3",
        "latency_us": 12.5,
    }


def test_user_ids_only_as_salted_hashes_when_asked(plane: ControlPlane) -> None:
    reporter = UsageReporter(f"{plane.url}/v1/events/ingest", plane.token, user_salt="pepper")
    reporter(_event(0))
    assert reporter.send_once()
    payload = plane.stored()[0][1]
    assert isinstance(payload["user"], str) and len(payload["user"]) == 16 and "alice" not in payload["user"]


def test_posts_stay_under_32_kib(plane: ControlPlane) -> None:
    reporter = UsageReporter(f"{plane.url}/v1/events/ingest", plane.token)
    recorder = Recorder(reporter)
    for i in range(2500):
        reporter(_event(i, tool=f"tool.{i:05d}." + "x" * 40))
    while reporter.send_once():
        pass
    assert len(plane.stored()) == 2500
    assert len(recorder.sizes) >= 3
    assert max(recorder.sizes) <= MAX_CHUNK_BYTES
    assert set(recorder.statuses) == {202}


def test_the_buffer_is_bounded_and_counts_drops() -> None:
    reporter = UsageReporter("http://127.0.0.1:9/unused", None, buffer_limit=100)
    for i in range(250):
        reporter(_event(i))
    assert len(reporter.buffer) == 100 and reporter.dropped == 150


def test_429_and_retry_after_are_honoured(slow_plane: ControlPlane) -> None:
    reporter = UsageReporter(f"{slow_plane.url}/v1/events/ingest", slow_plane.token)
    recorder = Recorder(reporter)
    for round_ in range(2):
        for i in range(5):
            reporter(_event(i))
        before = time.monotonic()
        sent = reporter.send_once()
        if round_ == 1:
            assert not sent and recorder.statuses[-1] == 429
            assert reporter.next_post >= before + 1.0  # Retry-After: 2 (whole seconds)
            assert not reporter.send_once()  # nothing is posted before the server said so
            assert recorder.statuses.count(429) == 1
    assert len(reporter.buffer) == 5  # kept, not dropped
    time.sleep(max(0.0, reporter.next_post - time.monotonic()) + 0.1)
    assert reporter.send_once()
    assert len(slow_plane.stored()) == 10 and reporter.dropped == 0


def test_an_unreachable_plane_never_blocks_a_guarded_call(tmp_path: Path) -> None:
    d2.configure_rbac_sync(POLICY)
    port = free_port()  # nothing listens there
    reporter = UsageReporter(f"http://127.0.0.1:{port}/v1/events/ingest", "t", interval=0.05).start()
    try:

        @d2.d2_guard("notes.write")
        def note() -> str:
            return "ok"

        with d2.set_user_context("alice", ["agent"]):
            started = time.perf_counter()
            for _ in range(200):
                note()
            elapsed = time.perf_counter() - started
        assert flush_events(5)
        assert elapsed < 0.5
        deadline = time.monotonic() + 10
        while reporter.failures == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert reporter.sent == 0 and reporter.failures >= 1
        assert reporter.buffer  # kept for a later attempt
    finally:
        reporter.stop(flush_timeout=0.1)


def test_cloud_mode_with_usage_telemetry_starts_the_reporter(
    plane: ControlPlane, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("D2_TELEMETRY", "usage")
    monkeypatch.setenv("D2_TOKEN", plane.token)
    monkeypatch.setenv("D2_API_URL", plane.url)
    monkeypatch.setenv("D2_STATE_PATH", str(tmp_path / "bundles.json"))
    monkeypatch.setenv("D2_APP", plane.name)
    try:
        d2.configure_rbac_sync(startup_timeout=2)
        reporter = usage_reporter()
        assert reporter is not None and reporter.url == f"{plane.url}/v1/events/ingest"
    finally:
        stop_usage_reporter()
