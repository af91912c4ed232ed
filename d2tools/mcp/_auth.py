"""Who an HTTP caller is: an OAuth bearer token verified with pyjwt, its claims mapped to a d2 user.

The ``mcp`` package's bearer middleware calls :class:`JwtVerifier` for every HTTP request; a missing,
expired, forged or wrongly addressed token makes it answer 401 before any MCP message is read, so
there is never an anonymous session. The signing keys come only from the configured JWKS (a URL or
a file), and the token must name the configured issuer and audience.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anyio
import jwt
from mcp.server.auth.provider import AccessToken

from d2 import ConfigurationError, UserContext

from ._config import AuthSpec

__all__ = ["JwtVerifier", "claim", "token_key", "user_from_claims"]

log = logging.getLogger("d2.mcp")


class JwtVerifier:
    """A ``TokenVerifier`` for the ``mcp`` server: signature, ``exp``, ``iss``, ``aud`` and a user claim."""

    def __init__(self, spec: AuthSpec) -> None:
        self.spec = spec
        self._client: jwt.PyJWKClient | None = None
        self._keys: jwt.PyJWKSet | None = None
        if "://" in spec.jwks:
            self._client = jwt.PyJWKClient(spec.jwks, cache_keys=True, lifespan=300)
        else:
            try:
                self._keys = jwt.PyJWKSet.from_json(Path(spec.jwks).read_text(encoding="utf-8"))
            except (OSError, jwt.PyJWTError, ValueError) as exc:
                raise ConfigurationError(
                    f"mcp-proxy: auth.jwks {spec.jwks!r} is not a readable JWKS file ({exc}); "
                    "give a JWKS URL or the path of a JSON key set"
                ) from exc

    def _key(self, token: str) -> Any:
        if self._client is not None:
            return self._client.get_signing_key_from_jwt(token).key
        assert self._keys is not None
        kid = jwt.get_unverified_header(token).get("kid")
        if kid is None:
            if len(self._keys.keys) != 1:
                raise jwt.InvalidTokenError("token has no 'kid' and the key set has several keys")
            return self._keys.keys[0].key
        return self._keys[kid].key

    def decode(self, token: str) -> dict[str, Any]:
        """Verify ``token`` and return its claims; raise ``jwt.PyJWTError`` when it does not verify."""
        spec = self.spec
        claims: dict[str, Any] = jwt.decode(
            token,
            self._key(token),
            algorithms=list(spec.algorithms),
            audience=spec.audience,
            issuer=spec.issuer,
            options={"require": ["exp", "iss", "aud"]},
        )
        user = claim(claims, spec.user_claim)
        if user is None:
            raise jwt.MissingRequiredClaimError(spec.user_claim)
        if not isinstance(user, str) or not user:
            # A list, number or object is no user id: str() of it would invent one ("['a', 'b']").
            raise jwt.InvalidTokenError(f"claim {spec.user_claim!r} is not a non-empty string")
        return claims

    async def verify_token(self, token: str) -> AccessToken | None:
        """The ``mcp`` server's hook: an :class:`AccessToken` for a good token, None (→ 401) otherwise."""
        try:
            if self._client is not None:
                claims = await anyio.to_thread.run_sync(self.decode, token)
            else:
                claims = self.decode(token)
        except (jwt.PyJWTError, KeyError, ValueError) as exc:
            log.info("d2 mcp-proxy: bearer token refused: %s", type(exc).__name__)
            return None
        scope = claims.get("scope") or ""
        user: str = claim(claims, self.spec.user_claim)  # a non-empty string: decode checked it
        return AccessToken(
            token=token,
            client_id=str(claims.get("azp") or claims.get("client_id") or user),
            scopes=scope.split() if isinstance(scope, str) else [str(s) for s in scope],
            expires_at=int(claims["exp"]),
            subject=user,
            claims=claims,
        )


def claim(claims: Mapping[str, Any], path: str) -> Any:
    """Follow a dotted claim path (``realm_access.roles``); None when any step is missing."""
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def user_from_claims(claims: Mapping[str, Any], spec: AuthSpec) -> UserContext:
    """Map verified claims to the d2 user: id, roles (list or space-separated string), attributes."""
    roles = claim(claims, spec.roles_claim)
    if isinstance(roles, str):
        roles = roles.split()
    elif not isinstance(roles, (list, tuple)):
        roles = []
    attributes = {name: v for name, path in spec.attributes.items() if (v := claim(claims, path)) is not None}
    return UserContext(str(claim(claims, spec.user_claim)), frozenset(str(r) for r in roles), attributes)


def token_key(token: AccessToken) -> str:
    """The stateless-era request key of a token: its ``jti``, else a digest of the token itself."""
    claims = token.claims or {}
    jti = claims.get("jti")
    ident = (
        f"jti:{claims.get('iss')}:{jti}"
        if jti
        else "sha256:" + hashlib.sha256(token.token.encode()).hexdigest()
    )
    return f"{json.dumps(claims.get('iss'))}|{token.subject}|{ident}"
