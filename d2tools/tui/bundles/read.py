"""Read signed bundles from a file, the SDK's cached state or the control plane, and say if they verify.

Verification is the SDK's own :func:`d2._toolkit.verify_bundle`. The claims are also read without
verifying (plain base64url JSON) so an engineer can see *what* a bundle that fails verification
claims, always next to the reason it fails; the TUI marks such a policy as unverified.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from d2.exceptions import D2Error

__all__ = [
    "BundleInfo",
    "BundleRead",
    "is_bundle_text",
    "pull_bundle",
    "read_bundle",
    "read_bundle_file",
    "read_state_bundles",
]

_JWS = re.compile(r"\s*[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\s*")


@dataclass(frozen=True, slots=True)
class BundleInfo:
    """A bundle's metadata as the bundles view shows it."""

    origin: str
    app: str | None
    version: int | None
    kid: str | None
    issued_at: int | None
    expires_at: int | None
    content_sha256: str | None
    token_sha256: str
    etag: str | None
    verified: bool
    why: str
    revoked: bool = False
    saved_at: int | None = None

    @property
    def label(self) -> str:
        return f"{self.app or '?'} v{self.version if self.version is not None else '?'}"


@dataclass(frozen=True, slots=True)
class BundleRead:
    """A bundle and the policy text it carries (None for a revocation or an unreadable payload)."""

    info: BundleInfo
    policy_text: str | None


def is_bundle_text(text: str) -> bool:
    """True when ``text`` is a compact JWS (three base64url parts), not YAML or JSON."""
    return _JWS.fullmatch(text) is not None


def read_bundle(
    token: str,
    origin: str,
    *,
    jwks: Mapping[str, Any] | None = None,
    etag: str | None = None,
    saved_at: int | None = None,
) -> BundleRead:
    """Verify ``token`` against ``jwks`` when given; otherwise report why it is not verified."""
    from d2._toolkit import parse_jwks, verify_bundle

    claims, kid = _unverified(token)
    digest = hashlib.sha256(token.strip().encode("ascii", "replace")).hexdigest()
    if jwks is None:
        why = "not verified: no key set (pass --jwks FILE, or open it with --state or --server)"
        return _from_claims(claims, kid, origin, digest, etag, saved_at, False, why)
    try:
        bundle = verify_bundle(token, parse_jwks(jwks))
    except D2Error as exc:
        return _from_claims(claims, kid, origin, digest, etag, saved_at, False, f"NOT verified: {exc}")
    info = BundleInfo(
        origin,
        bundle.app,
        bundle.version,
        bundle.kid,
        bundle.issued_at,
        bundle.expires_at,
        bundle.policy_sha256,
        digest,
        etag,
        True,
        f"verified: Ed25519 signature by key {bundle.kid}",
        bundle.revoked,
        saved_at,
    )
    return BundleRead(info, bundle.policy_text)


def _unverified(token: str) -> tuple[dict[str, Any], str | None]:
    parts = token.strip().split(".")
    if len(parts) != 3:
        return {}, None
    return _b64json(parts[1]), _b64json(parts[0]).get("kid")


def _b64json(part: str) -> dict[str, Any]:
    try:
        value = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (ValueError, TypeError):
        return {}
    return value if isinstance(value, dict) else {}


def _from_claims(
    claims: Mapping[str, Any],
    kid: str | None,
    origin: str,
    digest: str,
    etag: str | None,
    saved_at: int | None,
    verified: bool,
    why: str,
) -> BundleRead:
    def number(key: str) -> int | None:
        value = claims.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    text = claims.get("policy")
    info = BundleInfo(
        origin,
        claims.get("app") if isinstance(claims.get("app"), str) else None,
        number("ver"),
        kid if isinstance(kid, str) else None,
        number("iat"),
        number("exp"),
        claims.get("policy_sha256") if isinstance(claims.get("policy_sha256"), str) else None,
        digest,
        etag,
        verified,
        why,
        claims.get("revoked") is True,
        saved_at,
    )
    return BundleRead(info, text if isinstance(text, str) else None)


def read_bundle_file(path: Path, jwks_path: Path | None = None) -> BundleRead:
    """Read a bundle file; verify it with the key set in ``jwks_path`` when one is given."""
    token = path.read_text(encoding="ascii", errors="replace")
    jwks = json.loads(jwks_path.read_text(encoding="utf-8")) if jwks_path is not None else None
    return read_bundle(token, str(path), jwks=jwks)


def read_state_bundles(path: Path | None = None) -> list[BundleRead]:
    """Every bundle the SDK cached (``D2_STATE_PATH``), each re-verified with the key set saved beside it."""
    from d2._toolkit import default_state_path

    where = path if path is not None else default_state_path()
    if where is None:
        return []
    try:
        data = json.loads(where.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        raise D2Error(f"cannot read the bundle state {where}: {exc}; check D2_STATE_PATH") from exc
    sources = data.get("sources") if isinstance(data, dict) else None
    found = []
    for key, entry in sorted((sources or {}).items()):
        if not isinstance(entry, dict) or not isinstance(entry.get("bundle"), str):
            continue
        jwks = entry.get("jwks") if isinstance(entry.get("jwks"), dict) else None
        etag = entry.get("etag") if isinstance(entry.get("etag"), str) else None
        saved = entry.get("saved_at") if isinstance(entry.get("saved_at"), int) else None
        origin = str(key).split("#", 1)[0]
        found.append(read_bundle(entry["bundle"], origin, jwks=jwks, etag=etag, saved_at=saved))
    return found


def pull_bundle(server: str, app: str | None) -> BundleRead:
    """Fetch the published bundle of ``app`` with the CLI's credentials (``D2_TOKEN``) and verify it."""
    from d2tools.cloud.client import Client, load_cli_state

    token = os.environ.get("D2_TOKEN")
    if not token:
        raise D2Error("D2_TOKEN is not set: export the token the d2 CLI uses, then run d2 tui --server again")
    chosen = app or os.environ.get("D2_APP") or load_cli_state().app
    client = Client(server, token, app=chosen)
    response = client.bundle()
    return read_bundle(
        response.body.decode("ascii", "replace"),
        f"{server.rstrip('/')} app {chosen or '(default)'}",
        jwks=client.jwks(),
        etag=response.headers.get("etag"),
    )
