"""The SQL both storage backends share: tables, queries and the compare-and-set writes.

Queries are written with ``?`` placeholders; a backend sets ``placeholder`` and the text is adapted
once. Connections are per thread (the server runs storage calls in a thread pool); transactions are
explicit ``BEGIN``/``COMMIT`` so the compare-and-set of a publish is atomic on both backends.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from .storage import (
    AppRecord,
    DeviceKeyRecord,
    DraftRecord,
    EventRecord,
    SigningKeyRecord,
    TokenRecord,
    VersionRecord,
)

__all__ = ["SCHEMA_VERSION", "SqlStorage"]

SCHEMA_VERSION = "1"

_DDL = (
    "CREATE TABLE IF NOT EXISTS d2_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS d2_apps (id {serial}, name TEXT NOT NULL UNIQUE,"
    " created_at BIGINT NOT NULL, head_version BIGINT NOT NULL DEFAULT 0)",
    "CREATE TABLE IF NOT EXISTS d2_tokens (id TEXT PRIMARY KEY, kind TEXT NOT NULL, scopes TEXT NOT NULL,"
    " token_hash TEXT NOT NULL UNIQUE, app_id BIGINT REFERENCES d2_apps(id), created_at BIGINT NOT NULL,"
    " revoked_at BIGINT)",
    "CREATE TABLE IF NOT EXISTS d2_signing_keys (kid TEXT PRIMARY KEY, private_pem TEXT NOT NULL,"
    " public_jwk TEXT NOT NULL, created_at BIGINT NOT NULL, active INTEGER NOT NULL, retired_at BIGINT,"
    " visible_until BIGINT)",
    "CREATE TABLE IF NOT EXISTS d2_versions (app_id BIGINT NOT NULL REFERENCES d2_apps(id),"
    " version BIGINT NOT NULL, kind TEXT NOT NULL, policy_text TEXT, policy_sha256 TEXT,"
    " policy_format TEXT NOT NULL, created_at BIGINT NOT NULL, created_by TEXT, device_kid TEXT,"
    " token TEXT NOT NULL, etag TEXT NOT NULL, kid TEXT NOT NULL, expires_at BIGINT NOT NULL,"
    " PRIMARY KEY (app_id, version))",
    "CREATE TABLE IF NOT EXISTS d2_drafts (app_id BIGINT PRIMARY KEY REFERENCES d2_apps(id),"
    " policy_text TEXT NOT NULL, policy_format TEXT NOT NULL, updated_at BIGINT NOT NULL, updated_by TEXT)",
    "CREATE TABLE IF NOT EXISTS d2_device_keys (kid TEXT PRIMARY KEY, public_key TEXT NOT NULL,"
    " token_id TEXT NOT NULL, created_at BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS d2_events (id {serial}, app_id BIGINT NOT NULL, token_id TEXT NOT NULL,"
    " received_at BIGINT NOT NULL, event_type TEXT NOT NULL, payload TEXT NOT NULL, occurred_at TEXT)",
)

_VERSION_COLUMNS = (
    "app_id, version, kind, policy_text, policy_sha256, policy_format, created_at, created_by,"
    " device_kid, token, etag, kid, expires_at"
)
_KEY_COLUMNS = "kid, private_pem, public_jwk, created_at, active, retired_at, visible_until"
_TOKEN_COLUMNS = "id, kind, scopes, token_hash, app_id, created_at, revoked_at"


class SqlStorage:
    """Storage over a DB-API connection per thread; subclasses supply ``_connect`` and ``serial``."""

    placeholder = "?"
    serial = "INTEGER PRIMARY KEY AUTOINCREMENT"
    begin = "BEGIN"

    def __init__(self) -> None:
        self._local = threading.local()
        self._all: list[Any] = []
        self._all_lock = threading.Lock()

    # -- plumbing --------------------------------------------------------------------------------------
    def _connect(self) -> Any:
        raise NotImplementedError

    def _conn(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
            with self._all_lock:
                self._all.append(conn)
        return conn

    def _sql(self, text: str) -> str:
        return text if self.placeholder == "?" else text.replace("?", self.placeholder)

    def _rows(self, text: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        cur = self._conn().cursor()
        try:
            cur.execute(self._sql(text), tuple(params))
            return [tuple(r) for r in cur.fetchall()]
        finally:
            cur.close()

    @contextmanager
    def _tx(self) -> Iterator[Any]:
        cur = self._conn().cursor()
        cur.execute(self.begin)
        try:
            yield cur
        except BaseException:
            cur.execute("ROLLBACK")
            cur.close()
            raise
        cur.execute("COMMIT")
        cur.close()

    def _exec(self, cur: Any, text: str, params: Sequence[Any] = ()) -> int:
        cur.execute(self._sql(text), tuple(params))
        return int(cur.rowcount)

    def _lock_schema(self, cur: Any) -> None:
        """Serialise concurrent ``init`` calls (PostgreSQL takes an advisory lock)."""

    def init(self) -> None:
        with self._tx() as cur:
            self._lock_schema(cur)
            for statement in _DDL:
                cur.execute(statement.format(serial=self.serial))
            self._exec(cur, "DELETE FROM d2_meta WHERE key = 'schema_version'")
            self._exec(
                cur, "INSERT INTO d2_meta (key, value) VALUES ('schema_version', ?)", (SCHEMA_VERSION,)
            )

    def close(self) -> None:
        with self._all_lock:
            conns, self._all = self._all, []
        for conn in conns:
            try:
                conn.close()
            except Exception:  # closing is best effort
                pass
        self._local = threading.local()

    # -- apps ------------------------------------------------------------------------------------------
    def create_app(self, name: str, now: int) -> AppRecord:
        with self._tx() as cur:
            self._exec(
                cur, "INSERT INTO d2_apps (name, created_at, head_version) VALUES (?, ?, 0)", (name, now)
            )
        found = self.get_app(name)
        assert found is not None
        return found

    def get_app(self, name: str) -> AppRecord | None:
        rows = self._rows("SELECT id, name, created_at, head_version FROM d2_apps WHERE name = ?", (name,))
        return AppRecord(*rows[0]) if rows else None

    def get_app_by_id(self, app_id: int) -> AppRecord | None:
        rows = self._rows("SELECT id, name, created_at, head_version FROM d2_apps WHERE id = ?", (app_id,))
        return AppRecord(*rows[0]) if rows else None

    def list_apps(self) -> list[AppRecord]:
        return [
            AppRecord(*r)
            for r in self._rows("SELECT id, name, created_at, head_version FROM d2_apps ORDER BY name")
        ]

    # -- tokens ----------------------------------------------------------------------------------------
    def add_token(self, record: TokenRecord) -> None:
        with self._tx() as cur:
            self._exec(
                cur,
                f"INSERT INTO d2_tokens ({_TOKEN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    record.id,
                    record.kind,
                    " ".join(sorted(record.scopes)),
                    record.token_hash,
                    record.app_id,
                    record.created_at,
                    record.revoked_at,
                ),
            )

    def find_token(self, token_hash: str) -> TokenRecord | None:
        rows = self._rows(f"SELECT {_TOKEN_COLUMNS} FROM d2_tokens WHERE token_hash = ?", (token_hash,))
        if not rows:
            return None
        tid, kind, scopes, digest, app_id, created, revoked = rows[0]
        return TokenRecord(tid, kind, frozenset(scopes.split()), digest, app_id, created, revoked)

    def revoke_token(self, token_id: str, now: int) -> bool:
        with self._tx() as cur:
            n = self._exec(
                cur,
                "UPDATE d2_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                (now, token_id),
            )
        return n == 1

    # -- signing keys ----------------------------------------------------------------------------------
    def add_signing_key(self, record: SigningKeyRecord, *, retire_visible_until: int, now: int) -> None:
        with self._tx() as cur:
            self._exec(
                cur,
                "UPDATE d2_signing_keys SET active = 0, retired_at = ?, visible_until = ? WHERE active = 1",
                (now, retire_visible_until),
            )
            self._exec(
                cur,
                f"INSERT INTO d2_signing_keys ({_KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    record.kid,
                    record.private_pem.decode("ascii"),
                    record.public_jwk,
                    record.created_at,
                    1,
                    None,
                    None,
                ),
            )

    def signing_keys(self) -> list[SigningKeyRecord]:
        rows = self._rows(f"SELECT {_KEY_COLUMNS} FROM d2_signing_keys ORDER BY created_at DESC, kid")
        return [
            SigningKeyRecord(kid, pem.encode("ascii"), jwk, created, bool(active), retired, visible)
            for kid, pem, jwk, created, active, retired, visible in rows
        ]

    # -- drafts and versions ---------------------------------------------------------------------------
    def put_draft(self, record: DraftRecord) -> None:
        with self._tx() as cur:
            self._exec(cur, "DELETE FROM d2_drafts WHERE app_id = ?", (record.app_id,))
            self._exec(
                cur,
                "INSERT INTO d2_drafts (app_id, policy_text, policy_format, updated_at, updated_by) "
                "VALUES (?, ?, ?, ?, ?)",
                (
                    record.app_id,
                    record.policy_text,
                    record.policy_format,
                    record.updated_at,
                    record.updated_by,
                ),
            )

    def get_draft(self, app_id: int) -> DraftRecord | None:
        rows = self._rows(
            "SELECT app_id, policy_text, policy_format, updated_at, updated_by FROM d2_drafts "
            "WHERE app_id = ?",
            (app_id,),
        )
        return DraftRecord(*rows[0]) if rows else None

    def head(self, app_id: int) -> VersionRecord | None:
        rows = self._rows(
            f"SELECT {', '.join('v.' + c.strip() for c in _VERSION_COLUMNS.split(','))} FROM d2_versions v "
            "JOIN d2_apps a ON a.id = v.app_id AND a.head_version = v.version WHERE a.id = ?",
            (app_id,),
        )
        return VersionRecord(*rows[0]) if rows else None

    def get_version(self, app_id: int, version: int) -> VersionRecord | None:
        rows = self._rows(
            f"SELECT {_VERSION_COLUMNS} FROM d2_versions WHERE app_id = ? AND version = ?", (app_id, version)
        )
        return VersionRecord(*rows[0]) if rows else None

    def append_version(self, record: VersionRecord, *, expected_head: int) -> bool:
        """Make ``record`` the head only while the head is ``expected_head``: one winner, no lost update."""
        with self._tx() as cur:
            moved = self._exec(
                cur,
                "UPDATE d2_apps SET head_version = ? WHERE id = ? AND head_version = ?",
                (record.version, record.app_id, expected_head),
            )
            if moved != 1:
                return False
            self._exec(
                cur,
                f"INSERT INTO d2_versions ({_VERSION_COLUMNS}) VALUES ({', '.join('?' * 13)})",
                _version_row(record),
            )
        return True

    def resign(self, app_id: int, version: int, old_etag: str, new: VersionRecord) -> bool:
        """Swap in a re-signed bundle of the same version unless another replica already did."""
        with self._tx() as cur:
            n = self._exec(
                cur,
                "UPDATE d2_versions SET token = ?, etag = ?, kid = ?, expires_at = ? "
                "WHERE app_id = ? AND version = ? AND etag = ?",
                (new.token, new.etag, new.kid, new.expires_at, app_id, version, old_etag),
            )
        return n == 1

    # -- device keys and events ------------------------------------------------------------------------
    def get_device_key(self, kid: str) -> DeviceKeyRecord | None:
        rows = self._rows(
            "SELECT kid, public_key, token_id, created_at FROM d2_device_keys WHERE kid = ?", (kid,)
        )
        return DeviceKeyRecord(*rows[0]) if rows else None

    def add_device_key(self, record: DeviceKeyRecord) -> bool:
        with self._tx() as cur:
            cur.execute(self._sql("SELECT kid FROM d2_device_keys WHERE kid = ?"), (record.kid,))
            if cur.fetchall():
                return False
            self._exec(
                cur,
                "INSERT INTO d2_device_keys (kid, public_key, token_id, created_at) VALUES (?, ?, ?, ?)",
                (record.kid, record.public_key, record.token_id, record.created_at),
            )
        return True

    def register_device_key(self, record: DeviceKeyRecord) -> None:
        """Insert ``record`` or hand an existing key of the same kid to ``record.token_id`` (admin)."""
        with self._tx() as cur:
            n = self._exec(
                cur,
                "UPDATE d2_device_keys SET token_id = ?, public_key = ? WHERE kid = ?",
                (record.token_id, record.public_key, record.kid),
            )
            if n == 0:
                self._exec(
                    cur,
                    "INSERT INTO d2_device_keys (kid, public_key, token_id, created_at) VALUES (?, ?, ?, ?)",
                    (record.kid, record.public_key, record.token_id, record.created_at),
                )

    def add_events(self, app_id: int, token_id: str, events: list[EventRecord], now: int) -> int:
        with self._tx() as cur:
            for e in events:
                self._exec(
                    cur,
                    "INSERT INTO d2_events (app_id, token_id, received_at, event_type, payload, occurred_at) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (app_id, token_id, now, e.event_type, e.payload, e.occurred_at),
                )
        return len(events)

    def count_events(self, app_id: int) -> int:
        return int(self._rows("SELECT COUNT(*) FROM d2_events WHERE app_id = ?", (app_id,))[0][0])


def _version_row(r: VersionRecord) -> tuple[Any, ...]:
    return (
        r.app_id,
        r.version,
        r.kind,
        r.policy_text,
        r.policy_sha256,
        r.policy_format,
        r.created_at,
        r.created_by,
        r.device_kid,
        r.token,
        r.etag,
        r.kid,
        r.expires_at,
    )
