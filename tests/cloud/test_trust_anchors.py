"""Trust anchors: where signing keys may come from, key pinning and continuity, app binding, rollback floor.

Each test is an attack from issue 11 (items 1-4 and 21) replayed against a real static host on
127.0.0.1: a state file someone else edited, a JWKS answer that swaps keys, a redirect to another
origin, a bundle signed for another app, a restart that forgets the rollback floor.
"""

from __future__ import annotations

import base64
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

import d2
from d2._toolkit import bundle_source, generate_private_key, jwks_document, key_id, sign_bundle

V1 = "policies:\n  - role: r\n    permissions: [tool.a]\n"
V2 = "policies:\n  - role: r\n    permissions: [tool.a, tool.b]\n"
OPEN = "policies:\n  - role: r\n    permissions: ['*']\n"
KEY = generate_private_key()
KID = key_id(KEY.public_key())


@d2.d2_guard("tool.a")
def tool_a() -> str:
    return "a"


@d2.d2_guard("tool.b")
def tool_b() -> str:
    return "b"


@d2.d2_guard("tool.secret")
def tool_secret() -> str:
    return "secret"


def sign(text: str | None, version: int, key=KEY, app: str = "shop", **kw) -> str:  # type: ignore[no-untyped-def]
    return sign_bundle(
        text,
        app=app,
        version=version,
        private_key=key,
        kid=key_id(key.public_key()),
        ttl=kw.pop("ttl", 3600),
        **kw,
    )


