"""Keys for session references: a shared secret (HMAC, ``v1``) or an Ed25519 key with a JWKS (``v2``).

``D2_SESSION_KEY`` (or ``signing_key=``) is either a secret of at least 16 bytes that every service
holds, or an Ed25519 private key in PEM (PKCS#8), which signs ``v2`` references. ``D2_SESSION_JWKS``
(or ``verify_jwks=``: a path or a JWKS mapping) lists the public keys this service accepts ``v2``
references from, so a service that only receives references needs no secret at all.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from d2.exceptions import ConfigurationError

__all__ = ["ReferenceKeys", "load_reference_keys"]

MIN_SECRET = 16


@dataclass(frozen=True, slots=True)
class ReferenceKeys:
    """What this service signs references with, and whose ``v2`` references it accepts (kid -> key)."""

    secret: bytes | None = None
    private_key: Any = None
    kid: str | None = None
    public: Mapping[str, Any] = field(default_factory=dict)


def load_reference_keys(
    signing_key: str | bytes | None, verify_jwks: Mapping[str, Any] | str | os.PathLike[str] | None
) -> ReferenceKeys:
    """Read the keys from the arguments, else ``D2_SESSION_KEY`` / ``D2_SESSION_JWKS``."""
    key = signing_key if signing_key is not None else os.environ.get("D2_SESSION_KEY") or None
    raw = key.encode("utf-8") if isinstance(key, str) else key
    jwks = verify_jwks if verify_jwks is not None else os.environ.get("D2_SESSION_JWKS") or None
    public = dict(_public_keys(jwks)) if jwks is not None else {}
    if raw is not None and raw.lstrip().startswith(b"-----BEGIN"):
        from d2._sources.jwks import key_id, load_private_key

        private = load_private_key(raw.strip())
        kid = key_id(private.public_key())
        public.setdefault(kid, private.public_key())
        return ReferenceKeys(None, private, kid, public)
    if raw is not None and len(raw) < MIN_SECRET:
        raise ConfigurationError(
            f"the session signing key must be at least {MIN_SECRET} bytes (32 random bytes recommended), "
            "or an Ed25519 private key in PEM; set D2_SESSION_KEY or configure_session_state(signing_key=...)"
        )
    return ReferenceKeys(raw, None, None, public)


def _public_keys(jwks: Mapping[str, Any] | str | os.PathLike[str]) -> Mapping[str, Any]:
    from d2._sources.jwks import parse_jwks
    from d2.exceptions import D2Error

    if isinstance(jwks, Mapping):
        document: Any = jwks
    else:
        try:
            document = json.loads(Path(jwks).expanduser().read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigurationError(
                f"cannot read the session JWKS {str(jwks)!r} (D2_SESSION_JWKS): {exc}; "
                'point it at a JSON file {"keys": [...]} of Ed25519 public keys'
            ) from None
    try:
        keys = parse_jwks(document)
    except D2Error as exc:
        raise ConfigurationError(f"the session JWKS is not usable: {exc}") from None
    if not keys:
        raise ConfigurationError("the session JWKS holds no Ed25519 signing key (kty OKP, crv Ed25519)")
    return keys
