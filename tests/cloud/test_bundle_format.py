"""The bundle format: what verifies, and every way a forged, stale or foreign bundle is refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import subprocess
import sys
import time
from pathlib import Path

import jwt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import d2
from d2._sources.bundle import BUNDLE_TYP, compile_bundle, sign_bundle, verify_bundle
from d2._sources.jwks import generate_private_key, jwks_document, key_id, parse_jwks, public_jwk

POLICY = "policies:\n  - role: r\n    permissions: [tool.a]\n"
KEY = generate_private_key()
KID = key_id(KEY.public_key())
KEYS = parse_jwks(jwks_document([KEY.public_key()]))


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def signed(text: str | None = POLICY, **kw) -> str:  # type: ignore[no-untyped-def]
    args = {"app": "billing", "version": 3, "private_key": KEY, "kid": KID, "ttl": 3600, **kw}
    return sign_bundle(text, **args)


def forge(header: dict, claims: dict, signature: bytes = b"") -> str:  # type: ignore[type-arg]
    return ".".join([b64(json.dumps(header).encode()), b64(json.dumps(claims).encode()), b64(signature)])


def claims_of(token: str) -> dict:  # type: ignore[type-arg]
    return jwt.decode(token, options={"verify_signature": False})


def test_a_signed_bundle_verifies_and_binds_its_content() -> None:
    bundle = verify_bundle(signed(), KEYS)
    assert (bundle.app, bundle.version, bundle.kid, bundle.policy_text) == ("billing", 3, KID, POLICY)
    assert bundle.policy_sha256 == hashlib.sha256(POLICY.encode()).hexdigest()
    header = jwt.get_unverified_header(signed())
    assert header == {"alg": "EdDSA", "kid": KID, "typ": BUNDLE_TYP}


def test_tampered_payload_is_refused() -> None:
    head, _, sig = signed().split(".")
    other = claims_of(signed())
    other["policy"] = "policies:\n  - role: r\n    permissions: ['*']\n"
    other["policy_sha256"] = hashlib.sha256(other["policy"].encode()).hexdigest()
    with pytest.raises(d2.InvalidSignatureError, match="signature"):
        verify_bundle(f"{head}.{b64(json.dumps(other).encode())}.{sig}", KEYS)


def test_alg_none_is_refused() -> None:
    token = forge({"alg": "none", "kid": KID, "typ": BUNDLE_TYP}, claims_of(signed()))
    with pytest.raises(d2.InvalidSignatureError, match="alg"):
        verify_bundle(token, KEYS)


def test_hs256_with_the_public_key_as_secret_is_refused() -> None:
    public = jwks_document([KEY.public_key()])["keys"][0]["x"].encode()
    header = {"alg": "HS256", "kid": KID, "typ": BUNDLE_TYP}
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims_of(signed())).encode())}"
    mac = hmac.new(public, signing_input.encode(), hashlib.sha256).digest()
    with pytest.raises(d2.InvalidSignatureError, match="alg"):
        verify_bundle(f"{signing_input}.{b64(mac)}", KEYS)


def test_unknown_and_missing_kid_are_refused() -> None:
    stranger = generate_private_key()
    with pytest.raises(d2.InvalidSignatureError, match="unknown key"):
        verify_bundle(signed(private_key=stranger, kid=key_id(stranger.public_key())), KEYS)
    # A known kid over a signature by another key is a bad signature, not a key-choice bypass.
    with pytest.raises(d2.InvalidSignatureError, match="signature"):
        verify_bundle(signed(private_key=stranger), KEYS)
    no_kid = jwt.encode(claims_of(signed()), KEY, algorithm="EdDSA", headers={"typ": BUNDLE_TYP})
    with pytest.raises(d2.InvalidSignatureError, match="kid"):
        verify_bundle(no_kid, KEYS)


def test_wrong_audience_type_and_app_are_refused() -> None:
    with pytest.raises(d2.InvalidSignatureError, match="audience"):
        verify_bundle(signed(audience="someone-else"), KEYS)
    other_typ = jwt.encode(claims_of(signed()), KEY, algorithm="EdDSA", headers={"kid": KID, "typ": "JWT"})
    with pytest.raises(d2.InvalidSignatureError, match="typ"):
        verify_bundle(other_typ, KEYS)
    with pytest.raises(d2.InvalidSignatureError, match="app"):
        verify_bundle(signed(), KEYS, app="payroll")


def test_expired_future_and_older_bundles_are_refused() -> None:
    with pytest.raises(d2.BundleExpiredError):
        verify_bundle(signed(now=time.time() - 7200), KEYS)
    with pytest.raises(d2.InvalidSignatureError, match="future"):
        verify_bundle(signed(now=time.time() + 3600), KEYS)
    with pytest.raises(d2.InvalidSignatureError, match="rollback"):
        verify_bundle(signed(version=2), KEYS, min_version=3)
    assert verify_bundle(signed(version=3), KEYS, min_version=3).version == 3


def test_a_digest_that_does_not_match_the_policy_is_refused() -> None:
    claims = claims_of(signed())
    claims["policy_sha256"] = "0" * 64
    token = jwt.encode(claims, KEY, algorithm="EdDSA", headers={"kid": KID, "typ": BUNDLE_TYP})
    with pytest.raises(d2.InvalidSignatureError, match="SHA-256"):
        verify_bundle(token, KEYS)


def test_a_revocation_bundle_carries_no_policy() -> None:
    bundle = verify_bundle(signed(text=None), KEYS)
    assert bundle.revoked and bundle.policy_text is None
    with pytest.raises(d2.ConfigurationError):
        compile_bundle(bundle)


def test_the_bundle_expiry_bounds_the_policy_expiry() -> None:
    far = POLICY + "metadata:\n  expires: '2999-01-01T00:00:00Z'\n"
    bundle = verify_bundle(signed(text=far, ttl=60), KEYS)
    policy = compile_bundle(bundle)
    assert policy.expires == bundle.expires and policy.expires_ts == bundle.expires_at
    assert policy.source == "bundle:billing@v3"


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=0), st.integers(min_value=1, max_value=255))
def test_any_single_byte_change_is_refused(position: int, flip: int) -> None:
    original = signed().encode()
    token = bytearray(original)
    i = position % len(token)
    token[i] = (token[i] ^ flip) & 0x7F or 0x41
    if bytes(token) == original:
        return
    try:
        bundle = verify_bundle(bytes(token), KEYS)
    except (d2.InvalidSignatureError, d2.BundleExpiredError):
        return
    # base64 padding bits can change without changing the decoded bytes: then the content is identical.
    assert bundle.policy_text == POLICY and bundle.version == 3


def test_jwks_skips_keys_that_are_not_ed25519_signing_keys() -> None:
    good = public_jwk(KEY.public_key())
    private = {**good, "kid": "p", "d": "secret"}
    rsa = {"kty": "RSA", "kid": "r", "n": "AQAB", "e": "AQAB"}
    enc = {**good, "kid": "e", "use": "enc"}
    assert set(parse_jwks({"keys": [good, private, rsa, enc]})) == {KID}


def test_import_d2_stays_light() -> None:
    code = "import sys, d2; print(sorted(m for m in ('jwt', 'httpx', 'cryptography') if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert out.stdout.strip() == "[]"
