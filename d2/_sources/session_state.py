"""Which backend holds session state, and the process-local table of named sessions.

In-process is the default and costs nothing: a request's log is a plain object that dies with the
request. A *named* session (``d2.session("agent-42")``, or a request handed on to another service)
lives in a bounded table here, idle sessions dropped after ``ttl``. With ``D2_STATE_URL=redis://...``
(or ``configure_session_state(url=...)``) a named session's log becomes a mirror of the Redis state,
so every replica and service that joins it decides on one history.
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from d2._core.session import Delta, SessionFault
from d2._core.state import RequestLog, UserContext
from d2._sources.session_keys import ReferenceKeys, load_reference_keys
from d2.exceptions import ConfigurationError

if TYPE_CHECKING:
    from d2._sources.state_redis import RedisBackend

__all__ = [
    "StateSettings",
    "configure_session_state",
    "joined_target",
    "refusing_log",
    "reset_session_state",
    "seal_log",
    "session_log",
    "settings",
    "share_request",
]

MAX_SESSION_ID = 200


@dataclass(frozen=True, slots=True)
class StateSettings:
    """Where session state lives and its bounds; see docs/deployment.md."""

    url: str | None = None
    ttl: float = 3600.0
    max_calls: int = 10_000
    max_labels: int = 1024
    timeout: float = 0.25
    degraded: bool = False
    max_local_sessions: int = 10_000
    signing_key: bytes | None = None
    reference_ttl: float = 300.0
    keys: ReferenceKeys = field(default_factory=ReferenceKeys)


class _Refusing:
    """A session that could not be joined: every guarded call in it is refused with ``reason``."""

    degraded = False

    def __init__(self, session_id: str, reason: str, detail: str) -> None:
        self.session_id = session_id
        self.reason = reason
        self.detail = detail

    def commit(self, entries: Sequence[str], labels: Sequence[str]) -> Delta | None:
        raise SessionFault(self.reason, self.detail)

    def local(self, entries: Sequence[str]) -> None:
        return None

    def reseed(self, entries: Sequence[str]) -> None:
        return None

    def seal(self, target: str) -> bool:
        raise SessionFault(self.reason, self.detail)

    def joined_to(self) -> str | None:
        return None


class _Joined(_Refusing):
    """An in-process session sealed into another by a join: its calls count there, never here."""

    def __init__(self, session_id: str, target: str) -> None:
        super().__init__(
            session_id,
            "session_invalid",
            f"session {session_id!r} was joined into another session; its calls count there",
        )
        self.target = target

    def seal(self, target: str) -> bool:
        if target != self.target:
            raise SessionFault(
                "session_invalid", f"session {self.session_id!r} already joined another session"
            )
        return True

    def joined_to(self) -> str | None:
        return self.target


class _Registry:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.settings: StateSettings | None = None
        self.backend: RedisBackend | None = None
        self.local: OrderedDict[tuple[str, str | None], tuple[RequestLog, float, str | None]] = OrderedDict()


_REG = _Registry()


def configure_session_state(
    url: str | None = None,
    *,
    ttl: float = 3600.0,
    max_calls: int = 10_000,
    max_labels: int = 1024,
    timeout: float = 0.25,
    degraded: bool | None = None,
    max_local_sessions: int = 10_000,
    signing_key: str | bytes | None = None,
    verify_jwks: Mapping[str, Any] | str | os.PathLike[str] | None = None,
    reference_ttl: float = 300.0,
) -> None:
    """Choose where session state lives (``url``: ``redis://...``; None reads ``D2_STATE_URL``).

    ``ttl``: idle seconds before a session is forgotten. ``max_calls``: calls retained per session.
    ``timeout``: the deadline of one backend round trip; past it the call is refused. ``degraded=True``
    (or ``D2_STATE_DEGRADED=local``) decides on this replica's view while the backend is down instead of
    refusing. ``signing_key`` (or ``D2_SESSION_KEY``: a shared secret, or an Ed25519 PEM key) signs the
    session references services pass on; ``verify_jwks`` (or ``D2_SESSION_JWKS``) lists the public
    keys whose Ed25519-signed references this service accepts.
    """
    if url is None:
        url = os.environ.get("D2_STATE_URL") or None
    if url is not None and url in ("memory", "memory://", ":memory:"):
        url = None
    if url is not None and not url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigurationError(
            f"session state URL {url!r} is not supported; use redis://host:port/db, rediss://... or "
            "unix:///path (D2_STATE_URL, or configure_session_state(url=...))"
        )
    for name, value in (("ttl", ttl), ("timeout", timeout), ("reference_ttl", reference_ttl)):
        if not value > 0:
            raise ConfigurationError(f"configure_session_state: {name} must be > 0 seconds, got {value!r}")
    for name, count in (
        ("max_calls", max_calls),
        ("max_labels", max_labels),
        ("max_local_sessions", max_local_sessions),
    ):
        if count < 1:
            raise ConfigurationError(f"configure_session_state: {name} must be >= 1, got {count!r}")
    if degraded is None:
        degraded = os.environ.get("D2_STATE_DEGRADED", "").lower() == "local"
    keys = load_reference_keys(signing_key, verify_jwks)
    new = StateSettings(
        url,
        ttl,
        max_calls,
        max_labels,
        timeout,
        degraded,
        max_local_sessions,
        keys.secret,
        reference_ttl,
        keys,
    )
    backend = None
    if url is not None:
        try:
            from d2._sources.state_redis import RedisBackend
        except ImportError as exc:  # pragma: no cover - depends on the installed extras
            raise ConfigurationError(
                "session state on Redis needs the redis client: pip install 'd2-guard[redis]'"
            ) from exc
        backend = RedisBackend(
            url, ttl=ttl, max_calls=max_calls, max_labels=max_labels, timeout=timeout, degraded=degraded
        )
    with _REG.lock:
        old = _REG.backend
        _REG.settings, _REG.backend = new, backend
        _REG.local.clear()
    if old is not None:
        old.close()


def settings() -> StateSettings:
    """The current settings, read from the environment on first use."""
    current = _REG.settings
    if current is None:
        configure_session_state()
        current = _REG.settings
        assert current is not None
    return current


def reset_session_state() -> None:
    """Forget the configuration and every named session of this process (tests, shutdown)."""
    with _REG.lock:
        old = _REG.backend
        _REG.settings, _REG.backend = None, None
        _REG.local.clear()
    if old is not None:
        old.close()


def check_session_id(session_id: object) -> str:
    """A session id is a short printable string; anything else is a caller bug, said clearly."""
    if (
        not isinstance(session_id, str)
        or not session_id
        or len(session_id) > MAX_SESSION_ID
        or not session_id.isprintable()
    ):
        raise ValueError(
            f"a session id must be a printable string of 1 to {MAX_SESSION_ID} characters, got {session_id!r}"
        )
    return session_id


def refusing_log(session_id: str, reason: str, detail: str) -> RequestLog:
    """A log whose every guarded call is refused (a session that could not be joined)."""
    log = RequestLog()
    log.shared = _Refusing(session_id, reason, detail)
    return log


def session_log(session_id: str, user: UserContext) -> RequestLog:
    """The log of session ``session_id`` for ``user``: shared with every replica when Redis is configured."""
    check_session_id(session_id)
    conf = settings()
    backend = _REG.backend
    owner = _owner(user, backend)
    now = time.monotonic()
    key = (session_id, owner if backend is not None else None)
    with _REG.lock:
        found = _REG.local.get(key)
        if found is not None and now - found[1] <= conf.ttl:
            log, _, holder = found
            if holder != owner:
                return refusing_log(
                    session_id, "session_invalid", f"session {session_id!r} belongs to another user"
                )
            _REG.local[key] = (log, now, holder)
            _REG.local.move_to_end(key)
            return log
        if not _make_room(conf, now, evict_live=backend is not None):
            return refusing_log(
                session_id,
                "state_unavailable",
                f"{conf.max_local_sessions} in-process sessions are active; a new one is refused rather "
                "than forgetting one (raise max_local_sessions, or keep sessions on Redis: D2_STATE_URL)",
            )
        log = RequestLog()
        log.request_id = session_id
        if backend is not None:
            log.shared = backend.session(session_id, owner)
        _REG.local[key] = (log, now, owner)
        return log


def seal_log(log: RequestLog, target: str) -> bool:
    """Join ``log``'s session, while it has no history, into session ``target``; False if it has some.

    Sealed, the session refuses its own calls and :func:`joined_target` names ``target`` to every
    caller — in this process, or (Redis) on every replica — so a request that joined another session
    cannot keep a second history beside it. Raises :class:`SessionFault` when the seal cannot be set.
    """
    with log.lock:
        if log.calls or log.history or log.facts:
            return False
        shared = log.shared
        if shared is None:
            log.shared = _Joined(log.request_id, target)
            return True
        return bool(shared.seal(target))


def joined_target(log: RequestLog) -> str | None:
    """The session ``log``'s session was sealed into by a join, or None (may ask the backend once)."""
    shared = log.shared
    if shared is None:
        return None
    with log.lock:
        target = shared.joined_to()
    return None if target is None else str(target)


def _make_room(conf: StateSettings, now: float, *, evict_live: bool) -> bool:
    """Drop idle sessions (least recently used first) until one more fits; caller holds the lock.

    In-process sessions that are still live are never evicted: forgetting one would erase a history
    an attacker could otherwise only escape by waiting out the TTL. Redis mirrors may go at any time
    (Redis keeps the truth; a dropped mirror is rebuilt on the next call).
    """
    local = _REG.local
    while len(local) >= conf.max_local_sessions:
        oldest = next(iter(local.values()))
        if not evict_live and now - oldest[1] <= conf.ttl:
            return False
        local.popitem(last=False)
    return True


def share_request(log: RequestLog, user: UserContext) -> str:
    """Make a request's own log joinable by other services; return the session id that names it.

    With Redis the history so far is written at once, so a service called next sees it. Raises
    :class:`SessionFault` when that write fails (the caller refuses to hand the session on).
    """
    shared = log.shared
    if shared is not None:
        return str(shared.session_id)
    conf = settings()
    backend = _REG.backend
    owner = _owner(user, backend)
    session_id = log.request_id
    with log.lock:
        if backend is not None:
            from d2._engine.shared import mirror_entries

            handle = backend.session(session_id, owner)
            handle.reseed(mirror_entries(log))
            if handle.commit((), ()) is not None:
                raise SessionFault("session_invalid", f"session {session_id!r} already exists in the backend")
            log.shared = handle
    with _REG.lock:
        if not _make_room(conf, time.monotonic(), evict_live=backend is not None):
            raise SessionFault(
                "state_unavailable", f"{conf.max_local_sessions} in-process sessions are active"
            )
        _REG.local[(session_id, owner if backend is not None else None)] = (log, time.monotonic(), owner)
    return session_id


def _owner(user: UserContext, backend: RedisBackend | None) -> str:
    if backend is None:
        return user.user_id or ""
    from d2._sources.state_redis import owner_digest

    return owner_digest(user.user_id)


def has_local_session(session_id: str, user: UserContext) -> bool:
    """True when this process holds in-process session ``session_id`` of ``user`` (not expired)."""
    conf = settings()
    with _REG.lock:
        found = _REG.local.get((session_id, None))
    return found is not None and found[2] == (user.user_id or "") and time.monotonic() - found[1] <= conf.ttl
