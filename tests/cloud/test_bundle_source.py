"""The SDK bundle source against a real static host: verification, fail-closed, persistence, pacing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path

import jwt
import pytest

import d2
from d2._sources.bundle import BUNDLE_TYP, sign_bundle
from d2._sources.cloud import bundle_source
from d2._sources.jwks import generate_private_key, jwks_document, key_id

V1 = "policies:\n  - role: r\n    permissions: [tool.a]\n"
V2 = "policies:\n  - role: r\n    permissions: [tool.a, tool.b]\n"
KEY = generate_private_key()
KID = key_id(KEY.public_key())


@d2.d2_guard("tool.a")
def tool_a() -> str:
    return "a"


@d2.d2_guard("tool.b")
def tool_b() -> str:
    return "b"


def sign(text: str | None, version: int, key=KEY, **kw) -> str:  # type: ignore[no-untyped-def]
    return sign_bundle(
        text,
        app="shop",
        version=version,
        private_key=key,
        kid=key_id(key.public_key()),
        ttl=kw.pop("ttl", 3600),
        **kw,
    )


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture
def cloud(host, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Serve v2 and the JWKS, configure d2 against them (background polling parked), return the source."""
    monkeypatch.setenv("D2_STATE_PATH", str(tmp_path / "bundles.json"))
    monkeypatch.setenv("D2_POLL_INTERVAL", "3600")
    monkeypatch.setenv("D2_APP", "shop")
    host.put("/jwks.json", json.dumps(jwks_document([KEY.public_key()])))
    host.put("/bundle.jws", sign(V2, 2))
    d2.configure_rbac_sync(bundle_url=f"{host.url}/bundle.jws", jwks_url=f"{host.url}/jwks.json")
    source = bundle_source()
    assert source is not None and source.current is not None and source.current.version == 2
    return source


def allowed(fn) -> bool:  # type: ignore[no-untyped-def]
    with d2.set_user_context("u", ["r"]):
        try:
            fn()
        except d2.PermissionDeniedError:
            return False
    return True


def test_a_static_bundle_is_verified_installed_and_polled_with_etag(cloud, host) -> None:  # type: ignore[no-untyped-def]
    assert d2.get_policy_manager().mode == "cloud"
    assert allowed(tool_a) and allowed(tool_b)
    cloud.poll_once()
    assert host.hits[("/bundle.jws", 304)] == 1 and cloud.last_error is None
    assert all(a is None for a in host.auth), "no token configured: no Authorization header"
    host.put("/bundle.jws", sign(V1, 3))
    cloud.poll_once()
    assert cloud.current.version == 3 and not allowed(tool_b)


def _forgeries() -> dict[str, str]:
    good = sign(V1, 5)
    head, payload, sig = good.split(".")
    claims = jwt.decode(good, options={"verify_signature": False})
    widened = {**claims, "policy": "policies:\n  - role: r\n    permissions: ['*']\n"}
    widened["policy_sha256"] = hashlib.sha256(widened["policy"].encode()).hexdigest()
    none_header = b64(json.dumps({"alg": "none", "kid": KID, "typ": BUNDLE_TYP}).encode())
    hs_header = b64(json.dumps({"alg": "HS256", "kid": KID, "typ": BUNDLE_TYP}).encode())
    secret = jwks_document([KEY.public_key()])["keys"][0]["x"].encode()
    hs_mac = hmac.new(secret, f"{hs_header}.{payload}".encode(), hashlib.sha256).digest()
    stranger = generate_private_key()
    return {
        "tampered payload": f"{head}.{b64(json.dumps(widened).encode())}.{sig}",
        "alg none": f"{none_header}.{payload}.",
        "HS256 with the public key": f"{hs_header}.{payload}.{b64(hs_mac)}",
        "unknown kid": sign(V1, 5, key=stranger),
        "older version": sign(V1, 1),
        "wrong audience": sign(V1, 5, audience="elsewhere"),
    }


