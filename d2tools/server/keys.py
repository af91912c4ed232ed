"""The server's signing keys: one active key signs, retired keys stay in the JWKS until their bundles expire.

Private keys live in the database (PEM, encrypted with ``D2_SERVER_KEY_PASSPHRASE`` when set) so
every replica signs with the same key; a rotation made by any replica or by ``d2 serve rotate-key``
is seen by the others within the key cache's lifetime.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from d2._toolkit import (
    generate_private_key,
    jwks_document,
    key_id,
    load_private_key,
    private_key_pem,
    public_jwk,
)

from .storage import SigningKeyRecord, Storage

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

__all__ = ["KeyRing", "create_signing_key", "passphrase"]

# Keys outlive the last bundle they signed by this margin (clock skew between replicas and clients).
_MARGIN = 300


def passphrase() -> bytes | None:
    """The passphrase protecting private keys at rest (``D2_SERVER_KEY_PASSPHRASE``), if any."""
    raw = os.environ.get("D2_SERVER_KEY_PASSPHRASE")
    return raw.encode("utf-8") if raw else None


def create_signing_key(storage: Storage, *, bundle_ttl: int, now: int | None = None) -> str:
    """Make a new active key; the previous one stays published until bundles it signed have expired."""
    current = int(now if now is not None else time.time())
    key = generate_private_key()
    kid = key_id(key.public_key())
    record = SigningKeyRecord(
        kid=kid,
        private_pem=private_key_pem(key, passphrase()),
        public_jwk=json.dumps(public_jwk(key.public_key(), kid), sort_keys=True),
        created_at=current,
        active=True,
    )
    storage.add_signing_key(record, retire_visible_until=current + bundle_ttl + _MARGIN, now=current)
    return kid


@dataclass(frozen=True, slots=True)
class _Snapshot:
    kid: str
    key: Ed25519PrivateKey
    jwks: dict[str, Any]
    taken: float


class KeyRing:
    """The active signing key and the published JWKS, re-read from storage at most every ``ttl`` seconds."""

    def __init__(self, storage: Storage, *, ttl: float = 1.0) -> None:
        self.storage = storage
        self.ttl = ttl
        self._snapshot: _Snapshot | None = None
        self._lock = threading.Lock()
        self._private: dict[str, Ed25519PrivateKey] = {}  # decrypted once per process

    def _key(self, record: SigningKeyRecord) -> Ed25519PrivateKey:
        key = self._private.get(record.kid)
        if key is None:
            key = self._private[record.kid] = load_private_key(record.private_pem, passphrase())
        return key

    def _load(self) -> _Snapshot:
        now = int(time.time())
        records = self.storage.signing_keys()
        active = [r for r in records if r.active]
        if not active:
            raise RuntimeError("no signing key: run `d2 serve init` first")
        visible = [r for r in records if r.active or (r.visible_until or 0) > now]
        # Every published key endorses the set, so SDKs that trust the old key accept the new one.
        jwks = jwks_document(
            [json.loads(r.public_jwk) for r in visible], signers=[self._key(r) for r in visible]
        )
        return _Snapshot(active[0].kid, self._key(active[0]), jwks, time.monotonic())

    def snapshot(self) -> _Snapshot:
        snap = self._snapshot
        if snap is None or time.monotonic() - snap.taken >= self.ttl:
            with self._lock:
                snap = self._snapshot
                if snap is None or time.monotonic() - snap.taken >= self.ttl:
                    snap = self._snapshot = self._load()
        return snap

    def active(self) -> tuple[str, Ed25519PrivateKey]:
        """Return (kid, private key) of the key new bundles are signed with."""
        snap = self.snapshot()
        return snap.kid, snap.key

    def jwks(self) -> dict[str, Any]:
        """Return the JWKS document: the active key and every retired key still within its visibility."""
        return self.snapshot().jwks

    def invalidate(self) -> None:
        self._snapshot = None
