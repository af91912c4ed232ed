"""Signed session references: bound to a user, expiring, tamper-evident, compact, free of raw ids."""

from __future__ import annotations

import base64
import json
import time

import pytest

import d2
from d2._runtime.session_ref import SessionReferenceError, sign_reference, verify_reference

KEY = b"k" * 32


def test_a_reference_verifies_for_its_user() -> None:
    ref = sign_reference(KEY, "sess-1", "alice", 60)
    claims = verify_reference(KEY, ref, "alice")
    assert claims.session_id == "sess-1"
    assert claims.expires > time.time()
    assert len(ref) < 200


def test_a_reference_carries_no_raw_user_id() -> None:
    ref = sign_reference(KEY, "sess-1", "alice@example.com", 60)
    payload = json.loads(base64.urlsafe_b64decode(ref.split(".")[1] + "=="))
    assert "alice" not in json.dumps(payload)
    assert set(payload) == {"s", "u", "x"}


def test_another_users_request_cannot_use_it() -> None:
    ref = sign_reference(KEY, "sess-1", "alice", 60)
    with pytest.raises(SessionReferenceError, match="another user"):
        verify_reference(KEY, ref, "mallory")


def test_an_expired_reference_is_refused() -> None:
    ref = sign_reference(KEY, "sess-1", "alice", 10, now=time.time() - 100)
    with pytest.raises(SessionReferenceError, match="expired"):
        verify_reference(KEY, ref, "alice")


def _swap_session(ref: str, session: str) -> str:
    version, body, mac = ref.split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=="))
    payload["s"] = session
    new = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    return f"{version}.{new}.{mac}"


@pytest.mark.parametrize(
    "tamper",
    [
        lambda r: _swap_session(r, "someone-elses-session"),
        lambda r: r[:-2] + ("AA" if not r.endswith("AA") else "BB"),
        lambda r: "v2" + r[2:],
        lambda r: r.rsplit(".", 1)[0],
        lambda r: r + "." + r,
        lambda r: "",
        lambda r: r.replace(".", ".!", 1),
    ],
)
def test_tampered_references_are_refused(tamper: object) -> None:
    ref = sign_reference(KEY, "sess-1", "alice", 60)
    with pytest.raises(SessionReferenceError):
        verify_reference(KEY, tamper(ref), "alice")  # type: ignore[operator]


def test_another_key_does_not_verify() -> None:
    ref = sign_reference(KEY, "sess-1", "alice", 60)
    with pytest.raises(SessionReferenceError, match="signature"):
        verify_reference(b"x" * 32, ref, "alice")


def test_session_reference_needs_a_key_and_a_user() -> None:
    with pytest.raises(d2.D2NoContextError):
        d2.session_reference()
    with (
        d2.set_user_context("alice", ["agent"]),
        pytest.raises(d2.ConfigurationError, match="D2_SESSION_KEY"),
    ):
        d2.session_reference()


def test_short_keys_are_refused() -> None:
    with pytest.raises(d2.ConfigurationError, match="16 bytes"):
        d2.configure_session_state(signing_key="short")


def test_join_in_process_reference(policy: object) -> None:
    d2.configure_session_state(signing_key=KEY)

    @d2.d2_guard("db.read")
    def read() -> str:
        return "rows"

    @d2.d2_guard("web.post")
    def post() -> str:
        return "sent"

    with d2.set_user_context("alice", ["agent"]):
        read()
        ref = d2.session_reference()
    with d2.set_user_context("alice", ["agent"]), d2.join_session(ref):
        with pytest.raises(d2.PermissionDeniedError) as info:
            post()
        assert info.value.reason == "sequence_violation"
    with d2.set_user_context("mallory", ["agent"]), d2.join_session(ref):
        with pytest.raises(d2.PermissionDeniedError) as info:
            post()
        assert info.value.reason == "session_invalid"


# -- v2: Ed25519-signed references, verified with a JWKS (no shared secret) ------------------------


def _ed25519_pair() -> tuple[object, str, dict[str, object]]:
    from d2._toolkit import generate_private_key, jwks_document, private_key_pem

    private = generate_private_key()
    pem = private_key_pem(private).decode()
    return private, pem, jwks_document([private.public_key()])  # type: ignore[list-item]


def test_v2_reference_verifies_with_the_public_key_only() -> None:
    from d2._runtime.session_ref import sign_reference_ed25519, verify_reference_keys
    from d2._sources.jwks import key_id, parse_jwks

    private, _, jwks = _ed25519_pair()
    kid = key_id(private.public_key())  # type: ignore[attr-defined]
    ref = sign_reference_ed25519(private, kid, "sess-9", "alice", 60)
    keys = parse_jwks(jwks)
    assert verify_reference_keys(keys, ref, "alice").session_id == "sess-9"
    with pytest.raises(SessionReferenceError, match="another user"):
        verify_reference_keys(keys, ref, "mallory")
    with pytest.raises(SessionReferenceError, match="does not verify"):
        verify_reference_keys(keys, _swap_session(ref, "other"), "alice")
    with pytest.raises(SessionReferenceError, match="unknown key"):
        verify_reference_keys({}, ref, "alice")
    old = sign_reference_ed25519(private, kid, "sess-9", "alice", 10, now=time.time() - 100)
    with pytest.raises(SessionReferenceError, match="expired"):
        verify_reference_keys(keys, old, "alice")


def test_a_verify_only_service_joins_with_a_jwks(policy: object, tmp_path: object, redis_url: str) -> None:
    import json
    from pathlib import Path

    _, pem, jwks = _ed25519_pair()
    path = Path(str(tmp_path)) / "session-jwks.json"
    path.write_text(json.dumps(jwks))

    @d2.d2_guard("db.read")
    def read() -> str:
        return "rows"

    @d2.d2_guard("web.post")
    def post() -> str:
        return "sent"

    d2.configure_session_state(redis_url, signing_key=pem)  # the issuing service holds the private key
    with d2.set_user_context("alice", ["agent"]):
        read()
        ref = d2.session_reference()
    assert ref.startswith("v2.")
    d2.configure_session_state(redis_url, verify_jwks=str(path))  # a service with the public key only
    with d2.set_user_context("alice", ["agent"]), d2.join_session(ref):
        with pytest.raises(d2.PermissionDeniedError) as info:
            post()
    assert info.value.reason == "sequence_violation"
    with d2.set_user_context("mallory", ["agent"]), d2.join_session(ref):
        with pytest.raises(d2.PermissionDeniedError) as info:
            post()
    assert info.value.reason == "session_invalid"


def test_a_service_without_the_jwks_refuses_v2(policy: object) -> None:
    _, pem, _ = _ed25519_pair()
    d2.configure_session_state(signing_key=pem)
    with d2.set_user_context("alice", ["agent"]):
        ref = d2.session_reference()
    d2.configure_session_state(signing_key="a-shared-secret-of-32-bytes-long!")

    @d2.d2_guard("notes.write")
    def note() -> str:
        return "ok"

    with d2.set_user_context("alice", ["agent"]), d2.join_session(ref):
        with pytest.raises(d2.PermissionDeniedError) as info:
            note()
    assert info.value.reason == "session_invalid"
    assert "D2_SESSION_JWKS" in str(info.value)


def test_a_bad_jwks_is_a_configuration_error(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "bad.json"
    path.write_text('{"keys": []}')
    with pytest.raises(d2.ConfigurationError, match="no Ed25519"):
        d2.configure_session_state(verify_jwks=str(path))
    with pytest.raises(d2.ConfigurationError, match="cannot read"):
        d2.configure_session_state(verify_jwks=str(path) + ".missing")