@pytest.mark.parametrize("name", list(_forgeries()))
def test_forged_or_stale_bundles_are_refused_and_the_old_policy_kept(cloud, host, name: str) -> None:  # type: ignore[no-untyped-def]
    host.put("/bundle.jws", _forgeries()[name])
    before = d2.get_policy_manager().policy
    cloud.poll_once()
    assert isinstance(cloud.last_error, d2.InvalidSignatureError), cloud.last_error
    assert cloud.current.version == 2 and d2.get_policy_manager().policy is before
    assert allowed(tool_b)


def test_unknown_kid_refreshes_the_jwks_at_a_bounded_rate(cloud, host, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    new = generate_private_key()
    # The new key is vouched for by the trusted one (key continuity); see test_trust_anchors.py.
    host.put("/jwks.json", json.dumps(jwks_document([KEY.public_key(), new.public_key()], signers=[KEY])))
    host.put("/bundle.jws", sign(V1, 3, key=new))
    cloud.jwks.min_refresh = 0.2
    time.sleep(0.25)
    cloud.poll_once()
    assert cloud.current.version == 3 and cloud.current.kid == key_id(new.public_key())
    fetched = host.hits[("/jwks.json", 200)]
    cloud.jwks.min_refresh = 60
    host.put("/bundle.jws", sign(V1, 4, key=generate_private_key()))
    for _ in range(5):
        cloud.poll_once()
    assert host.hits[("/jwks.json", 200)] == fetched, "refreshes within min_refresh are skipped"
    assert isinstance(cloud.last_error, d2.InvalidSignatureError) and cloud.current.version == 3


def test_the_persisted_bundle_is_reverified_and_works_offline(cloud, host, tmp_path) -> None:  # type: ignore[no-untyped-def]
    url, jwks = cloud.config.bundle_url, cloud.config.jwks_url
    d2.shutdown_all_rbac()
    host.close()
    d2.configure_rbac_sync(bundle_url=url, jwks_url=jwks, startup_timeout=2, pin_jwks_thumbprints=[KID])
    assert bundle_source().current.version == 2 and allowed(tool_b)
    d2.shutdown_all_rbac()
    state = tmp_path / "bundles.json"
    data = json.loads(state.read_text())
    entry = next(iter(data["sources"].values()))
    head, payload, sig = entry["bundle"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["ver"] = 99
    entry["bundle"] = f"{head}.{b64(json.dumps(claims).encode())}.{sig}"
    state.write_text(json.dumps(data))
    d2.configure_rbac_sync(bundle_url=url, jwks_url=jwks, startup_timeout=2, pin_jwks_thumbprints=[KID])
    assert bundle_source().current is None
    with d2.set_user_context("u", ["r"]), pytest.raises(d2.MissingPolicyError):
        tool_a()


def test_memory_state_persists_nothing(host, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("D2_STATE_PATH", ":memory:")
    monkeypatch.setenv("D2_ALLOW_VOLATILE_FLOOR", "1")
    monkeypatch.setenv("D2_APP", "shop")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    host.put("/jwks.json", json.dumps(jwks_document([KEY.public_key()])))
    host.put("/bundle.jws", sign(V1, 1))
    d2.configure_rbac_sync(bundle_url=f"{host.url}/bundle.jws", jwks_url=f"{host.url}/jwks.json")
    assert allowed(tool_a) and not list(tmp_path.rglob("*.json"))


def test_revocation_refuses_every_call(cloud, host) -> None:  # type: ignore[no-untyped-def]
    host.put("/bundle.jws", sign(None, 3))
    cloud.poll_once()
    assert cloud.current.revoked
    with d2.set_user_context("u", ["r"]), pytest.raises(d2.MissingPolicyError):
        tool_a()


def test_pacing_retry_after_backoff_and_clamped_interval(cloud, host, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    host.put("/bundle.jws", "slow down", status=429, **{"Retry-After": "7"})
    assert cloud.poll_once() >= 7 * 0.9
    host.put("/bundle.jws", "boom", status=503)
    delays = [cloud.poll_once() for _ in range(4)]
    assert delays[-1] > delays[0] * 3 and delays[-1] <= cloud.config.max_backoff * 1.1
    assert cloud.current.version == 2 and allowed(tool_b)
    host.put("/bundle.jws", sign(V2, 2), **{"X-D2-Poll-Interval": "0.01"})
    cloud.poll_once()
    assert cloud.interval == cloud.config.min_poll_interval >= 1.0 and cloud.failures == 0
    host.put("/bundle.jws", sign(V2, 2), **{"X-D2-Poll-Interval": "42"})
    assert 42 * 0.9 <= cloud.poll_once() <= 42 * 1.1


def test_startup_never_hangs_and_refuses_until_a_bundle_arrives(host, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("D2_STATE_PATH", ":memory:")
    monkeypatch.setenv("D2_ALLOW_VOLATILE_FLOOR", "1")
    monkeypatch.setenv("D2_APP", "shop")
    host.put("/jwks.json", json.dumps(jwks_document([KEY.public_key()])))
    host.put("/bundle.jws", sign(V1, 1))
    host.files["/bundle.jws"].delay = 2.0
    started = time.monotonic()
    d2.configure_rbac_sync(
        bundle_url=f"{host.url}/bundle.jws", jwks_url=f"{host.url}/jwks.json", startup_timeout=0.3
    )
    assert time.monotonic() - started < 1.5
    with d2.set_user_context("u", ["r"]), pytest.raises(d2.MissingPolicyError):
        tool_a()
    deadline = time.monotonic() + 10
    while bundle_source().current is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert allowed(tool_a)


def test_a_refused_token_at_start_is_a_clear_configuration_error(host, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("D2_STATE_PATH", ":memory:")
    monkeypatch.setenv("D2_ALLOW_VOLATILE_FLOOR", "1")
    monkeypatch.setenv("D2_APP", "shop")
    monkeypatch.setenv("D2_TOKEN", "d2_rt_wrong")
    host.put("/v1/policy/bundle", json.dumps({"detail": "invalid_token"}), status=401)
    monkeypatch.setenv("D2_API_URL", host.url)
    with pytest.raises(d2.ConfigurationError, match="runtime token"):
        d2.configure_rbac_sync()
    assert host.auth[-1] == "Bearer d2_rt_wrong"


def test_a_token_without_an_api_url_says_what_to_set(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("D2_TOKEN", "d2_rt_x")
    with pytest.raises(d2.ConfigurationError, match="D2_API_URL"):
        d2.configure_rbac_sync()


OPEN = "policies:\n  - role: r\n    permissions: ['*']\n"


def test_an_unsigned_policy_beside_a_signature_is_never_used(cloud, host, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The vendor accepted a plain policy sitting next to a signature; only signed content counts here."""
    url, jwks = cloud.config.bundle_url, cloud.config.jwks_url
    signature = sign(V1, 3).rsplit(".", 1)[1]
    host.put("/bundle.jws", json.dumps({"policy": OPEN, "signature": signature}))
    cloud.poll_once()
    assert isinstance(cloud.last_error, d2.InvalidSignatureError) and cloud.current.version == 2
    assert not allowed(lambda: d2.d2_guard("tool.secret")(lambda: None)())
    d2.shutdown_all_rbac()
    state = tmp_path / "bundles.json"
    data = json.loads(state.read_text())
    entry = next(iter(data["sources"].values()))
    entry["policy"] = OPEN  # a permissive policy planted beside the signed bundle in the state file
    state.write_text(json.dumps(data))
    host.close()
    d2.configure_rbac_sync(bundle_url=url, jwks_url=jwks, startup_timeout=2, pin_jwks_thumbprints=[KID])
    assert bundle_source().current.version == 2 and allowed(tool_b)
    assert not allowed(lambda: d2.d2_guard("tool.secret")(lambda: None)())
