"""A real SDK process against a real control plane: updates, revocation, outages, expiry, key rotation."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

V1 = "policies:\n  - role: r\n    permissions: [tool.a]\n"
V2 = "policies:\n  - role: r\n    permissions: [tool.a, tool.b]\n"
POLL = 1.0
ROOT = Path(__file__).resolve().parents[2]
AGENT = ROOT / "tests" / "cloud" / "sdk_agent.py"


class Agent:
    """tests/cloud/sdk_agent.py in a subprocess, driven line by line with a timeout on every answer."""

    def __init__(
        self,
        tmp: Path,
        url: str,
        token: str,
        *,
        state: str | None = None,
        timeout: float = 5.0,
        extra: dict[str, str] | None = None,
        app: str,
    ) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("D2_")}
        env.update(
            PYTHONPATH=str(ROOT),
            D2_API_URL=url,
            D2_TOKEN=token,
            D2_SILENT="1",
            D2_STATE_PATH=state or str(tmp / "bundles.json"),
            D2_POLL_INTERVAL=str(POLL),
            D2_MIN_POLL_INTERVAL=str(POLL),
            XDG_CONFIG_HOME=str(tmp / "xdg"),
            D2_APP=app,
            **(extra or {}),
        )
        self.stderr = (tmp / f"agent-{time.monotonic_ns()}.log").open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, str(AGENT), str(timeout)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            env=env,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.hello = self._next(timeout + 20)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)

    def _next(self, timeout: float = 10.0) -> dict[str, Any]:
        return dict(json.loads(self.lines.get(timeout=timeout)))

    def ask(self, command: str) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self._next()

    def call(self, tool: str) -> dict[str, Any]:
        return self.ask(f"call {tool}")

    def state(self) -> dict[str, Any]:
        return self.ask("state")

    def wait_for(self, key: str, value: Any, timeout: float) -> float:
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.state()[key] == value:
                return time.monotonic() - started
            time.sleep(0.05)
        raise AssertionError(f"{key} never became {value!r}: {self.state()}")

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
            except (BrokenPipeError, OSError):
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout, self.stderr):
            if stream is not None and not stream.closed:
                try:
                    stream.close()
                except OSError:
                    pass


@pytest.fixture
def agents(tmp_path: Path):  # type: ignore[no-untyped-def]
    started: list[Agent] = []

    def start(*args: Any, **kw: Any) -> Agent:
        agent = Agent(tmp_path, *args, **kw)
        started.append(agent)
        return agent

    yield start
    for agent in started:
        agent.close()


def test_publish_revoke_publish_each_picked_up_within_one_poll(app, agents) -> None:  # type: ignore[no-untyped-def]
    app.publish_next(V1)
    agent = agents(app.server.url, app.runtime, app=app.name)
    assert agent.hello["configured"] and agent.hello["version"] == 1
    assert agent.call("tool.a") == {"ok": True}
    assert agent.call("tool.b")["reason"] == "unknown_tool"
    app.publish_next(V2)
    # One poll interval (plus 10% jitter) and a request; nothing waits for a second poll.
    assert agent.wait_for("version", 2, timeout=POLL * 1.1 + 1.5) <= POLL * 1.1 + 1.5
    assert agent.call("tool.b") == {"ok": True}
    assert app.call("POST", "/v1/policy/revoke", json={}).status_code == 201
    agent.wait_for("version", 3, timeout=POLL * 1.1 + 1.5)
    refused = agent.call("tool.a")
    assert refused["ok"] is False and refused["error"] == "MissingPolicyError"
    app.publish_next(V1)
    agent.wait_for("version", 4, timeout=POLL * 1.1 + 1.5)
    assert agent.call("tool.a") == {"ok": True}
    polls = agent.state()["polls"]
    time.sleep(POLL * 2.5)
    later = agent.state()
    assert later["polls"] >= polls + 2 and later["version"] == 4 and later["error"] is None  # 304s


def test_server_down_keeps_the_last_good_bundle_and_restarts_offline(  # type: ignore[no-untyped-def]
    app, spawn, agents, tmp_path: Path
) -> None:
    own = spawn()
    kid = app.publish_next(V2).json()["kid"]
    agent = agents(own.url, app.runtime, app=app.name)
    assert agent.hello["version"] == 1 and agent.call("tool.b") == {"ok": True}
    own.stop()
    agent.wait_for("error", "HttpError", timeout=POLL * 3)
    assert agent.call("tool.b") == {"ok": True}
    agent.close()
    # Offline, the saved bundle is verified with the pinned key (the state file itself is never trusted).
    offline = agents(own.url, app.runtime, app=app.name, extra={"D2_PIN_JWKS_THUMBPRINTS": kid})
    assert offline.hello["configured"] and offline.hello["version"] == 1
    assert offline.call("tool.b") == {"ok": True}
    unpinned = agents(own.url, app.runtime, app=app.name, timeout=1.0)
    assert unpinned.hello["version"] is None, "without pins nothing vouches for the saved bundle offline"
    fresh = agents(
        own.url,
        app.runtime,
        app=app.name,
        state=":memory:",
        timeout=2.0,
        extra={"D2_ALLOW_VOLATILE_FLOOR": "1"},
    )
    assert fresh.hello["configured"] and fresh.hello["version"] is None and fresh.hello["seconds"] < 3
    assert fresh.call("tool.a")["error"] == "MissingPolicyError"
    assert not list(tmp_path.glob("*.tmp"))


def test_an_expired_bundle_is_refused(app, spawn, agents) -> None:  # type: ignore[no-untyped-def]
    short = spawn("--bundle-ttl", "3s")
    app.publish_next(V1, via=short.url)
    agent = agents(short.url, app.runtime, app=app.name)
    assert agent.call("tool.a") == {"ok": True}
    short.stop()
    deadline = time.monotonic() + 6
    answer = agent.call("tool.a")
    while answer["ok"] and time.monotonic() < deadline:
        time.sleep(0.2)
        answer = agent.call("tool.a")
    assert answer == {"ok": False, "error": "BundleExpiredError", "reason": "policy_expired"}
    restarted = agents(short.url, app.runtime, app=app.name, timeout=1.0)
    assert restarted.hello["version"] is None
    assert restarted.call("tool.a")["error"] == "MissingPolicyError"


def test_key_rotation_without_downtime(app, backend, agents) -> None:  # type: ignore[no-untyped-def]
    first = app.publish_next(V1).json()
    agent = agents(app.server.url, app.runtime, app=app.name, extra={"D2_JWKS_MIN_REFRESH": "1"})
    assert agent.hello["kid"] == first["kid"]
    new_kid = backend.rotate_key()
    answers = []
    deadline = time.monotonic() + 8
    while time.monotonic() < deadline:
        answers.append(agent.call("tool.a"))
        if agent.state()["kid"] == new_kid:
            break
        time.sleep(0.02)
    assert agent.state()["kid"] == new_kid and agent.state()["version"] == 1
    assert answers and all(a == {"ok": True} for a in answers)
