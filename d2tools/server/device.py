"""Publisher device keys: an optional Ed25519 signature over the exact request body.

Headers: ``X-D2-Key-Id`` (the key's RFC 7638 thumbprint), ``X-D2-Signature`` (base64 of the Ed25519
signature of the body bytes) and, on first use, ``X-D2-Public-Key`` (base64url raw public key). A new
key is registered to the developer token that first presents it, and refused for any other token.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Mapping

from d2._jwks import key_id

from .config import ApiError
from .service import ControlPlane, Principal
from .storage import DeviceKeyRecord

__all__ = ["verify_device_signature"]


def _b64decode(text: str) -> bytes:
    text = text.strip()
    try:
        return base64.urlsafe_b64decode(text.replace("+", "-").replace("/", "_") + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise ApiError(400, "bad_device_header", "device key headers must be base64") from None


def verify_device_signature(
    cp: ControlPlane, who: Principal, headers: Mapping[str, str], body: bytes
) -> str | None:
    """Return the verified device key id, None when unsigned and allowed; raise 401/403 otherwise."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    kid, signature = headers.get("x-d2-key-id"), headers.get("x-d2-signature")
    if not kid or not signature:
        if cp.config.require_device_key:
            raise ApiError(
                401,
                "device_signature_required",
                "this server requires X-D2-Key-Id and X-D2-Signature (d2 publish adds them)",
            )
        return None
    record = cp.storage.get_device_key(kid)
    if record is None:
        record = _register(cp, who, kid, headers.get("x-d2-public-key"))
    elif record.token_id != who.token.id:
        raise ApiError(403, "device_key_foreign", f"device key {kid} is registered to another token")
    try:
        key = Ed25519PublicKey.from_public_bytes(_b64decode(record.public_key))
        key.verify(_b64decode(signature), body)
    except (InvalidSignature, ValueError):
        raise ApiError(
            401, "bad_device_signature", f"the signature by device key {kid} does not verify"
        ) from None
    return kid


def _register(cp: ControlPlane, who: Principal, kid: str, public: str | None) -> DeviceKeyRecord:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    if not public:
        raise ApiError(401, "unknown_device_key", f"device key {kid} is not registered; send X-D2-Public-Key")
    try:
        key = Ed25519PublicKey.from_public_bytes(_b64decode(public))
    except ValueError:
        raise ApiError(400, "bad_device_header", "X-D2-Public-Key is not a raw Ed25519 public key") from None
    if key_id(key) != kid:
        raise ApiError(400, "bad_device_header", "X-D2-Key-Id is not the thumbprint of X-D2-Public-Key")
    record = DeviceKeyRecord(kid, public, who.token.id, int(time.time()))
    if not cp.storage.add_device_key(record):
        found = cp.storage.get_device_key(kid)
        assert found is not None
        return found
    return record
