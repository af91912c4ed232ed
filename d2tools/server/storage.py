"""What the control plane stores, and the one interface every storage backend implements.

Records are frozen dataclasses; backends (:mod:`.sqlite`, :mod:`.postgres`) share their SQL through
:class:`d2tools.server._sql.SqlStorage` and differ only in connecting, placeholders and DDL. Every
write that must not lose an update is a compare-and-set inside one transaction, so several server
replicas sharing one PostgreSQL database need no shared memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = [
    "AppRecord",
    "DeviceKeyRecord",
    "DraftRecord",
    "EventRecord",
    "SigningKeyRecord",
    "Storage",
    "TokenRecord",
    "VersionRecord",
]


@dataclass(frozen=True, slots=True)
class AppRecord:
    """An application: its policies are published, versioned and served under this name."""

    id: int
    name: str
    created_at: int
    head_version: int


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """A bearer token, stored only as its SHA-256; ``app_id`` None means every app (developer tokens)."""

    id: str
    kind: str
    scopes: frozenset[str]
    token_hash: str
    app_id: int | None
    created_at: int
    revoked_at: int | None = None


@dataclass(frozen=True, slots=True)
class SigningKeyRecord:
    """A server signing key; retired keys stay published in the JWKS until ``visible_until``."""

    kid: str
    private_pem: bytes
    public_jwk: str
    created_at: int
    active: bool
    retired_at: int | None = None
    visible_until: int | None = None


@dataclass(frozen=True, slots=True)
class VersionRecord:
    """One published version (or revocation) of an app and the signed bundle currently serving it."""

    app_id: int
    version: int
    kind: str  # "publish" | "revoke"
    policy_text: str | None
    policy_sha256: str | None
    policy_format: str
    created_at: int
    created_by: str | None
    device_kid: str | None
    token: str
    etag: str
    kid: str
    expires_at: int


@dataclass(frozen=True, slots=True)
class DraftRecord:
    """The work-in-progress policy of an app (one per app)."""

    app_id: int
    policy_text: str
    policy_format: str
    updated_at: int
    updated_by: str | None


@dataclass(frozen=True, slots=True)
class DeviceKeyRecord:
    """A publisher's device key: ``token_id`` is the token that registered it on first use, or
    ``"admin"`` for a key an administrator registered out of band (the only kind ``--require-device-key``
    accepts)."""

    kid: str
    public_key: str
    token_id: str
    created_at: int


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One usage event received through ``/v1/events/ingest``."""

    event_type: str
    payload: str
    occurred_at: str | None


class Storage(Protocol):
    """The control plane's persistence; every method is synchronous and thread-safe."""

    def init(self) -> None: ...
    def close(self) -> None: ...
    def create_app(self, name: str, now: int) -> AppRecord: ...
    def get_app(self, name: str) -> AppRecord | None: ...
    def get_app_by_id(self, app_id: int) -> AppRecord | None: ...
    def list_apps(self) -> list[AppRecord]: ...
    def add_token(self, record: TokenRecord) -> None: ...
    def find_token(self, token_hash: str) -> TokenRecord | None: ...
    def revoke_token(self, token_id: str, now: int) -> bool: ...
    def add_signing_key(self, record: SigningKeyRecord, *, retire_visible_until: int, now: int) -> None: ...
    def signing_keys(self) -> list[SigningKeyRecord]: ...
    def put_draft(self, record: DraftRecord) -> None: ...
    def get_draft(self, app_id: int) -> DraftRecord | None: ...
    def head(self, app_id: int) -> VersionRecord | None: ...
    def get_version(self, app_id: int, version: int) -> VersionRecord | None: ...
    def append_version(self, record: VersionRecord, *, expected_head: int) -> bool: ...
    def resign(self, app_id: int, version: int, old_etag: str, new: VersionRecord) -> bool: ...
    def get_device_key(self, kid: str) -> DeviceKeyRecord | None: ...
    def add_device_key(self, record: DeviceKeyRecord) -> bool: ...
    def register_device_key(self, record: DeviceKeyRecord) -> None: ...
    def add_events(self, app_id: int, token_id: str, events: list[EventRecord], now: int) -> int: ...
    def count_events(self, app_id: int) -> int: ...
