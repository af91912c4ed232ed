"""Bundle signing and the verified bundle, pinned where mutation testing of ``_sources/bundle.py`` found gaps.

The wire format is version 1 (a token written by hand with ``fmt: 1`` verifies); versions start at 1;
a bundle lives at least one second; ``expired`` follows the real clock, inclusive at ``exp``; and a
verified bundle cannot be edited after the fact.
"""

from __future__ import annotations

import dataclasses
import time
from types import SimpleNamespace

import jwt
import pytest

from d2._sources import bundle as bundle_module
from d2._sources.bundle import UnknownKeyError
from d2._toolkit import generate_private_key, jwks_document, key_id, parse_jwks, sign_bundle, verify_bundle
from d2.exceptions import InvalidSignatureError

POLICY = "policies:\n  - role: r\n    permissions: [tool.a]\n"
KEY = generate_private_key()
KID = key_id(KEY.public_key())
KEYS = parse_jwks(jwks_document([KEY.public_key()]))
NOW = 1_900_000_000


def test_a_hand_written_format_1_token_verifies() -> None:
    claims = {
        "aud": "d2:policy",
        "app": "billing",
        "ver": 1,
        "iat": NOW,
        "exp": NOW + 60,
        "fmt": 1,
        "policy": POLICY,
        "policy_sha256": bundle_module.policy_digest(POLICY),
    }
    token = jwt.encode(claims, KEY, algorithm="EdDSA", headers={"kid": KID, "typ": "d2-bundle+jwt"})
    bundle = verify_bundle(token, KEYS, now=NOW)
    assert (bundle.app, bundle.version, bundle.policy_text) == ("billing", 1, POLICY)
    assert (
        jwt.decode(
            sign_bundle(POLICY, app="a", version=1, private_key=KEY, kid=KID, ttl=60),
            options={"verify_signature": False},
        )["fmt"]
        == 1
    )


def test_versions_start_at_one() -> None:
    token = sign_bundle(POLICY, app="billing", version=1, private_key=KEY, kid=KID, ttl=60, now=NOW)
    assert verify_bundle(token, KEYS, now=NOW).version == 1
    with pytest.raises(ValueError, match="start at 1"):
        sign_bundle(POLICY, app="billing", version=0, private_key=KEY, kid=KID, ttl=60, now=NOW)


@pytest.mark.parametrize("ttl", [0, 0.5, -5])
def test_a_bundle_lives_at_least_one_second(ttl: float) -> None:
    token = sign_bundle(POLICY, app="billing", version=2, private_key=KEY, kid=KID, ttl=ttl, now=NOW)
    bundle = verify_bundle(token, KEYS, now=NOW)
    assert bundle.expires_at - bundle.issued_at == 1


def test_expired_follows_the_real_clock_inclusive_at_exp(monkeypatch: pytest.MonkeyPatch) -> None:
    token = sign_bundle(POLICY, app="billing", version=2, private_key=KEY, kid=KID, ttl=60, now=NOW)
    bundle = verify_bundle(token, KEYS, now=NOW)
    monkeypatch.setattr(bundle_module, "time", SimpleNamespace(time=lambda: float(NOW + 59)))
    assert bundle.expired is False
    monkeypatch.setattr(bundle_module, "time", SimpleNamespace(time=lambda: float(NOW + 60)))
    assert bundle.expired is True


def test_an_expired_bundle_read_for_its_floor_says_it_is_expired() -> None:
    an_hour_ago = time.time() - 3600
    token = sign_bundle(POLICY, app="billing", version=4, private_key=KEY, kid=KID, ttl=60, now=an_hour_ago)
    bundle = verify_bundle(token, KEYS, allow_expired=True)
    assert bundle.expired is True and bundle.version == 4


def test_a_verified_bundle_cannot_be_edited() -> None:
    bundle = verify_bundle(
        sign_bundle(POLICY, app="billing", version=2, private_key=KEY, kid=KID, ttl=60, now=NOW),
        KEYS,
        now=NOW,
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        bundle.version = 99  # type: ignore[misc]


def _claims(**over: object) -> dict[str, object]:
    base: dict[str, object] = {
        "aud": "d2:policy",
        "app": "billing",
        "ver": 2,
        "iat": NOW,
        "exp": NOW + 60,
        "fmt": 1,
        "policy": POLICY,
        "policy_sha256": bundle_module.policy_digest(POLICY),
    }
    base.update(over)
    return {k: v for k, v in base.items() if v is not None}


def _token(claims: dict[str, object], **header: object) -> str:
    return jwt.encode(claims, KEY, algorithm="EdDSA", headers={"kid": KID, "typ": "d2-bundle+jwt", **header})


@pytest.mark.parametrize("kid", [""])
def test_an_empty_or_non_string_kid_is_refused_not_looked_up(kid: object) -> None:
    with pytest.raises(InvalidSignatureError, match="no 'kid'") as info:
        verify_bundle(_token(_claims(), kid=kid), KEYS, now=NOW)
    assert not isinstance(info.value, UnknownKeyError)  # no JWKS refresh for a malformed header


def test_the_last_second_of_year_9999_is_a_valid_expiry() -> None:
    last = 253_402_300_799
    assert verify_bundle(_token(_claims(exp=last)), KEYS, now=NOW).expires_at == last
    with pytest.raises(InvalidSignatureError, match="year 10000"):
        verify_bundle(_token(_claims(exp=last + 1)), KEYS, now=NOW)
    issued_last = _token(_claims(iat=last, exp=last))
    assert verify_bundle(issued_last, KEYS, now=last - 10).issued_at == last


@pytest.mark.parametrize(
    "over",
    [{"policy": None}, {"policy_sha256": None}, {"policy": None, "policy_sha256": None}],
    ids=["digest-only", "policy-only", "neither"],
)
def test_a_bundle_without_both_policy_and_digest_is_refused(over: dict[str, object]) -> None:
    with pytest.raises(InvalidSignatureError, match="carries no policy"):
        verify_bundle(_token(_claims(**over)), KEYS, now=NOW)
