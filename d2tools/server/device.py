"""Publisher device keys: an Ed25519 signature over the request's intent (see :mod:`.signing`).

Headers: ``X-D2-Key-Id`` (the key's RFC 7638 thumbprint), ``X-D2-Signature`` (base64 of the
signature), ``X-D2-Signed-At`` (Unix seconds) and, for first use on a server without
``--require-device-key``, ``X-D2-Public-Key`` (base64url raw public key). With the flag on, only keys
an administrator registered (``d2 serve register-device-key``) are accepted: a stolen developer token
alone can neither register a key nor publish, revoke or restore.
"""

from __future__ import annotations

import base64
import binascii
import time
from typing import Protocol

from d2._toolkit import key_id

from .config import ApiError
from .service import ControlPlane, Principal
from .signing import MAX_SKEW, signing_message
from .storage import DeviceKeyRecord

__all__ = ["ADMIN_OWNER", "parse_public_key", "verify_device_signature"]

ADMIN_OWNER = "admin"


class _Url(Protocol):
    @property
    def path(self) -> str: ...


class _Request(Protocol):
    """The parts of a request a signature covers (a Starlette request has them)."""

    @property
    def method(self) -> str: ...
    @property
    def url(self) -> _Url: ...
    @property
    def headers(self) -> object: ...


def _b64decode(text: str, what: str) -> bytes:
    text = text.strip()
    try:
        return base64.urlsafe_b64decode(text.replace("+", "-").replace("/", "_") + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise ApiError(400, "bad_device_header", f"{what} must be base64") from None


def parse_public_key(text: str) -> tuple[str, str]:
    """Return (kid, base64url raw key) for a base64url raw Ed25519 public key; ValueError otherwise."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        raw = _b64decode(text, "the public key")
        key = Ed25519PublicKey.from_public_bytes(raw)
    except (ApiError, ValueError):
        raise ValueError(f"{text[:60]!r} is not a base64url raw Ed25519 public key (32 bytes)") from None
    return key_id(key), base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _header(headers: object, name: str) -> str | None:
    value = headers.get(name)  # type: ignore[attr-defined]
    return value if isinstance(value, str) else None


def _signed_at(raw: str | None) -> int:
    if raw is None or not raw.strip().isdigit() or len(raw.strip()) > 12:
        raise ApiError(400, "bad_device_header", "X-D2-Signed-At must be the signing time in Unix seconds")
    signed_at = int(raw.strip())
    if abs(time.time() - signed_at) > MAX_SKEW:
        raise ApiError(
            401,
            "stale_device_signature",
            f"the device signature was made {int(time.time()) - signed_at}s from the server's clock "
            f"(at most {MAX_SKEW}s): sign the request again, and check the clock",
        )
    return signed_at


def verify_device_signature(cp: ControlPlane, who: Principal, request: _Request, body: bytes) -> str | None:
    """Return the verified device key id, None when unsigned and allowed; raise 400/401/403 otherwise."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    headers = request.headers
    kid, signature = _header(headers, "x-d2-key-id"), _header(headers, "x-d2-signature")
    required = cp.config.require_device_key
    if not kid or not signature:
        if required:
            raise ApiError(
                401,
                "device_signature_required",
                "this server requires a device-key signature (X-D2-Key-Id, X-D2-Signature, X-D2-Signed-At);"
                " `d2 publish` and `d2 revoke` add them",
            )
        return None
    if len(kid) > 64:
        raise ApiError(400, "bad_device_header", "X-D2-Key-Id is not a key thumbprint")
    signed_at = _signed_at(_header(headers, "x-d2-signed-at"))
    record = cp.storage.get_device_key(kid)
    if record is None or (required and record.token_id != ADMIN_OWNER):
        if required:
            raise ApiError(
                401,
                "unknown_device_key",
                f"device key {kid} is not registered on this server; an administrator registers it with "
                "`d2 serve register-device-key <public key> --db ...` (the key's owner prints it with "
                "`d2 serve device-key`)",
            )
        record = _register(cp, who, kid, _header(headers, "x-d2-public-key"))
    elif record.token_id not in (ADMIN_OWNER, who.token.id):
        raise ApiError(403, "device_key_foreign", f"device key {kid} is registered to another token")
    message = signing_message(
        method=request.method,
        path=request.url.path,
        app=who.app.name,
        if_match=_header(headers, "if-match"),
        if_none_match=_header(headers, "if-none-match"),
        signed_at=signed_at,
        body=body,
    )
    try:
        key = Ed25519PublicKey.from_public_bytes(_b64decode(record.public_key, "the stored key"))
        key.verify(_b64decode(signature, "X-D2-Signature"), message)
    except (InvalidSignature, ValueError):
        raise ApiError(
            401,
            "bad_device_signature",
            f"the signature by device key {kid} does not verify for this app, precondition and body",
        ) from None
    return kid


def _register(cp: ControlPlane, who: Principal, kid: str, public: str | None) -> DeviceKeyRecord:
    """First use, only without ``--require-device-key``: bind the key to the token presenting it."""
    if not public:
        raise ApiError(401, "unknown_device_key", f"device key {kid} is not registered; send X-D2-Public-Key")
    try:
        found_kid, raw = parse_public_key(public)
    except ValueError:
        raise ApiError(400, "bad_device_header", "X-D2-Public-Key is not a raw Ed25519 public key") from None
    if found_kid != kid:
        raise ApiError(400, "bad_device_header", "X-D2-Key-Id is not the thumbprint of X-D2-Public-Key")
    record = DeviceKeyRecord(kid, raw, who.token.id, int(time.time()))
    if not cp.storage.add_device_key(record):
        found = cp.storage.get_device_key(kid)
        if found is None:
            raise ApiError(409, "device_key_race", "the device key changed while registering: retry")
        if found.token_id not in (ADMIN_OWNER, who.token.id):
            raise ApiError(403, "device_key_foreign", f"device key {kid} is registered to another token")
        return found
    return record
