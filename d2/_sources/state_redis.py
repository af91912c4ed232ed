"""Session state on Redis: one Lua script per decision, so appending is a compare-and-set.

Each session is three keys sharing one hash tag (so a Redis Cluster keeps them on one shard):
``<prefix>{<id>}:l`` the retained entries (a list, trimmed to ``max_calls``), ``:m`` a hash with the
version (entries ever appended), the owner digest and, for a session sealed into another by a join,
that session's id (``j``); ``:f`` every data-flow label (never trimmed: labels only accumulate).
Every round trip refreshes the idle TTL of all three.

Faults fail closed: a refused connection, a reply slower than the deadline, or a reply of the wrong
shape raises :class:`SessionFault` (``state_unavailable``). After a fault the backend stays "down" for
a short interval and refuses at once instead of waiting on the network again; the next call after it
tries again, so recovery needs no action.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Sequence
from typing import Any

from d2._core.session import Delta, SessionFault

__all__ = ["RedisBackend", "RedisSession", "owner_digest"]

STATE_UNAVAILABLE = "state_unavailable"
SESSION_INVALID = "session_invalid"

# KEYS: list, meta, facts. ARGV: expected version, owner, ttl ms, max entries, max labels, n entries,
# entries..., labels... Replies: {1, v} appended (or current); {0, v, reset, entries, labels} the mirror
# is stale (with every label, so replicas on different policy versions still share the labels each
# call added); {-1} the session has another owner; {-2} the label bound would be passed; {-3, id} the
# session was sealed into session ``id`` (its calls count there). "f" entries (labels set by code)
# join the label set too, so a trimmed history never loses one.
_SCRIPT = """
local meta = redis.call('HMGET', KEYS[2], 'v', 'o', 'j')
local v = tonumber(meta[1] or '0')
local owner = meta[2]
if owner and owner ~= ARGV[2] then return {-1} end
if meta[3] then return {-3, meta[3]} end
local ttl = tonumber(ARGV[3])
local expected = tonumber(ARGV[1])
if expected ~= v then
  local n = redis.call('LLEN', KEYS[1])
  local first = v - n
  for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], ttl) end
  if expected < first or expected > v then
    return {0, v, 1, redis.call('LRANGE', KEYS[1], 0, -1), redis.call('SMEMBERS', KEYS[3])}
  end
  return {0, v, 0, redis.call('LRANGE', KEYS[1], expected - first, -1), redis.call('SMEMBERS', KEYS[3])}
end
local count = tonumber(ARGV[6])
local labels = {}
for i = 7, 6 + count do
  if string.sub(ARGV[i], 1, 1) == 'f' then labels[#labels + 1] = string.sub(ARGV[i], 2) end
end
for i = 7 + count, #ARGV do labels[#labels + 1] = ARGV[i] end
if #labels > 0 and redis.call('SCARD', KEYS[3]) + #labels > tonumber(ARGV[5]) then
  local room = 0
  for _, label in ipairs(labels) do
    if redis.call('SISMEMBER', KEYS[3], label) == 0 then room = room + 1 end
  end
  if redis.call('SCARD', KEYS[3]) + room > tonumber(ARGV[5]) then return {-2} end
end
if count > 0 then
  redis.call('RPUSH', KEYS[1], unpack(ARGV, 7, 6 + count))
  redis.call('LTRIM', KEYS[1], -tonumber(ARGV[4]), -1)
  v = v + count
  redis.call('HSET', KEYS[2], 'v', v, 'o', ARGV[2])
end
if #labels > 0 then redis.call('SADD', KEYS[3], unpack(labels)) end
for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], ttl) end
return {1, v}
"""

# Seal a session with no history into another (a join). KEYS as above; ARGV: owner, target, ttl ms.
# Replies: {1} sealed into target (now or before; the TTL is refreshed); {0} the session has history
# (calls or labels), so joining would leave it behind; {-1} another owner; {-3, id} sealed into ``id``.
# Checking and sealing in one script is what keeps a replica from recording a first call beside it.
_SEAL = """
local meta = redis.call('HMGET', KEYS[2], 'v', 'o', 'j')
if meta[2] and meta[2] ~= ARGV[1] then return {-1} end
if meta[3] then
  if meta[3] ~= ARGV[2] then return {-3, meta[3]} end
elseif tonumber(meta[1] or '0') ~= 0 or redis.call('SCARD', KEYS[3]) > 0 then
  return {0}
else
  redis.call('HSET', KEYS[2], 'o', ARGV[1], 'j', ARGV[2])
end
redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[3]))
return {1}
"""

# Where a session was sealed into, if anywhere: {owner, target} (either may be nil).
_PROBE = """
return redis.call('HMGET', KEYS[2], 'o', 'j')
"""


class _Script:
    """A Lua script and its digest (EVALSHA first; EVAL once after Redis flushed its script cache)."""

    __slots__ = ("sha", "source")

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()


RECORD, SEAL, PROBE = _Script(_SCRIPT), _Script(_SEAL), _Script(_PROBE)


def owner_digest(user_id: str | None) -> str:
    """Name a session's owner without storing the raw user id in Redis."""
    return hashlib.sha256(b"d2-session-owner\x00" + (user_id or "").encode("utf-8")).hexdigest()[:32]


