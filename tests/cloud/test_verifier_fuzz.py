"""Fuzz the bundle verifier: whatever the bytes, it returns a bundle only for genuine content, else refuses.

A short run is in the default suite; ``-m slow`` runs the long one. The only outcomes allowed are a
:class:`Bundle` whose claims are exactly what the trusted key signed, or ``InvalidSignatureError`` /
``BundleExpiredError`` / ``PolicyTooLargeError`` (all ``D2Error``): never another exception, a hang
or an accepted forgery.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import d2
from d2._toolkit import generate_private_key, jwks_document, key_id, parse_jwks, sign_bundle, verify_bundle

POLICY = "policies:\n  - role: r\n    permissions: [tool.a]\n"
KEY = generate_private_key()
KID = key_id(KEY.public_key())
KEYS = parse_jwks(jwks_document([KEY.public_key()]))
NOW = 1_900_000_000
GOOD = sign_bundle(POLICY, app="fuzz", version=7, private_key=KEY, kid=KID, ttl=3600, now=NOW)
REFUSALS = (d2.InvalidSignatureError, d2.BundleExpiredError, d2.PolicyTooLargeError)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def check(token: str | bytes, **kw: Any) -> None:
    """Verify; an accepted bundle must be the genuine one, anything else a documented refusal."""
    try:
        bundle = verify_bundle(token, KEYS, app="fuzz", min_version=7, now=NOW + 1, **kw)
    except REFUSALS:
        return
    assert bundle.token == GOOD.strip() or bundle.policy_text == POLICY, bundle


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
claim_names = st.sampled_from(
    ["aud", "app", "ver", "iat", "exp", "fmt", "policy", "policy_sha256", "revoked", "jti"]
)


def mutated_bytes() -> st.SearchStrategy[bytes]:
    raw = GOOD.encode()
    return st.lists(st.tuples(st.integers(0, len(raw) - 1), st.integers(0, 255)), min_size=1, max_size=6).map(
        lambda edits: _apply(raw, edits)
    )


def _apply(raw: bytes, edits: list[tuple[int, int]]) -> bytes:
    out = bytearray(raw)
    for index, value in edits:
        out[index] = value
    return bytes(out)


def fuzz_bytes(data: bytes) -> None:
    check(data)


def fuzz_signed_claims(claims: dict[str, Any], header: dict[str, Any]) -> None:
    """Claims signed by the trusted key: only a well-formed, genuine-content bundle may pass."""
    head = {"alg": "EdDSA", "typ": "d2-bundle+jwt", "kid": KID, **header}
    signing_input = f"{b64(json.dumps(head).encode())}.{b64(json.dumps(claims).encode())}"
    token = f"{signing_input}.{b64(KEY.sign(signing_input.encode()))}"
    try:
        bundle = verify_bundle(token, KEYS, app="fuzz", min_version=7, now=NOW + 1)
    except REFUSALS:
        return
    assert bundle.app == "fuzz" and bundle.version >= 7 and bundle.expires_at > NOW + 1
    assert bundle.revoked or bundle.policy_text is not None


def _claims_strategy() -> st.SearchStrategy[dict[str, Any]]:
    base = json.loads(base64.urlsafe_b64decode(GOOD.split(".")[1] + "=="))
    return st.dictionaries(claim_names, json_values, max_size=5).map(lambda over: {**base, **over})


def _header_strategy() -> st.SearchStrategy[dict[str, Any]]:
    keys = st.sampled_from(["alg", "typ", "kid", "jku", "x5u", "crit", "b64", "cty"])
    return st.dictionaries(keys, json_values, max_size=2)


FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LONG = settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(mutated_bytes())
def test_flipped_bytes_never_verify_as_something_else(data: bytes) -> None:
    fuzz_bytes(data)


@FAST
@given(st.binary(max_size=400) | st.text(max_size=400))
def test_arbitrary_input_is_refused_cleanly(data: bytes | str) -> None:
    check(data)


@FAST
@given(_claims_strategy(), _header_strategy())
def test_signed_odd_claims_pass_only_when_well_formed(claims: dict[str, Any], header: dict[str, Any]) -> None:
    fuzz_signed_claims(claims, header)


@pytest.mark.slow
@LONG
@given(mutated_bytes() | st.binary(max_size=2000))
def test_slow_bytes(data: bytes) -> None:
    fuzz_bytes(data)


@pytest.mark.slow
@LONG
@given(_claims_strategy(), _header_strategy())
def test_slow_signed_claims(claims: dict[str, Any], header: dict[str, Any]) -> None:
    fuzz_signed_claims(claims, header)
