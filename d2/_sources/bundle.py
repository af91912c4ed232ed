"""Signed policy bundles: the one implementation of signing and verifying, shared by SDK, server and CLI.

A bundle is a compact JWS (RFC 7515) signed with Ed25519 (``alg: EdDSA``), ``kid`` and ``typ`` in the
protected header. The policy text travels inside the signed payload together with its SHA-256, the
app name, a monotonically increasing version, issued-at, expiry and audience, so a bundle proves
itself: any static host can serve it, and nothing unsigned beside it is ever used.
Verification checks, in order: size, header (``typ``, exactly the configured ``alg``, a ``kid``), the
key (unknown ``kid`` -> :class:`UnknownKeyError` so callers can refresh their JWKS), signature and
audience, the claims' shape, the content hash, expiry, then the caller's app and rollback floor.
``jwt`` and ``cryptography`` are imported inside functions, so ``import d2`` stays light.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from d2.exceptions import BundleExpiredError, InvalidSignatureError, PolicyTooLargeError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

    from d2._core.model import CompiledPolicy

__all__ = [
    "ALGORITHM",
    "BUNDLE_TYP",
    "DEFAULT_AUDIENCE",
    "Bundle",
    "UnknownKeyError",
    "compile_bundle",
    "sign_bundle",
    "verify_bundle",
]

ALGORITHM = "EdDSA"
BUNDLE_TYP = "d2-bundle+jwt"
DEFAULT_AUDIENCE = "d2:policy"
FORMAT_VERSION = 1
# The largest compact JWS accepted before any parsing: base64 grows the policy by a third, plus claims.
_MAX_TOKEN_BYTES = 24 * 1024 * 1024
_REQUIRED = ("aud", "app", "ver", "iat", "exp", "fmt")
# Versions and times are exact in JSON and in every store (2**53 - 1; as a time, far beyond year 9999
# is refused too, since no date can represent it).
_MAX_CLAIM_INT = 2**53 - 1
_MAX_TIME = 253_402_300_799  # 9999-12-31T23:59:59Z


class UnknownKeyError(InvalidSignatureError):
    """The bundle names a ``kid`` the key set does not hold; refresh the JWKS once, then refuse."""

    def __init__(self, message: str, *, kid: str) -> None:
        self.kid = kid
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class Bundle:
    """A verified bundle: the exact signed token and the claims it proved."""

    token: str
    kid: str
    app: str
    version: int
    issued_at: int
    expires_at: int
    audience: str
    revoked: bool
    policy_text: str | None
    policy_sha256: str | None
    policy_format: str

    @property
    def expires(self) -> datetime:
        return datetime.fromtimestamp(self.expires_at, tz=timezone.utc)

    @property
    def expired(self) -> bool:
        """True once ``exp`` has passed (checked against the real clock)."""
        return self.expires_at <= time.time()

    @property
    def label(self) -> str:
        """Where a diagnostic about this bundle's policy points: ``bundle:<app>@v<N>``."""
        return f"bundle:{self.app}@v{self.version}"


