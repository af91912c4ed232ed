"""Bearer tokens: runtime tokens read bundles, developer tokens also write policies; stored hashed.

A token is ``d2_<kind>_<43 random base64url chars>`` (256 bits), so a plain SHA-256 is a safe and
fast lookup key: the database never holds a usable token. Scopes follow the docs: runtime tokens
are ``policy:read events:write``; developer tokens add ``policy:write``.
"""

from __future__ import annotations

import hashlib
import secrets
import time

from .storage import Storage, TokenRecord

__all__ = ["KINDS", "SCOPES", "hash_token", "issue_token"]

KINDS = {"runtime": "rt", "developer": "dev"}
SCOPES = {
    "runtime": frozenset({"policy:read", "events:write"}),
    "developer": frozenset({"policy:read", "policy:write", "events:write"}),
}


def hash_token(token: str) -> str:
    """Return the stored form of a token: the hex SHA-256 of its text."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(storage: Storage, kind: str, app_id: int | None) -> tuple[str, TokenRecord]:
    """Create a token of ``kind`` for one app (None: every app, developer tokens only); return it once."""
    if kind not in KINDS:
        raise ValueError(f"token kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if kind == "runtime" and app_id is None:
        raise ValueError("a runtime token belongs to exactly one app")
    token = f"d2_{KINDS[kind]}_{secrets.token_urlsafe(32)}"
    record = TokenRecord(
        id=secrets.token_hex(6),
        kind=kind,
        scopes=SCOPES[kind],
        token_hash=hash_token(token),
        app_id=app_id,
        created_at=int(time.time()),
    )
    storage.add_token(record)
    return token, record
