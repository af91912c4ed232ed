"""Signed session references: how one service tells the next which session a request belongs to.

A reference is ``v1.<payload>.<mac>`` (base64url): the session id, a keyed digest of the user it was
issued for, and an expiry, authenticated with HMAC-SHA256 under a key the services share
(``D2_SESSION_KEY``). The receiving service accepts it only for the same user, before expiry, and
unmodified, so a reference copied into another user's request, replayed late, or edited joins nothing.
It carries no raw user id, roles or history: those stay in the state backend.

Services that should verify without holding a secret use ``v2``: the same payload plus the signing
key's ``kid``, signed with Ed25519 and checked against a JWKS (``D2_SESSION_JWKS``). Its user binding
is a digest salted with the session id, since the verifier has no secret to key it with.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "HEADER",
    "SessionClaims",
    "SessionReferenceError",
    "sign_reference",
    "sign_reference_ed25519",
    "verify_reference",
    "verify_reference_keys",
]

HEADER = "x-d2-session"
_VERSION = "v1"
_VERSION_KEYS = "v2"
MAX_REFERENCE = 1024
# A reference may be checked slightly after another host's clock says it expired.
CLOCK_SKEW = 5.0


class SessionReferenceError(ValueError):
    """A session reference is malformed, forged, expired, or issued for another user."""


@dataclass(frozen=True, slots=True)
class SessionClaims:
    """What a valid reference says: the session and when the reference stops being accepted."""

    session_id: str
    expires: float


def user_binding(key: bytes, user_id: str | None) -> str:
    """A keyed digest of the user: binds the reference without revealing who the user is."""
    mac = hmac.new(key, b"d2-session-user\x00" + (user_id or "").encode("utf-8"), hashlib.sha256)
    return _b64(mac.digest()[:16])


def sign_reference(
    key: bytes, session_id: str, user_id: str | None, ttl: float, *, now: float | None = None
) -> str:
    """Issue a reference to ``session_id`` for ``user_id``, valid for ``ttl`` seconds."""
    issued = time.time() if now is None else now
    payload = {"s": session_id, "u": user_binding(key, user_id), "x": int(issued + ttl)}
    body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode("utf-8"))
    signed = f"{_VERSION}.{body}"
    return f"{signed}.{_b64(_mac(key, signed))}"


def verify_reference(
    key: bytes, reference: str, user_id: str | None, *, now: float | None = None
) -> SessionClaims:
    """Return the claims of a reference issued to ``user_id``; else raise :class:`SessionReferenceError`."""
    parts = _split(reference, _VERSION)
    signed = f"{parts[0]}.{parts[1]}"
    # Compare the encoded text, so no second spelling of the same MAC (padding bits) is accepted.
    if not hmac.compare_digest(parts[2].encode("ascii", "replace"), _b64(_mac(key, signed)).encode("ascii")):
        raise SessionReferenceError("session reference signature does not verify (tampered, or another key)")
    return _claims(parts[1], lambda session_id: user_binding(key, user_id), now)


def sign_reference_ed25519(
    private_key: Any, kid: str, session_id: str, user_id: str | None, ttl: float, *, now: float | None = None
) -> str:
    """Issue a ``v2`` reference signed with an Ed25519 key, for services that verify with a JWKS."""
    issued = time.time() if now is None else now
    payload = {"k": kid, "s": session_id, "u": public_binding(session_id, user_id), "x": int(issued + ttl)}
    body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode("utf-8"))
    signed = f"{_VERSION_KEYS}.{body}"
    return f"{signed}.{_b64(private_key.sign(signed.encode('ascii')))}"


def verify_reference_keys(
    keys: Mapping[str, Any], reference: str, user_id: str | None, *, now: float | None = None
) -> SessionClaims:
    """Check a ``v2`` reference against Ed25519 public keys by ``kid`` (a JWKS the services trust)."""
    parts = _split(reference, _VERSION_KEYS)
    try:
        kid = json.loads(_unb64(parts[1]))["k"]
        signature = _unb64(parts[2])
    except (ValueError, KeyError, TypeError):
        raise SessionReferenceError("session reference payload is malformed") from None
    key = keys.get(kid) if isinstance(kid, str) else None
    if key is None:
        raise SessionReferenceError(f"session reference signed by unknown key {str(kid)[:40]!r}")
    if _b64(signature) != parts[2]:
        raise SessionReferenceError("session reference signature is not canonical base64url")
    try:
        key.verify(signature, f"{parts[0]}.{parts[1]}".encode("ascii"))
    except Exception:  # cryptography's InvalidSignature, or a wrong-length signature
        raise SessionReferenceError(
            "session reference signature does not verify (tampered, or another key)"
        ) from None
    return _claims(parts[1], lambda session_id: public_binding(session_id, user_id), now)


def public_binding(session_id: str, user_id: str | None) -> str:
    """The user binding of a ``v2`` reference: a digest salted with the session (no shared secret)."""
    raw = b"d2-session-user\x00" + session_id.encode("utf-8") + b"\x00" + (user_id or "").encode("utf-8")
    return _b64(hashlib.sha256(raw).digest()[:16])


def _split(reference: str, version: str) -> list[str]:
    if not isinstance(reference, str) or len(reference) > MAX_REFERENCE:
        raise SessionReferenceError("session reference missing or too long")
    parts = reference.split(".")
    if len(parts) != 3 or parts[0] != version:
        raise SessionReferenceError(f"session reference is not a d2 {version} reference")
    return parts


def _claims(body: str, binding: Callable[[str], str], now: float | None) -> SessionClaims:
    """Decode a verified payload; check the user binding and the expiry."""
    try:
        claims = json.loads(_unb64(body))
        session_id, bound, expires = claims["s"], claims["u"], claims["x"]
    except (ValueError, KeyError, TypeError):
        raise SessionReferenceError("session reference payload is malformed") from None
    if not isinstance(session_id, str) or not isinstance(bound, str) or not isinstance(expires, int):
        raise SessionReferenceError("session reference payload is malformed")
    if not hmac.compare_digest(bound, binding(session_id)):
        raise SessionReferenceError("session reference was issued for another user")
    current = time.time() if now is None else now
    if current > expires + CLOCK_SKEW:
        raise SessionReferenceError("session reference expired")
    return SessionClaims(session_id, float(expires))


def _mac(key: bytes, signed: str) -> bytes:
    return hmac.new(key, signed.encode("ascii"), hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    if not text or any(c not in _ALPHABET for c in text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