def policy_digest(text: str) -> str:
    """Return the hex SHA-256 of the policy text's UTF-8 bytes, the digest the claims carry."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def sign_bundle(
    policy_text: str | None,
    *,
    app: str,
    version: int,
    private_key: Ed25519PrivateKey,
    kid: str,
    ttl: float,
    audience: str = DEFAULT_AUDIENCE,
    policy_format: str = "yaml",
    issuer: str | None = None,
    now: float | None = None,
) -> str:
    """Sign ``policy_text`` (None: a revocation bundle that refuses every call) as a compact JWS."""
    import jwt

    if version < 1:
        raise ValueError("bundle versions start at 1")
    issued = int(now if now is not None else time.time())
    claims: dict[str, Any] = {
        "aud": audience,
        "app": app,
        "ver": version,
        "iat": issued,
        "exp": issued + max(1, int(ttl)),
        "jti": secrets.token_hex(8),
        "fmt": FORMAT_VERSION,
    }
    if issuer:
        claims["iss"] = issuer
    if policy_text is None:
        claims["revoked"] = True
    else:
        claims.update(
            policy=policy_text, policy_sha256=policy_digest(policy_text), policy_format=policy_format
        )
    headers = {"kid": kid, "typ": BUNDLE_TYP}
    return jwt.encode(claims, private_key, algorithm=ALGORITHM, headers=headers)


def verify_bundle(
    token: str | bytes,
    keys: Mapping[str, Ed25519PublicKey],
    *,
    audience: str = DEFAULT_AUDIENCE,
    algorithm: str = ALGORITHM,
    app: str | None = None,
    min_version: int | None = None,
    now: float | None = None,
    leeway: float = 30.0,
    allow_expired: bool = False,
) -> Bundle:
    """Verify a compact JWS against ``keys`` (kid -> key); raise InvalidSignatureError/BundleExpiredError.

    ``allow_expired`` returns an expired bundle instead of raising (its ``expired`` is True): only to
    read the version floor it proves, never to install it.
    """
    text = _token_text(token)
    kid = _check_header(text, algorithm)
    key = keys.get(kid)
    if key is None:
        raise UnknownKeyError(f"bundle signed with unknown key id {kid!r}; it is not in the JWKS", kid=kid)
    claims = _decode(text, key, algorithm, audience)
    bundle = _bundle_from_claims(text, kid, claims)
    current = time.time() if now is None else now
    if bundle.issued_at > current + leeway:
        raise InvalidSignatureError(f"bundle {bundle.label} is issued in the future (iat {bundle.issued_at})")
    if bundle.expires_at <= current and not allow_expired:
        raise BundleExpiredError(
            f"bundle {bundle.label} expired at {bundle.expires.isoformat()}; publish or fetch a fresh one"
        )
    if app is not None and bundle.app != app:
        raise InvalidSignatureError(f"bundle is for app {bundle.app!r}, expected {app!r}")
    if min_version is not None and bundle.version < min_version:
        raise InvalidSignatureError(
            f"bundle {bundle.label} is older than version {min_version} already in hand (rollback refused)"
        )
    return bundle


def _token_text(token: str | bytes) -> str:
    if len(token) > _MAX_TOKEN_BYTES:
        raise PolicyTooLargeError(f"bundle is {len(token)} bytes, over the {_MAX_TOKEN_BYTES}-byte limit")
    try:
        text = token.decode("ascii") if isinstance(token, bytes) else token
    except UnicodeDecodeError:
        raise InvalidSignatureError("bundle is not a compact JWS (non-ASCII bytes)") from None
    text = text.strip()
    if text.count(".") != 2:
        raise InvalidSignatureError("bundle is not a compact JWS (expected three dot-separated parts)")
    return text


def _check_header(text: str, algorithm: str) -> str:
    """Read the protected header before any key is chosen: exact alg, our typ, a kid."""
    try:
        raw = text.split(".", 1)[0]
        header = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except (ValueError, TypeError):
        raise InvalidSignatureError("bundle header is not base64url JSON") from None
    if not isinstance(header, dict):
        raise InvalidSignatureError("bundle header is not a JSON object")
    alg = header.get("alg")
    if alg != algorithm:
        raise InvalidSignatureError(f"bundle uses alg {alg!r}; only {algorithm!r} is accepted")
    if header.get("typ") != BUNDLE_TYP:
        raise InvalidSignatureError(f"bundle header typ is {header.get('typ')!r}, expected {BUNDLE_TYP!r}")
    if set(header) - {"alg", "typ", "kid"}:
        extra = ", ".join(sorted(set(header) - {"alg", "typ", "kid"}))
        raise InvalidSignatureError(f"bundle header has unsupported parameters: {extra}")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise InvalidSignatureError("bundle header has no 'kid'; cannot choose a verification key")
    return kid


def _decode(text: str, key: Ed25519PublicKey, algorithm: str, audience: str) -> dict[str, Any]:
    import jwt

    try:
        claims: dict[str, Any] = jwt.decode(
            text,
            key,
            algorithms=[algorithm],
            audience=audience,
            options={"require": list(_REQUIRED), "verify_exp": False, "verify_iat": False},
        )
    except jwt.InvalidAudienceError:
        raise InvalidSignatureError(f"bundle audience is not {audience!r}") from None
    except jwt.InvalidSignatureError:
        raise InvalidSignatureError("bundle signature does not verify (tampered, or wrong key)") from None
    except jwt.PyJWTError as exc:
        raise InvalidSignatureError(f"bundle rejected: {exc}") from None
    return claims


def _bundle_from_claims(text: str, kid: str, claims: Mapping[str, Any]) -> Bundle:
    """Check the claims' shape and the content hash; the signature already proved who wrote them."""
    if claims.get("fmt") != FORMAT_VERSION:
        raise InvalidSignatureError(f"bundle format {claims.get('fmt')!r} is not supported (expected 1)")
    app, ver, iat, exp = claims["app"], claims["ver"], claims["iat"], claims["exp"]
    if not isinstance(app, str) or not app:
        raise InvalidSignatureError("bundle claim 'app' must be a non-empty string")
    for name, value in (("ver", ver), ("iat", iat), ("exp", exp)):
        if (
            not isinstance(value, int)
            or isinstance(value, bool)
            or not (1 if name == "ver" else 0) <= value <= _MAX_CLAIM_INT
        ):
            raise InvalidSignatureError(
                f"bundle claim {name!r} must be a positive integer of at most {_MAX_CLAIM_INT}"
            )
    if exp > _MAX_TIME or iat > _MAX_TIME:
        raise InvalidSignatureError("bundle times must be before the year 10000")
    revoked = claims.get("revoked", False) is True
    text_claim, digest, fmt = claims.get("policy"), claims.get("policy_sha256"), claims.get("policy_format")
    if revoked:
        if text_claim is not None:
            raise InvalidSignatureError("a revocation bundle must not carry a policy")
    elif not isinstance(text_claim, str) or not isinstance(digest, str):
        raise InvalidSignatureError("bundle carries no policy and is not a revocation")
    elif policy_digest(text_claim) != digest:
        raise InvalidSignatureError("bundle policy does not match its signed SHA-256")
    return Bundle(
        token=text,
        kid=kid,
        app=app,
        version=ver,
        issued_at=iat,
        expires_at=exp,
        audience=str(claims["aud"]),
        revoked=revoked,
        policy_text=text_claim if isinstance(text_claim, str) else None,
        policy_sha256=digest if isinstance(digest, str) else None,
        policy_format=fmt if isinstance(fmt, str) else "yaml",
    )


def compile_bundle(bundle: Bundle) -> CompiledPolicy:
    """Compile the bundle's policy; its effective expiry is the earlier of the policy's and the bundle's."""
    from d2._lang.compiler import compile_policy
    from d2._lang.source import parse_policy_text
    from d2.exceptions import ConfigurationError

    if bundle.policy_text is None:
        raise ConfigurationError(f"{bundle.label} is a revocation bundle and carries no policy")
    result = compile_policy(parse_policy_text(bundle.policy_text, bundle.label))
    if result.policy is None:
        raise ConfigurationError(f"invalid policy in {bundle.label}", diagnostics=result.errors)
    policy = result.policy
    if policy.expires is None or policy.expires > bundle.expires:
        policy = replace(policy, expires=bundle.expires, _cache={})
    return policy