def allowed(fn) -> bool:  # type: ignore[no-untyped-def]
    with d2.set_user_context("u", ["r"]):
        try:
            fn()
        except d2.PermissionDeniedError:
            return False
    return True


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture
def env(host: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("D2_STATE_PATH", str(tmp_path / "bundles.json"))
    monkeypatch.setenv("D2_POLL_INTERVAL", "3600")
    monkeypatch.setenv("D2_APP", "shop")
    host.put("/jwks.json", json.dumps(jwks_document([KEY.public_key()])))
    host.put("/bundle.jws", sign(V2, 2))
    return host


def start(host: Any, **kw) -> None:  # type: ignore[no-untyped-def]
    d2.configure_rbac_sync(
        bundle_url=f"{host.url}/bundle.jws", jwks_url=f"{host.url}/jwks.json", startup_timeout=2, **kw
    )


def plant_attacker_state(state: Path) -> None:
    """What someone with write access to the state file does: their key, their permissive v99."""
    attacker = generate_private_key()
    data = json.loads(state.read_text())
    entry = next(iter(data["sources"].values()))
    entry["bundle"] = sign(OPEN, 99, key=attacker)
    entry["jwks"] = jwks_document([attacker.public_key()])
    state.write_text(json.dumps(data))
    state.chmod(0o600)


# -- item 1: the state file never supplies trust anchors -----------------------------------------------
def test_an_edited_state_file_never_installs_its_policy_offline(env, tmp_path) -> None:  # type: ignore[no-untyped-def]
    start(env)
    assert bundle_source().current.version == 2
    d2.shutdown_all_rbac()
    plant_attacker_state(tmp_path / "bundles.json")
    env.close()
    start(env)
    assert bundle_source().current is None
    assert not allowed(tool_secret) and not allowed(tool_a)


def test_an_edited_state_file_does_not_raise_the_floor_over_genuine_bundles(env, tmp_path) -> None:  # type: ignore[no-untyped-def]
    start(env)
    d2.shutdown_all_rbac()
    plant_attacker_state(tmp_path / "bundles.json")
    env.put("/bundle.jws", sign(V2, 3))
    start(env)
    source = bundle_source()
    assert source.current is not None and source.current.version == 3, source.last_error
    assert allowed(tool_b) and not allowed(tool_secret)


def test_pinned_keys_verify_the_saved_bundle_offline_and_refuse_a_planted_one(env, tmp_path) -> None:  # type: ignore[no-untyped-def]
    start(env, pin_jwks_thumbprints=[KID])
    d2.shutdown_all_rbac()
    env.close()
    start(env, pin_jwks_thumbprints=[KID])
    assert bundle_source().current.version == 2 and allowed(tool_b)
    d2.shutdown_all_rbac()
    plant_attacker_state(tmp_path / "bundles.json")
    start(env, pin_jwks_thumbprints=[KID])
    assert bundle_source().current is None and not allowed(tool_secret)


def test_the_state_file_is_private_and_a_shared_or_foreign_one_is_ignored(env, tmp_path) -> None:  # type: ignore[no-untyped-def]
    state = tmp_path / "bundles.json"
    start(env, pin_jwks_thumbprints=[KID])
    assert state.stat().st_mode & 0o777 == 0o600
    d2.shutdown_all_rbac()
    env.close()
    state.chmod(0o666)
    start(env, pin_jwks_thumbprints=[KID])
    assert bundle_source().current is None, "a world-writable state file is not read"
    d2.shutdown_all_rbac()
    state.chmod(0o600)
    if os.getuid() == 0:
        os.chown(state, 65534, 65534)
        start(env, pin_jwks_thumbprints=[KID])
        assert bundle_source().current is None, "a state file owned by another user is not read"


# -- item 2: pinning, continuity, transport ------------------------------------------------------------
def test_a_pinned_key_refuses_a_jwks_without_it(env, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    stranger = generate_private_key()
    env.put("/jwks.json", json.dumps(jwks_document([stranger.public_key()])))
    env.put("/bundle.jws", sign(OPEN, 2, key=stranger))
    start(env, pin_jwks_thumbprints=[KID])
    source = bundle_source()
    assert source.current is None and isinstance(source.last_error, d2.InvalidSignatureError)
    assert KID in str(source.last_error)
    assert not allowed(tool_secret)


def test_pins_come_from_the_environment_too(env, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    stranger = generate_private_key()
    monkeypatch.setenv("D2_PIN_JWKS_THUMBPRINTS", f" {key_id(stranger.public_key())} , {KID}")
    start(env)
    assert bundle_source().current.version == 2
    d2.shutdown_all_rbac()
    monkeypatch.setenv("D2_PIN_JWKS_THUMBPRINTS", key_id(stranger.public_key()))
    start(env)
    assert bundle_source().current is None


def test_a_malformed_pin_is_a_configuration_error(env) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(d2.ConfigurationError, match="thumbprint"):
        start(env, pin_jwks_thumbprints=["not a thumbprint!"])


def test_an_extra_key_beside_the_pinned_one_is_not_trusted(env) -> None:  # type: ignore[no-untyped-def]
    attacker = generate_private_key()
    env.put("/jwks.json", json.dumps(jwks_document([KEY.public_key(), attacker.public_key()])))
    env.put("/bundle.jws", sign(OPEN, 5, key=attacker))
    start(env, pin_jwks_thumbprints=[KID])
    assert bundle_source().current is None and not allowed(tool_secret)


def test_an_unknown_kid_never_replaces_the_trusted_key_set(env) -> None:  # type: ignore[no-untyped-def]
    start(env)
    source = bundle_source()
    source.jwks.min_refresh = 0
    attacker = generate_private_key()
    env.put("/jwks.json", json.dumps(jwks_document([attacker.public_key()])))
    env.put("/bundle.jws", sign(OPEN, 9, key=attacker))
    source.poll_once()
    assert isinstance(source.last_error, d2.InvalidSignatureError)
    assert source.current.version == 2 and not allowed(tool_secret)
    # Keeping the trusted key in the set does not help either: nothing trusted vouches for the new one.
    env.put("/jwks.json", json.dumps(jwks_document([KEY.public_key(), attacker.public_key()])))
    source.poll_once()
    assert source.current.version == 2 and not allowed(tool_secret)
    self_vouched = jwks_document([KEY.public_key(), attacker.public_key()], signers=[attacker])
    env.put("/jwks.json", json.dumps(self_vouched))
    source.poll_once()
    assert source.current.version == 2 and not allowed(tool_secret)


def test_a_new_key_vouched_for_by_a_trusted_key_is_accepted(env) -> None:  # type: ignore[no-untyped-def]
    start(env, pin_jwks_thumbprints=[KID])
    source = bundle_source()
    source.jwks.min_refresh = 0
    new = generate_private_key()
    env.put("/jwks.json", json.dumps(jwks_document([KEY.public_key(), new.public_key()], signers=[KEY])))
    env.put("/bundle.jws", sign(V1, 3, key=new))
    source.poll_once()
    assert source.current.version == 3 and source.current.kid == key_id(new.public_key()), source.last_error
    # The old key may now leave the set: the new one is trusted in its own right.
    newer = generate_private_key()
    env.put("/jwks.json", json.dumps(jwks_document([new.public_key(), newer.public_key()], signers=[new])))
    env.put("/bundle.jws", sign(V2, 4, key=newer))
    source.poll_once()
    assert source.current.version == 4, source.last_error


def test_malformed_endorsements_are_skipped_not_fatal(env) -> None:  # type: ignore[no-untyped-def]
    start(env, pin_jwks_thumbprints=[KID])
    source = bundle_source()
    source.jwks.min_refresh = 0
    new = generate_private_key()
    document = jwks_document([KEY.public_key(), new.public_key()], signers=[KEY])
    good = document["d2_endorsements"][0]
    head, body, sig = good.split(".")
    document["d2_endorsements"] = [
        123,
        None,
        "a.b",
        "x" * 20_000,
        f"{head}.{body}.{sig[:-4]}AAAA",  # signature broken
        f"{b64(json.dumps({'alg': 'EdDSA', 'typ': 'JWT', 'kid': KID}).encode())}.{body}.{sig}",
        f"{b64(b'[1]')}.{body}.{sig}",
        good,
    ]
    env.put("/jwks.json", json.dumps(document))
    env.put("/bundle.jws", sign(V1, 3, key=new))
    source.poll_once()
    assert source.current.version == 3, source.last_error
    document["d2_endorsements"] = document["d2_endorsements"][:-1]  # without the one good endorsement
    newer = generate_private_key()
    document["keys"].append(jwks_document([newer.public_key()])["keys"][0])
    env.put("/jwks.json", json.dumps(document))
    env.put("/bundle.jws", sign(OPEN, 4, key=newer))
    source.poll_once()
    assert source.current.version == 3 and not allowed(tool_secret)


def test_plain_http_is_refused_outside_loopback(monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("D2_APP", "shop")
    monkeypatch.setenv("D2_STATE_PATH", str(tmp_path / "s.json"))
    for bundle, jwks in (
        ("http://policies.example.com/b.jws", "https://policies.example.com/jwks.json"),
        ("https://policies.example.com/b.jws", "http://policies.example.com/jwks.json"),
    ):
        with pytest.raises(d2.ConfigurationError, match="https"):
            d2.configure_rbac_sync(bundle_url=bundle, jwks_url=jwks, startup_timeout=0.1)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.10", "localhost", "[::1]"])
def test_plain_http_is_fine_on_loopback(monkeypatch, tmp_path, host: str) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("D2_APP", "shop")
    monkeypatch.setenv("D2_STATE_PATH", str(tmp_path / "s.json"))
    d2.configure_rbac_sync(
        bundle_url=f"http://{host}:9/b.jws", jwks_url=f"http://{host}:9/k.json", startup_timeout=0.5
    )
    assert bundle_source().current is None and d2.get_policy_manager().mode == "cloud"


def test_redirects_to_another_origin_are_never_followed(env) -> None:  # type: ignore[no-untyped-def]
    elsewhere = type(env)()
    try:
        attacker = generate_private_key()
        elsewhere.put("/jwks.json", json.dumps(jwks_document([attacker.public_key()])))
        elsewhere.put("/bundle.jws", sign(OPEN, 2, key=attacker))
        env.put("/jwks.json", "", status=302, Location=f"{elsewhere.url}/jwks.json")
        env.put("/bundle.jws", "", status=302, Location=f"{elsewhere.url}/bundle.jws")
        start(env)
        assert bundle_source().current is None and not allowed(tool_secret)
        assert sum(elsewhere.hits.values()) == 0, "the other origin was never asked"
    finally:
        elsewhere.close()


def test_a_same_origin_redirect_is_followed(env) -> None:  # type: ignore[no-untyped-def]
    env.put("/v2/bundle.jws", sign(V2, 2))
    env.put("/bundle.jws", "", status=301, Location="/v2/bundle.jws")
    start(env)
    assert bundle_source().current.version == 2


# -- item 3: no persisted floor, no cloud mode (unless the user says so) --------------------------------
def test_memory_state_needs_an_explicit_opt_out(env, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("D2_STATE_PATH", ":memory:")
    with pytest.raises(d2.ConfigurationError, match="D2_ALLOW_VOLATILE_FLOOR"):
        start(env)
    start(env, allow_volatile_floor=True)
    assert bundle_source().current.version == 2
    d2.shutdown_all_rbac()
    monkeypatch.setenv("D2_ALLOW_VOLATILE_FLOOR", "1")
    start(env)
    assert bundle_source().current.version == 2


def test_an_unwritable_state_path_needs_an_explicit_opt_out(env, monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    monkeypatch.setenv("D2_STATE_PATH", str(blocker / "bundles.json"))
    with pytest.raises(d2.ConfigurationError, match="rollback"):
        start(env)


# -- item 4: the app is bound ------------------------------------------------------------------------
def test_cloud_mode_without_an_app_is_a_clear_error(env, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("D2_APP")
    with pytest.raises(d2.ConfigurationError, match="D2_APP"):
        start(env)


def test_a_first_bundle_for_another_app_is_refused(env) -> None:  # type: ignore[no-untyped-def]
    env.put("/bundle.jws", sign(OPEN, 7, app="other"))
    start(env)
    assert bundle_source().current is None and not allowed(tool_secret)


def test_app_argument_binds_like_the_variable(env, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("D2_APP")
    start(env, app="shop")
    assert bundle_source().current.version == 2
    env.put("/bundle.jws", sign(OPEN, 9, app="other"))
    bundle_source().poll_once()
    assert bundle_source().current.version == 2 and not allowed(tool_secret)


# -- item 21: the floor after a restart uses the real clock -------------------------------------------
def test_after_restart_an_expired_saved_bundle_still_sets_the_floor(env) -> None:  # type: ignore[no-untyped-def]
    env.put("/bundle.jws", sign(V2, 5, now=time.time() - 3598, ttl=3600))
    start(env)
    assert bundle_source().current.version == 5
    d2.shutdown_all_rbac()
    time.sleep(2.2)
    env.put("/bundle.jws", sign(OPEN, 3))  # genuine, valid, but older than what this service has seen
    start(env)
    source = bundle_source()
    assert source.current is None and isinstance(source.last_error, d2.InvalidSignatureError)
    assert "rollback" in str(source.last_error) and not allowed(tool_secret)