class RedisBackend:
    """A connection pool, the script, the limits, and the fail-fast window after a fault."""

    def __init__(
        self,
        url: str,
        *,
        ttl: float,
        max_calls: int,
        max_labels: int,
        timeout: float,
        degraded: bool,
        prefix: str = "d2:s:",
        retry_after: float = 0.25,
    ) -> None:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        self.url = url
        self.ttl_ms = max(1, int(ttl * 1000))
        self.max_calls = max_calls
        self.max_labels = max_labels
        self.degraded = degraded
        self.prefix = prefix
        self.retry_after = retry_after
        self.client: Any = redis.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
            health_check_interval=0,
        )
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        # Only a backend that cannot be reached trips the fail-fast window; an error reply (e.g.
        # WRONGTYPE on one corrupted session) refuses that call alone.
        self._unreachable: tuple[type[BaseException], ...] = (
            redis.ConnectionError,
            redis.TimeoutError,
            OSError,
        )
        self._noscript: type[BaseException] = redis.exceptions.NoScriptError
        self._down_until = 0.0
        self._down_reason = ""
        self._lock = threading.Lock()

    def session(self, session_id: str, owner: str) -> RedisSession:
        """A handle on one session for this process; its version starts at 0 (the first call syncs)."""
        tag = f"{self.prefix}{{{session_id}}}"
        return RedisSession(self, session_id, owner, (f"{tag}:l", f"{tag}:m", f"{tag}:f"))

    def run(self, keys: tuple[str, str, str], args: list[Any], script: _Script = RECORD) -> Any:
        """One round trip: EVALSHA (EVAL once after a Redis restart flushed the script cache)."""
        now = time.monotonic()
        if now < self._down_until:
            raise SessionFault(STATE_UNAVAILABLE, f"session state backend unavailable: {self._down_reason}")
        try:
            try:
                return self.client.evalsha(script.sha, 3, *keys, *args)
            except self._noscript:
                return self.client.eval(script.source, 3, *keys, *args)
        except self._errors as exc:
            if isinstance(exc, self._unreachable):
                with self._lock:
                    self._down_until = time.monotonic() + self.retry_after
                    self._down_reason = f"{type(exc).__name__}: {exc}"[:200]
            raise SessionFault(
                STATE_UNAVAILABLE,
                f"session state backend {_redact(self.url)} failed ({type(exc).__name__}); "
                "the call is refused until it answers again",
            ) from exc

    def close(self) -> None:
        self.client.close()


def _redact(url: str) -> str:
    """Drop a password from a URL before it reaches a message."""
    if "@" not in url:
        return url
    scheme, _, rest = url.partition("://")
    return f"{scheme}://***@{rest.rpartition('@')[2]}"


