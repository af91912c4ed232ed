"""Bundle format edge cases (issue 11, item 22): boundaries the verifier must hold exactly."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import jwt
import pytest

import d2
from d2._toolkit import (
    bundle_source,
    generate_private_key,
    jwks_document,
    key_id,
    parse_jwks,
    sign_bundle,
    verify_bundle,
)

POLICY = "policies:\n  - role: r\n    permissions: [tool.a]\n"
OPEN = "policies:\n  - role: r\n    permissions: ['*']\n"
KEY = generate_private_key()
KID = key_id(KEY.public_key())
KEYS = parse_jwks(jwks_document([KEY.public_key()]))
NOW = 1_900_000_000


@d2.d2_guard("tool.a")
def tool_a() -> str:
    return "a"


@d2.d2_guard("tool.other")
def tool_other() -> str:
    return "other"


def claims(**over: Any) -> dict[str, Any]:
    token = sign_bundle(POLICY, app="billing", version=3, private_key=KEY, kid=KID, ttl=3600, now=NOW)
    base = dict(jwt.decode(token, options={"verify_signature": False}))
    base.update(over)
    return {k: v for k, v in base.items() if v is not None}


def resign(body: dict[str, Any], **header: Any) -> str:
    """Sign arbitrary claims with the trusted key: the signature is fine, only the content is odd."""
    return jwt.encode(body, KEY, algorithm="EdDSA", headers={"kid": KID, "typ": "d2-bundle+jwt", **header})


def test_expiry_is_exclusive_at_the_second() -> None:
    token = resign(claims())
    exp = claims()["exp"]
    assert verify_bundle(token, KEYS, now=exp - 1).version == 3
    with pytest.raises(d2.BundleExpiredError):
        verify_bundle(token, KEYS, now=exp)


def test_issued_in_the_future_beyond_leeway_is_refused() -> None:
    token = resign(claims())
    iat = claims()["iat"]
    assert verify_bundle(token, KEYS, now=iat - 30).version == 3
    with pytest.raises(d2.InvalidSignatureError, match="future"):
        verify_bundle(token, KEYS, now=iat - 31)


@pytest.mark.parametrize(
    "extra", [{"jku": "https://evil.example/jwks.json"}, {"x5u": "x"}, {"crit": ["b64"]}]
)
def test_extra_header_fields_are_refused(extra: dict[str, Any]) -> None:
    with pytest.raises(d2.InvalidSignatureError, match="unsupported"):
        verify_bundle(resign(claims(), **extra), KEYS, now=NOW)


def test_a_revocation_that_carries_a_policy_is_refused() -> None:
    with pytest.raises(d2.InvalidSignatureError, match="revocation"):
        verify_bundle(resign(claims(revoked=True)), KEYS, now=NOW)


@pytest.mark.parametrize("ver", [0, -1, True, 1.5, "3", None])
def test_version_must_be_a_positive_integer(ver: Any) -> None:
    with pytest.raises(d2.InvalidSignatureError):
        verify_bundle(resign(claims(ver=ver) if ver is not None else _without("ver")), KEYS, now=NOW)


def _without(name: str) -> dict[str, Any]:
    body = claims()
    del body[name]
    return body


@pytest.mark.parametrize("name", ["aud", "app", "ver", "iat", "exp", "fmt"])
def test_every_required_claim_is_required(name: str) -> None:
    with pytest.raises(d2.InvalidSignatureError):
        verify_bundle(resign(_without(name)), KEYS, now=NOW)


def test_signing_version_zero_is_refused() -> None:
    with pytest.raises(ValueError):
        sign_bundle(POLICY, app="a", version=0, private_key=KEY, kid=KID, ttl=60)


# -- through a running source ---------------------------------------------------------------------------
@pytest.fixture
def running(host: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("D2_STATE_PATH", str(tmp_path / "bundles.json"))
    monkeypatch.setenv("D2_POLL_INTERVAL", "3600")
    monkeypatch.setenv("D2_APP", "billing")
    host.put("/jwks.json", json.dumps(jwks_document([KEY.public_key()])))
    host.put("/b.jws", sign_bundle(POLICY, app="billing", version=4, private_key=KEY, kid=KID, ttl=3600))
    d2.configure_rbac_sync(bundle_url=f"{host.url}/b.jws", jwks_url=f"{host.url}/jwks.json")
    source = bundle_source()
    assert source is not None and source.current is not None
    return source


def allowed(fn) -> bool:  # type: ignore[no-untyped-def]
    with d2.set_user_context("u", ["r"]):
        try:
            fn()
        except d2.PermissionDeniedError:
            return False
    return True


def test_a_different_bundle_with_the_same_version_is_refused(running, host) -> None:  # type: ignore[no-untyped-def]
    before = d2.get_policy_manager().policy
    host.put("/b.jws", sign_bundle(OPEN, app="billing", version=4, private_key=KEY, kid=KID, ttl=3600))
    running.poll_once()
    assert isinstance(running.last_error, d2.InvalidSignatureError) and "differs" in str(running.last_error)
    assert d2.get_policy_manager().policy is before and not allowed(tool_other)


def test_the_same_bundle_renewed_is_accepted(running, host) -> None:  # type: ignore[no-untyped-def]
    host.put("/b.jws", sign_bundle(POLICY, app="billing", version=4, private_key=KEY, kid=KID, ttl=7200))
    running.poll_once()
    assert running.last_error is None and running.current.expires_at > time.time() + 3700


def test_a_bundle_for_another_app_never_replaces_the_policy(running, host) -> None:  # type: ignore[no-untyped-def]
    before = d2.get_policy_manager().policy
    for version in (5, 99):
        host.put("/b.jws", sign_bundle(OPEN, app="other", version=version, private_key=KEY, kid=KID, ttl=60))
        running.poll_once()
        assert isinstance(running.last_error, d2.InvalidSignatureError)
        assert d2.get_policy_manager().policy is before and running.floor == 4
    assert allowed(tool_a) and not allowed(tool_other)


def test_a_truncated_or_padded_token_is_refused(running, host) -> None:  # type: ignore[no-untyped-def]
    good = sign_bundle(OPEN, app="billing", version=5, private_key=KEY, kid=KID, ttl=60)
    head, payload, sig = good.split(".")
    for bad in (
        good[:-3],
        f"{head}.{payload}.{sig}AAAA",
        f"{head}.{payload}",
        good + ".x",
        base64.b64encode(b"x").decode(),
    ):
        host.put("/b.jws", bad)
        running.poll_once()
        assert isinstance(running.last_error, d2.InvalidSignatureError), bad
        assert running.current.version == 4


def test_the_size_cap_is_exactly_24_mib_as_documented() -> None:
    cap = 24 * 1024 * 1024
    with pytest.raises(d2.PolicyTooLargeError):
        verify_bundle("a" * (cap + 1), KEYS)
    with pytest.raises(d2.InvalidSignatureError) as refused:
        verify_bundle("a" * cap, KEYS)
    assert not isinstance(refused.value, d2.PolicyTooLargeError)


@pytest.mark.parametrize(
    "over,ok",
    [
        ({"ver": 1}, True),
        ({"ver": 2**53 - 1}, True),
        ({"ver": 2**53}, False),
        ({"iat": 0, "exp": NOW + 10}, True),
        ({"exp": 253_402_300_799}, True),
        ({"exp": 253_402_300_800}, False),
        ({"app": 123}, False),
        ({"app": ""}, False),
    ],
    ids=str,
)
def test_claim_boundaries(over: dict[str, Any], ok: bool) -> None:
    token = resign(claims(**over))
    if ok:
        assert verify_bundle(token, KEYS, now=NOW).app == "billing"
    else:
        with pytest.raises(d2.InvalidSignatureError):
            verify_bundle(token, KEYS, now=NOW)
