"""Ed25519 keys as JWKs, JWKS documents, and endorsements: a key set signed by one of its keys.

Key ids are RFC 7638 thumbprints, so a ``kid`` names exactly one public key wherever it is computed
(server, CLI or a static-hosting script). Only OKP/Ed25519 signing keys are read from a JWKS; any
other entry is skipped. Which keys are *trusted* is decided in :mod:`d2._sources.trust`.
``cryptography`` is imported inside functions.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from d2._base.log import logger
from d2.exceptions import ConfigurationError, InvalidSignatureError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ENDORSEMENTS = "d2_endorsements"
ENDORSEMENT_TYP = "d2-jwks+jwt"

__all__ = [
    "ENDORSEMENTS",
    "ENDORSEMENT_TYP",
    "endorse",
    "generate_private_key",
    "jwks_document",
    "key_id",
    "load_private_key",
    "parse_jwks",
    "private_key_pem",
    "public_jwk",
]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _raw_public(key: Ed25519PublicKey) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(key: Ed25519PublicKey) -> str:
    """Return the RFC 7638 JWK thumbprint of ``key`` (base64url SHA-256), used as its ``kid``."""
    canonical = json.dumps(
        {"crv": "Ed25519", "kty": "OKP", "x": _b64(_raw_public(key))}, separators=(",", ":")
    )
    return _b64(hashlib.sha256(canonical.encode("ascii")).digest())


def public_jwk(key: Ed25519PublicKey, kid: str | None = None) -> dict[str, str]:
    """Describe ``key`` as a public JWK for a JWKS document."""
    return {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": _b64(_raw_public(key)),
        "kid": kid or key_id(key),
        "alg": "EdDSA",
        "use": "sig",
    }


def endorse(kids: Iterable[str], signer: Ed25519PrivateKey, *, now: float | None = None) -> str:
    """Sign a key set's thumbprints with ``signer``: the set, vouched for by that key."""
    header = {"alg": "EdDSA", "typ": ENDORSEMENT_TYP, "kid": key_id(signer.public_key())}
    claims = {"keys": sorted(set(kids)), "iat": int(now if now is not None else time.time())}
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    return f"{signing_input}.{_b64(signer.sign(signing_input.encode('ascii')))}"


def jwks_document(
    keys: Sequence[Ed25519PublicKey] | Sequence[dict[str, str]],
    *,
    signers: Sequence[Ed25519PrivateKey] = (),
) -> dict[str, Any]:
    """Build a JWKS (``{"keys": [...]}``) from public keys or ready JWKs.

    Each of ``signers`` endorses the set (see :mod:`d2._sources.trust`): SDKs that trust one of those
    keys accept the others, which is how a new key joins during a rotation.
    """
    document: dict[str, Any] = {"keys": [k if isinstance(k, dict) else public_jwk(k) for k in keys]}
    if signers:
        kids = [entry["kid"] for entry in document["keys"]]
        document[ENDORSEMENTS] = [endorse(kids, signer) for signer in signers]
    return document


def parse_jwks(document: Mapping[str, Any]) -> dict[str, Ed25519PublicKey]:
    """Return kid -> Ed25519 key for every usable entry; entries of other types are skipped."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    entries = document.get("keys") if isinstance(document, Mapping) else None
    if not isinstance(entries, list):
        raise InvalidSignatureError("JWKS has no 'keys' list")
    found: dict[str, Ed25519PublicKey] = {}
    for entry in entries:
        if not isinstance(entry, Mapping):
            continue
        if entry.get("kty") != "OKP" or entry.get("crv") != "Ed25519" or entry.get("use", "sig") != "sig":
            continue
        if entry.get("alg", "EdDSA") != "EdDSA" or "d" in entry:
            continue
        kid, x = entry.get("kid"), entry.get("x")
        if not isinstance(kid, str) or not kid or not isinstance(x, str):
            continue
        try:
            raw = _unb64(x)
            found[kid] = Ed25519PublicKey.from_public_bytes(raw)
        except ValueError:
            logger().warning("d2: skipping malformed JWKS entry %r", kid)
    return found


def generate_private_key() -> Ed25519PrivateKey:
    """Make a fresh Ed25519 signing key."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.generate()


def private_key_pem(key: Ed25519PrivateKey, password: bytes | None = None) -> bytes:
    """Serialise a private key as PKCS#8 PEM, encrypted when a password is given."""
    from cryptography.hazmat.primitives import serialization

    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    )
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def load_private_key(pem: bytes, password: bytes | None = None) -> Ed25519PrivateKey:
    """Load a PKCS#8 PEM Ed25519 private key; any other key type is a configuration error."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        key = serialization.load_pem_private_key(pem, password=password)
    except (ValueError, TypeError) as exc:
        raise ConfigurationError(f"cannot load the signing key: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigurationError("the signing key must be an Ed25519 key (d2 bundles use EdDSA)")
    return key