class RedisSession:
    """One session as this process sees it: the mirror's version and, in degraded mode, unsent entries.

    ``joined`` is the session this one was sealed into by a join, once this process knows it.
    """

    __slots__ = (
        "backend",
        "joined",
        "keys",
        "owner",
        "pending",
        "sealed_at",
        "session_id",
        "version",
    )

    def __init__(
        self, backend: RedisBackend, session_id: str, owner: str, keys: tuple[str, str, str]
    ) -> None:
        self.backend = backend
        self.session_id = session_id
        self.owner = owner
        self.keys = keys
        self.version = 0
        self.pending: list[str] = []
        self.joined: str | None = None
        self.sealed_at = 0.0

    @property
    def degraded(self) -> bool:
        return self.backend.degraded

    def local(self, entries: Sequence[str]) -> None:
        if len(self.pending) < self.backend.max_calls:
            self.pending.extend(entries)

    def commit(self, entries: Sequence[str], labels: Sequence[str]) -> Delta | None:
        backend = self.backend
        send = [*self.pending, *entries] if self.pending else list(entries)
        reply = backend.run(
            self.keys,
            [
                self.version,
                self.owner,
                backend.ttl_ms,
                backend.max_calls,
                backend.max_labels,
                len(send),
                *send,
                *labels,
            ],
        )
        code, version, delta = _parse(reply)
        if code == 1:
            self.version = version
            self.pending.clear()
            return None
        if code == -1:
            raise SessionFault(SESSION_INVALID, f"session {self.session_id!r} belongs to another user")
        if code == -3:
            self.joined, self.sealed_at = _text(reply[1]), time.monotonic()
            raise SessionFault(
                SESSION_INVALID,
                f"session {self.session_id!r} was joined into another session; its calls count there "
                "(send the session reference with every call)",
            )
        if code == -2:
            raise SessionFault(
                STATE_UNAVAILABLE,
                f"session {self.session_id!r} reached {backend.max_labels} data-flow labels; "
                "raise max_labels in configure_session_state()",
            )
        assert delta is not None
        if version < self.version:
            # Redis lost state this mirror still holds (restart, eviction, failover): the engine
            # re-sends the whole mirror, appended from version 0 if nobody re-created it first.
            self.version = 0
            return Delta((), lost=True)
        if self.version == 0 and self.pending:
            # Another process re-created the session first: adopt its history (labels stay local).
            self.pending.clear()
            delta = Delta(delta.entries, reset=True, facts=delta.facts)
        self.version = version
        return delta

    def reseed(self, entries: Sequence[str]) -> None:
        self.pending = list(entries)

    def seal(self, target: str) -> bool:
        backend = self.backend
        reply = backend.run(self.keys, [self.owner, target, backend.ttl_ms], SEAL)
        code = _code(reply, (1, 0, -1, -3))
        if code == 0:
            return False
        if code == -1:
            raise SessionFault(SESSION_INVALID, f"session {self.session_id!r} belongs to another user")
        now = time.monotonic()
        if code == -3:
            self.joined, self.sealed_at = _reply_text(reply, 1), now
            raise SessionFault(SESSION_INVALID, f"session {self.session_id!r} already joined another session")
        self.joined, self.sealed_at = target, now
        return True

    def joined_to(self) -> str | None:
        """Where this session's calls go (and, while they go elsewhere, refresh the seal's TTL).

        Redis is asked while this mirror has seen no history (version 0): only then can another
        replica still seal it. So a replica that never served this request learns of a join made
        elsewhere before its first call, and one round trip per call is the most it costs, until
        the request's first recorded call. The seal's idle TTL is refreshed every quarter TTL while
        it is in use: calls that go to the joined session never touch this one.
        """
        try:
            if self.joined is None:
                if self.version == 0:
                    self._probe()
            elif time.monotonic() - self.sealed_at > self.backend.ttl_ms / 4000:
                self._refresh(self.joined)
        except SessionFault as fault:
            if not (self.backend.degraded and fault.reason == STATE_UNAVAILABLE):
                raise
        return self.joined

    def _probe(self) -> None:
        reply = self.backend.run(self.keys, [], PROBE)
        if not isinstance(reply, list) or len(reply) != 2:
            raise SessionFault(STATE_UNAVAILABLE, "session state backend returned an unexpected reply")
        if reply[0] is not None and reply[1] is not None and _reply_text(reply, 0) == self.owner:
            self.joined, self.sealed_at = _reply_text(reply, 1), time.monotonic()

    def _refresh(self, target: str) -> None:
        if not self.seal(target):
            raise SessionFault(
                SESSION_INVALID,
                f"the join of session {self.session_id!r} lapsed and it has calls of its own; refused",
            )


def _code(reply: Any, allowed: tuple[int, ...]) -> int:
    """The status code of a seal reply; any other shape is a backend fault."""
    if isinstance(reply, list) and reply and isinstance(reply[0], int) and reply[0] in allowed:
        if reply[0] != -3 or len(reply) == 2:
            return int(reply[0])
    raise SessionFault(STATE_UNAVAILABLE, "session state backend returned an unexpected reply; refused")


def _reply_text(reply: list[Any], index: int) -> str:
    try:
        return _text(reply[index])
    except (TypeError, UnicodeDecodeError):
        raise SessionFault(
            STATE_UNAVAILABLE, "session state backend returned an unexpected reply; refused"
        ) from None


def _parse(reply: Any) -> tuple[int, int, Delta | None]:
    """Check the reply's shape; anything unexpected is a backend fault, never a guess."""
    try:
        if not isinstance(reply, list) or not reply or not isinstance(reply[0], int):
            raise ValueError("not a list")
        code = reply[0]
        if code in (-1, -2):
            return code, 0, None
        if code == -3:
            if len(reply) != 2:
                raise ValueError("bad seal")
            _text(reply[1])
            return code, 0, None
        version = reply[1]
        if not isinstance(version, int) or version < 0:
            raise ValueError("bad version")
        if code == 1 and len(reply) == 2:
            return 1, version, None
        if code != 0 or len(reply) != 5 or reply[2] not in (0, 1):
            raise ValueError("bad code")
        entries = tuple(_text(e) for e in reply[3])
        facts = tuple(_text(f) for f in reply[4])
        if any(not e or e[0] not in "cf" for e in entries):
            raise ValueError("bad entry")
        return 0, version, Delta(entries, reset=bool(reply[2]), facts=facts)
    except (ValueError, TypeError, IndexError, UnicodeDecodeError) as exc:
        raise SessionFault(
            STATE_UNAVAILABLE, f"session state backend returned an unexpected reply ({exc}); refused"
        ) from None


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8")
    raise TypeError("entry is not a string")
