"""The opt-in live decision stream: local only, bounded, never blocking, nothing lost silently."""

from __future__ import annotations

import json
import os
import socket
import stat
import threading
import time
from pathlib import Path

import pytest

import d2
from d2._runtime.stream import DecisionStream, parse_stream_address


def _event(i: int, *, allowed: bool = True) -> d2.DecisionEvent:
    return d2.DecisionEvent(
        tool_id=f"t{i % 7}",
        user_id="alice",
        roles=("r",),
        allowed=allowed,
        reason=None if allowed else "rbac",
        location=None,
        latency_us=1.0,
        policy_version="v",
        request_id="req",
        timestamp=1.0 + i,
    )


def _connect(address: str) -> socket.socket:
    addr = parse_stream_address(address)
    if addr.path is not None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(addr.path)
    else:
        sock = socket.create_connection((addr.host, addr.port))
    sock.settimeout(5)
    return sock


def _wait_subscribed(stream: DecisionStream, count: int = 1) -> None:
    deadline = time.monotonic() + 5
    while stream.subscribers < count:
        assert time.monotonic() < deadline, "the subscriber was never accepted"
        time.sleep(0.01)


def _read_lines(sock: socket.socket, until: int) -> list[dict]:  # type: ignore[type-arg]
    """Read JSON lines until ``until`` decisions (plus drop notices) are accounted for."""
    buf, out, seen = b"", [], 0
    while seen < until:
        chunk = sock.recv(1 << 16)
        assert chunk, f"stream closed after {seen} of {until}"
        buf += chunk
        *lines, buf = buf.split(b"\n")
        for line in lines:
            item = json.loads(line)
            out.append(item)
            seen += item.get("dropped", 1)
    return out


@pytest.fixture
def guarded(write_policy):  # type: ignore[no-untyped-def]
    d2.configure_rbac_sync(write_policy("policies:\n  - role: r\n    permissions: [st.ok]\n"))

    @d2.d2_guard("st.ok")
    def ok(secret: str = "s3cr3t-argument") -> str:
        return "ok"

    @d2.d2_guard("st.no", on_deny="denied")
    def no() -> str:
        return "ran"

    return ok, no


def test_unix_socket_streams_guarded_decisions(guarded, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ok, no = guarded
    path = tmp_path / "d2.sock"
    stream = d2.serve_decision_stream(f"unix:{path}")
    try:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600  # only this user may read decisions
        sock = _connect(str(stream.address))
        _wait_subscribed(stream)
        with d2.set_user_context("alice", ["r"]):
            ok()
            assert no() == "denied"
        lines = _read_lines(sock, 2)
        sock.close()
    finally:
        stream.stop()
    assert [(x["tool_id"], x["allowed"], x["reason"], x["user_id"]) for x in lines] == [
        ("st.ok", True, None, "alice"),
        ("st.no", False, "unknown_tool", "alice"),
    ]
    assert "s3cr3t-argument" not in json.dumps(lines)  # argument values never travel
    assert not path.exists()
    stream.stop()  # stopping twice (explicitly, then at exit) is harmless


def test_tcp_port_zero_reports_the_real_port() -> None:
    stream = DecisionStream("tcp:127.0.0.1:0").start()
    try:
        assert stream.address.port and stream.address.port > 0
        sock = _connect(str(stream.address))
        _wait_subscribed(stream)
        stream(_event(1, allowed=False))
        assert _read_lines(sock, 1)[0]["reason"] == "rbac"
        sock.close()
    finally:
        stream.stop()


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("tcp:0.0.0.0:7341", "not a loopback address"),
        ("10.1.2.3:7341", "not a loopback address"),
        ("somewhere", "cannot read 'somewhere' as an address"),
        ("unix:", "needs a socket path"),
    ],
)
def test_addresses_outside_the_host_are_refused(address: str, message: str) -> None:
    with pytest.raises(d2.ConfigurationError, match=message):
        d2.serve_decision_stream(address)


def test_no_address_says_how_to_opt_in() -> None:
    with pytest.raises(d2.ConfigurationError, match="D2_DECISION_STREAM=unix:"):
        d2.serve_decision_stream()


def test_a_file_that_is_not_a_socket_is_never_replaced(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("keep me")
    with pytest.raises(d2.ConfigurationError, match="is not a socket"):
        d2.serve_decision_stream(f"unix:{path}")
    assert path.read_text() == "keep me"


def test_a_stale_socket_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "d2.sock"
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(path))
    dead.close()  # the file stays, nobody listens
    stream = d2.serve_decision_stream(f"unix:{path}")
    stream.stop()


def test_slow_subscriber_never_blocks_and_is_told_what_it_lost(tmp_path: Path) -> None:
    stream = DecisionStream(f"unix:{tmp_path / 's.sock'}", buffer_lines=100).start()
    try:
        sock = _connect(str(stream.address))
        _wait_subscribed(stream)
        started = time.perf_counter()
        for i in range(10_000):  # the subscriber reads nothing meanwhile
            stream(_event(i))
        elapsed = time.perf_counter() - started
        assert elapsed < 5.0, f"the sink blocked: {elapsed:.2f} s for 10,000 events"
        assert stream.dropped > 0
        lines = _read_lines(sock, 10_000)  # every event is delivered or counted as dropped
        sock.close()
    finally:
        stream.stop()
    notices = sum(x["dropped"] for x in lines if "dropped" in x)
    delivered = [x for x in lines if "tool_id" in x]
    assert notices == stream.dropped and notices + len(delivered) == 10_000
    assert delivered[-1]["timestamp"] == 1.0 + 9_999  # the newest survive, the oldest are dropped


def test_subscriber_limit(tmp_path: Path) -> None:
    stream = DecisionStream(f"unix:{tmp_path / 'l.sock'}", max_subscribers=1).start()
    try:
        first = _connect(str(stream.address))
        _wait_subscribed(stream)
        second = _connect(str(stream.address))
        assert json.loads(second.recv(1024).split(b"\n")[0]) == {"error": "too many subscribers"}
        assert second.recv(1024) == b""
        first.close()
        second.close()
    finally:
        stream.stop()


def test_env_var_starts_the_stream_at_configure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, write_policy
) -> None:  # type: ignore[no-untyped-def]
    from d2._runtime import stream as _stream

    path = tmp_path / "env.sock"
    monkeypatch.setenv("D2_DECISION_STREAM", f"unix:{path}")
    d2.configure_rbac_sync(write_policy("policies:\n  - role: r\n    permissions: [st.env]\n"))

    @d2.d2_guard("st.env")
    def ok() -> str:
        return "ok"

    try:
        assert path.exists() and _stream._ACTIVE
        sock = _connect(f"unix:{path}")
        _wait_subscribed(_stream._ACTIVE[0])
        with d2.set_user_context("bob", ["r"]):
            ok()
        assert _read_lines(sock, 1)[0]["user_id"] == "bob"
        sock.close()
    finally:
        for active in list(_stream._ACTIVE):
            active.stop()


def test_sink_keeps_up_with_a_writer_thread(tmp_path: Path) -> None:
    stream = DecisionStream(f"unix:{tmp_path / 'w.sock'}").start()
    received: list[dict] = []  # type: ignore[type-arg]
    try:
        sock = _connect(str(stream.address))
        _wait_subscribed(stream)
        reader = threading.Thread(target=lambda: received.extend(_read_lines(sock, 20_000)))
        reader.start()
        for i in range(20_000):
            stream(_event(i))
        reader.join(10)
        sock.close()
    finally:
        stream.stop()
    assert len(received) == 20_000 and stream.dropped == 0
