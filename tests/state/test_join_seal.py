"""A join seals the joining request's own session on Redis, so no replica records a call beside it.

Each :class:`RedisBackend` here stands for one replica's view (its own connection and mirrors) of
the machine's Redis. The attack these tests hold off: a request joins session S with its first call
on one replica while a call without the reference lands on another replica, on the request's own
empty history; a forbidden pattern split that way would never meet one history.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import pytest

from d2._core.session import SessionFault
from d2._sources.state_redis import RedisBackend, RedisSession, owner_digest

from .conftest import free_port, redis_client

ALICE = owner_digest("alice")


@pytest.fixture
def replicas(redis_url: str) -> Iterator[list[RedisBackend]]:
    made = [
        RedisBackend(redis_url, ttl=60, max_calls=100, max_labels=10, timeout=1.0, degraded=False)
        for _ in range(3)
    ]
    yield made
    for backend in made:
        backend.close()


def _own(backend: RedisBackend, key: str, owner: str = ALICE) -> RedisSession:
    return backend.session(key, owner)


def _fault(action: object) -> SessionFault:
    with pytest.raises(SessionFault) as info:
        action()  # type: ignore[operator]
    return info.value


def test_a_sealed_session_refuses_calls_and_names_the_joined_one(
    replicas: list[RedisBackend], sid: str
) -> None:
    a, b, c = replicas
    assert _own(a, sid).seal("svc-1") is True
    fault = _fault(lambda: _own(b, sid).commit(("cdb.read",), ()))
    assert fault.reason == "session_invalid"
    assert "joined into another session" in fault.detail
    # A replica that never served the request learns the join before its first call.
    assert _own(c, sid).joined_to() == "svc-1"
    assert redis_client(a.url).llen(f"d2:s:{{{sid}}}:l") == 0


def test_a_replica_keeps_asking_until_the_request_has_history(replicas: list[RedisBackend], sid: str) -> None:
    a, b, _ = replicas
    seen_by_b = _own(b, sid)
    assert seen_by_b.joined_to() is None  # nothing yet
    assert _own(a, sid).seal("svc-1") is True  # the join lands on another replica afterwards
    assert seen_by_b.joined_to() == "svc-1"  # still no history here: asked again, and redirected
    recorded = _own(b, f"{sid}-own")
    assert recorded.commit(("cdb.read",), ()) is None
    # With history the request can never be sealed, so a replica stops asking (no round trip).
    redis_client(b.url).hset(f"d2:s:{{{sid}-own}}:m", "j", "svc-forged")
    assert recorded.joined_to() is None


def test_a_session_with_history_cannot_be_sealed(replicas: list[RedisBackend], sid: str) -> None:
    a, b, _ = replicas
    assert _own(b, sid).commit(("cdb.read",), ()) is None
    assert _own(a, sid).seal("svc-1") is False
    labels = f"{sid}-labels"
    assert _own(b, labels).commit((), ("secret",)) is None  # a label alone is history too
    assert _own(a, labels).seal("svc-1") is False
    assert _own(a, sid).joined_to() is None


def test_a_seal_is_one_target_and_one_owner(replicas: list[RedisBackend], sid: str) -> None:
    a, b, _ = replicas
    assert _own(a, sid).seal("svc-1") is True
    assert _own(b, sid).seal("svc-1") is True  # the same join again (a fresh reference): fine
    assert _fault(lambda: _own(b, sid).seal("svc-2")).reason == "session_invalid"
    assert _fault(lambda: _own(b, sid, owner_digest("mallory")).seal("svc-1")).reason == "session_invalid"
    # Another user's view of this key never redirects into alice's joined session.
    assert _own(b, sid, owner_digest("mallory")).joined_to() is None


def test_a_join_racing_a_first_call_never_leaves_two_histories(replicas: list[RedisBackend]) -> None:
    """Seal on one replica and a first call on another, released together, many times over."""
    a, b, _ = replicas
    outcomes: set[tuple[bool, bool]] = set()
    for _ in range(150):
        key = f"race-{uuid.uuid4().hex}"
        barrier = threading.Barrier(2)
        got: dict[str, bool] = {}

        def seal(key: str = key, barrier: threading.Barrier = barrier, got: dict[str, bool] = got) -> None:
            barrier.wait()
            got["sealed"] = _own(a, key).seal("svc-1")

        def call(key: str = key, barrier: threading.Barrier = barrier, got: dict[str, bool] = got) -> None:
            barrier.wait()
            try:
                got["recorded"] = _own(b, key).commit(("cdb.read",), ()) is None
            except SessionFault as fault:
                assert fault.reason == "session_invalid"
                got["recorded"] = False

        threads = [threading.Thread(target=seal), threading.Thread(target=call)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not (got["sealed"] and got["recorded"]), key  # exactly one of them wins
        assert got["sealed"] or got["recorded"], key
        outcomes.add((got["sealed"], got["recorded"]))
    print("outcomes seen:", sorted(outcomes))  # both orders are legal; the scheduler picks


def test_a_seal_in_use_is_kept_alive_and_a_lapsed_one_fails_closed(redis_url: str, sid: str) -> None:
    a = RedisBackend(redis_url, ttl=0.6, max_calls=100, max_labels=10, timeout=1.0, degraded=False)
    b = RedisBackend(redis_url, ttl=60, max_calls=100, max_labels=10, timeout=1.0, degraded=False)
    try:
        mirror = _own(a, sid)
        assert mirror.seal("svc-1") is True
        meta = f"d2:s:{{{sid}}}:m"
        for _ in range(4):  # longer than the TTL in all; each look past a quarter of it refreshes
            time.sleep(0.2)
            assert mirror.joined_to() == "svc-1"
        assert redis_client(redis_url).exists(meta) == 1
        # The seal is gone (say Redis lost it) and a call was recorded on the request's own history.
        redis_client(redis_url).delete(meta)
        assert _own(b, sid).commit(("cdb.read",), ()) is None
        time.sleep(0.2)
        fault = _fault(mirror.joined_to)
        assert fault.reason == "session_invalid" and "lapsed" in fault.detail
    finally:
        a.close()
        b.close()


def test_an_unreachable_backend_refuses_the_join_and_degraded_mode_reads_the_mirror(sid: str) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    strict = RedisBackend(url, ttl=60, max_calls=100, max_labels=10, timeout=0.2, degraded=False)
    degraded = RedisBackend(url, ttl=60, max_calls=100, max_labels=10, timeout=0.2, degraded=True)
    try:
        assert _fault(lambda: _own(strict, sid).seal("svc-1")).reason == "state_unavailable"
        assert _fault(lambda: _own(degraded, sid).seal("svc-1")).reason == "state_unavailable"
        assert _fault(_own(strict, sid + "x").joined_to).reason == "state_unavailable"
        assert _own(degraded, sid + "y").joined_to() is None  # explicit opt-in: this replica's view
    finally:
        strict.close()
        degraded.close()
