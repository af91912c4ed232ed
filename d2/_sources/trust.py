"""Trust anchors for bundle signing keys: pinned thumbprints, key continuity, endorsed key sets.

A key may verify bundles only when it is pinned (``D2_PIN_JWKS_THUMBPRINTS`` or
``pin_jwks_thumbprints=``, RFC 7638 thumbprints), or vouched for by a key already trusted, or, with no
pins, when it came in this process's first JWKS answer from the configured URL over https (or
loopback). A key set fetched later never replaces the trusted keys: a new key joins only when an
endorsement in the JWKS (``d2_endorsements``: compact JWS, ``typ`` ``d2-jwks+jwt``, listing the
thumbprints of the set) is signed by a key already trusted. A file the SDK wrote itself never adds
trust: keys read from the state file count only where a pin, or an endorsement by a pinned key, says so.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from d2._sources.jwks import ENDORSEMENT_TYP, ENDORSEMENTS, endorse, key_id, parse_jwks
from d2.exceptions import ConfigurationError, InvalidSignatureError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

__all__ = [
    "ENDORSEMENTS",
    "ENDORSEMENT_TYP",
    "JwksCache",
    "TrustedKeys",
    "endorse",
    "parse_pins",
]

_THUMBPRINT = re.compile(r"^[A-Za-z0-9_-]{43}$")
_MAX_ENDORSEMENTS = 16
_MAX_ENDORSEMENT_BYTES = 16 * 1024

JwksFetcher = Callable[[], Mapping[str, Any]]


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def parse_pins(values: str | Iterable[str] | None) -> frozenset[str]:
    """Read pinned thumbprints (a comma-separated string or a list); a malformed one is an error."""
    if values is None:
        return frozenset()
    items = values.split(",") if isinstance(values, str) else list(values)
    pins: set[str] = set()
    for item in items:
        text = item.strip() if isinstance(item, str) else item
        if text == "":
            continue
        if not isinstance(text, str) or not _THUMBPRINT.match(text):
            raise ConfigurationError(
                f"pinned key {text!r} is not an RFC 7638 JWK thumbprint (43 base64url characters, the kid "
                "`d2 bundle keygen` and `d2 serve init` print): fix D2_PIN_JWKS_THUMBPRINTS or "
                "pin_jwks_thumbprints="
            )
        pins.add(text)
    return frozenset(pins)


def offered_keys(document: Mapping[str, Any]) -> dict[str, Ed25519PublicKey]:
    """The usable keys of a JWKS whose ``kid`` is their own thumbprint (any other entry is skipped)."""
    return {kid: key for kid, key in parse_jwks(document).items() if key_id(key) == kid}


def vouched_for(document: Mapping[str, Any], signers: Mapping[str, Ed25519PublicKey]) -> set[str]:
    """Thumbprints listed by every well-formed endorsement in ``document`` that a key of ``signers`` made."""
    from cryptography.exceptions import InvalidSignature

    tokens = document.get(ENDORSEMENTS) if isinstance(document, Mapping) else None
    if not isinstance(tokens, list):
        return set()
    found: set[str] = set()
    for token in tokens[:_MAX_ENDORSEMENTS]:
        if not isinstance(token, str) or len(token) > _MAX_ENDORSEMENT_BYTES or token.count(".") != 2:
            continue
        head, body, sig = token.split(".")
        try:
            header = json.loads(_unb64(head))
            if not isinstance(header, dict) or not isinstance(header.get("kid"), str):
                continue
            signer = signers.get(header["kid"])
            if signer is None or header.get("alg") != "EdDSA" or header.get("typ") != ENDORSEMENT_TYP:
                continue
            signer.verify(_unb64(sig), f"{head}.{body}".encode("ascii"))
            claims = json.loads(_unb64(body))
        except (InvalidSignature, ValueError, TypeError, UnicodeError, RecursionError):
            continue
        listed = claims.get("keys") if isinstance(claims, dict) else None
        if isinstance(listed, list):
            found.update(k for k in listed if isinstance(k, str))
    return found


class TrustedKeys:
    """The keys this process trusts; a new JWKS only narrows them or adds keys a trusted key vouched for."""

    def __init__(self, pins: frozenset[str] = frozenset()) -> None:
        self.pins = pins
        self.keys: dict[str, Ed25519PublicKey] = {}
        self.document: dict[str, Any] | None = None

    def adopt(self, document: Mapping[str, Any], *, source: str, bootstrap: bool) -> None:
        """Trust what ``document`` offers as far as pins, trusted keys and endorsements allow.

        ``bootstrap`` (a fresh answer from the configured URL) lets the first key set in, but only
        when nothing is pinned and nothing is trusted yet. Raises InvalidSignatureError and keeps the
        keys in hand when no offered key can be trusted.
        """
        offered = offered_keys(document)
        trusted = dict(self.keys)
        if bootstrap and not trusted and not self.pins:
            accepted = dict(offered)
        else:
            accepted = {kid: key for kid, key in offered.items() if kid in trusted or kid in self.pins}
        while True:  # endorsements chain: each round may add signers; bounded by the offered keys
            vouched = vouched_for(document, {**trusted, **accepted})
            new = {kid: offered[kid] for kid in vouched if kid in offered and kid not in accepted}
            if not new:
                break
            accepted.update(new)
        if not accepted:
            raise InvalidSignatureError(self._refusal(source, offered))
        self.keys, self.document = accepted, dict(document)

    def _refusal(self, source: str, offered: Mapping[str, Any]) -> str:
        what = ", ".join(sorted(offered)) or "no usable Ed25519 key"
        if self.pins and not self.keys:
            return (
                f"the key set from {source} ({what}) holds none of the pinned keys "
                f"({', '.join(sorted(self.pins))}); check D2_PIN_JWKS_THUMBPRINTS / pin_jwks_thumbprints="
            )
        return (
            f"the key set from {source} ({what}) holds no key already trusted and no endorsement by one; "
            "refusing it (publish a new key beside the old one, endorsed by it: "
            "`d2 bundle jwks --key old.pem --key new.pem`, or `d2 serve rotate-key`)"
        )


class JwksCache:
    """Trusted keys refreshed from a JWKS URL on an unknown kid, at most once per ``min_refresh`` seconds."""

    def __init__(
        self,
        fetch: JwksFetcher,
        *,
        min_refresh: float = 30.0,
        source: str = "the JWKS URL",
        pins: frozenset[str] = frozenset(),
    ) -> None:
        self._fetch = fetch
        self.source = source
        self.min_refresh = min_refresh
        self.trust = TrustedKeys(pins)
        self.last_refresh = float("-inf")
        self.refreshes = 0
        self._lock = threading.Lock()

    @property
    def keys(self) -> dict[str, Ed25519PublicKey]:
        return self.trust.keys

    @property
    def document(self) -> dict[str, Any] | None:
        return self.trust.document

    def refresh(self, *, force: bool = False) -> bool:
        """Fetch the JWKS now unless the last fetch was under ``min_refresh`` ago; True when fetched."""
        with self._lock:
            now = time.monotonic()
            if not force and now - self.last_refresh < self.min_refresh:
                return False
            self.last_refresh = now
            document = dict(self._fetch())
            self.refreshes += 1
            self.trust.adopt(document, source=self.source, bootstrap=True)
            return True
