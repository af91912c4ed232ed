"""The control-plane API against a real server process, on SQLite and on PostgreSQL."""

from __future__ import annotations

import base64
import threading

import httpx

from d2._sources.bundle import verify_bundle
from d2._sources.jwks import parse_jwks

V1 = "policies:\n  - role: r\n    permissions: [tool.a]\n"
V2 = "policies:\n  - role: r\n    permissions: [tool.a, tool.b]\n"
BAD = "policies:\n  - role: r\n    permisions: [tool.a]\n"


def keys(server):  # type: ignore[no-untyped-def]
    return parse_jwks(httpx.get(f"{server.url}/.well-known/jwks.json").json())


def test_health_and_jwks(server) -> None:  # type: ignore[no-untyped-def]
    assert httpx.get(f"{server.url}/healthz").json() == {"ok": True}
    jwks = httpx.get(f"{server.url}/.well-known/jwks.json").json()
    assert jwks["keys"] and all(
        k["kty"] == "OKP" and k["crv"] == "Ed25519" and "d" not in k for k in jwks["keys"]
    )


def test_tokens_are_checked_and_errors_name_the_token_type(app) -> None:  # type: ignore[no-untyped-def]
    anonymous = httpx.get(f"{app.server.url}/v1/policy/bundle")
    assert anonymous.status_code == 401 and "runtime token" in anonymous.json()["message"]
    bogus = app.call("GET", "/v1/policy/bundle", token="d2_rt_nope")
    assert bogus.status_code == 401 and bogus.json()["detail"] == "invalid_token"
    as_runtime = app.publish(V1, token=app.runtime)
    assert as_runtime.status_code == 403
    assert (
        "developer token" in as_runtime.json()["message"] and "policy:write" in as_runtime.json()["message"]
    )
    assert app.call("GET", "/v1/policy/bundle", token=app.runtime).status_code == 404


def test_token_of_another_app_is_refused(app, backend) -> None:  # type: ignore[no-untyped-def]
    other = backend.create_app()
    response = app.call("GET", f"/v1/policy/bundle?app={other}", token=app.runtime)
    assert response.status_code == 403 and response.json()["detail"] == "token_app_mismatch"


def test_publish_needs_a_precondition_and_a_clean_policy(app) -> None:  # type: ignore[no-untyped-def]
    bare = app.call("POST", "/v1/policy/publish", json={"policy": V1})
    assert bare.status_code == 428
    invalid = app.publish(BAD)
    assert invalid.status_code == 422
    diag = invalid.json()["diagnostics"][0]
    assert (
        diag["code"] == "D2E002" and diag["line"] == 3 and "permissions" in (diag["hint"] or diag["message"])
    )
    assert app.head_etag() is None


def test_publish_serves_a_verifiable_bundle_with_etag_and_304(app) -> None:  # type: ignore[no-untyped-def]
    published = app.publish(V1)
    assert published.status_code == 201, published.text
    etag = published.json()["etag"]
    got = app.call("GET", "/v1/policy/bundle", token=app.runtime)
    assert got.status_code == 200 and got.headers["etag"] == etag
    assert got.headers["content-type"].startswith("application/jose")
    assert float(got.headers["x-d2-poll-interval"]) == 1
    bundle = verify_bundle(got.content, keys(app.server))
    assert (bundle.app, bundle.version, bundle.policy_text) == (app.name, 1, V1)
    again = app.call("GET", "/v1/policy/bundle", token=app.runtime, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.headers["etag"] == etag and again.content == b""


def test_two_concurrent_publishes_with_one_etag_exactly_one_wins(app) -> None:  # type: ignore[no-untyped-def]
    etag = app.publish_next(V1).json()["etag"]
    for round_ in range(4):
        barrier = threading.Barrier(2)
        codes: list[int] = []

        def go(policy: str, barrier=barrier, codes=codes, etag=etag) -> None:  # type: ignore[no-untyped-def]
            barrier.wait()
            codes.append(app.publish(policy, etag=etag).status_code)

        threads = [threading.Thread(target=go, args=(p,)) for p in (V1, V2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(codes) == [201, 412], (round_, codes)
        etag = app.head_etag()
    stale = app.publish(V2, etag='"v1.0000000000000000"')
    assert stale.status_code == 412 and stale.headers["etag"] == app.head_etag()


def test_revoke_then_restore_and_publish_again(app) -> None:  # type: ignore[no-untyped-def]
    app.publish_next(V1)
    app.publish_next(V2)
    revoked = app.call("POST", "/v1/policy/revoke", json={})
    assert revoked.status_code == 201 and revoked.json()["version"] == 3
    bundle = verify_bundle(app.call("GET", "/v1/policy/bundle", token=app.runtime).content, keys(app.server))
    assert bundle.revoked and bundle.policy_text is None and bundle.version == 3
    assert app.call("POST", "/v1/policy/revoke", json={}).status_code == 409
    restored = app.call("POST", "/v1/policy/revoke", json={"restore": 1})
    assert restored.status_code == 201 and restored.json()["version"] == 4
    bundle = verify_bundle(app.call("GET", "/v1/policy/bundle", token=app.runtime).content, keys(app.server))
    assert (bundle.version, bundle.policy_text) == (4, V1)


def test_draft_is_stored_and_publishable(app) -> None:  # type: ignore[no-untyped-def]
    saved = app.call("PUT", "/v1/policy/draft", json={"policy": BAD})
    assert saved.status_code == 200 and saved.json()["valid"] is False
    assert app.call("GET", "/v1/policy/draft").json()["policy"] == BAD
    refused = app.call(
        "POST", "/v1/policy/publish", json={"from_draft": True}, headers={"If-None-Match": "*"}
    )
    assert refused.status_code == 422
    app.call("PUT", "/v1/policy/draft", json={"policy": V2})
    ok = app.call("POST", "/v1/policy/publish", json={"from_draft": True}, headers={"If-None-Match": "*"})
    assert ok.status_code == 201 and ok.json()["version"] == 1
    assert app.call("GET", "/v1/policy/draft", token=app.runtime).status_code == 403


def test_events_ingest_limits_chunk_size_and_rate(app, backend) -> None:  # type: ignore[no-untyped-def]
    event = {"event_type": "authz_decision", "payload": {"tool": "a", "allowed": True}, "occurred_at": "now"}
    ok = app.call("POST", "/v1/events/ingest", token=app.runtime, json={"events": [event] * 3})
    assert ok.status_code == 202 and ok.json() == {"accepted": 3}
    big = app.call("POST", "/v1/events/ingest", token=app.runtime, json={"events": [event] * 600})
    assert big.status_code == 413
    with httpx.Client(base_url=app.server.url, headers={"Authorization": f"Bearer {app.runtime}"}) as client:
        codes = [client.post("/v1/events/ingest", json={"events": [event]}) for _ in range(100)]
    limited = [r for r in codes if r.status_code == 429]
    assert limited and int(limited[0].headers["retry-after"]) >= 1


def _signed(key, body: bytes, *, app: str, public: bool = True, **pre: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    from d2tools.cloud.client import device_headers

    headers = device_headers(
        key,
        body,
        method="POST",
        path="/v1/policy/publish",
        app=app,
        if_match=pre.get("If-Match"),
        if_none_match=pre.get("If-None-Match", "*"),
    )
    if not public:
        headers.pop("X-D2-Public-Key")
    return headers


def test_device_key_registers_on_first_publish_and_must_verify(app, backend) -> None:  # type: ignore[no-untyped-def]
    from d2._sources.jwks import generate_private_key

    key = generate_private_key()
    body = b'{"policy": "policies:\\n  - role: r\\n    permissions: [tool.a]\\n"}'
    url = f"{app.server.url}/v1/policy/publish"
    auth = {"Authorization": f"Bearer {app.developer}", "If-None-Match": "*"}
    unknown = httpx.post(
        url, content=body, headers={**auth, **_signed(key, body, app=app.name, public=False)}
    )
    assert unknown.status_code == 401 and unknown.json()["detail"] == "unknown_device_key"
    tampered = _signed(key, body, app=app.name)
    tampered["X-D2-Signature"] = base64.b64encode(b"\0" * 64).decode()
    assert httpx.post(url, content=body, headers={**auth, **tampered}).status_code == 401
    good = httpx.post(url, content=body, headers={**auth, **_signed(key, body, app=app.name)})
    assert good.status_code == 201, good.text
    other = backend.token("developer", app.name)
    foreign = httpx.post(
        url,
        content=body,
        headers={
            **auth,
            "Authorization": f"Bearer {other}",
            "If-Match": good.json()["etag"],
            **_signed(key, body, app=app.name, **{"If-Match": good.json()["etag"]}),
        },
    )
    assert foreign.status_code == 403


def test_key_rotation_resigns_and_keeps_the_old_key_published(app, backend) -> None:  # type: ignore[no-untyped-def]
    first = app.publish_next(V1).json()
    new_kid = backend.rotate_key()
    assert new_kid != first["kid"]
    deadline = 30
    got = None
    for _ in range(deadline):
        got = app.call("GET", "/v1/policy/bundle", token=app.runtime)
        if got.headers["x-d2-key-id"] == new_kid:
            break
        threading.Event().wait(0.1)
    assert got is not None and got.headers["x-d2-key-id"] == new_kid
    assert got.headers["etag"] != first["etag"] and got.headers["x-d2-bundle-version"] == "1"
    published = {k["kid"] for k in httpx.get(f"{app.server.url}/.well-known/jwks.json").json()["keys"]}
    assert {first["kid"], new_kid} <= published


def test_two_servers_share_one_database(app, spawn) -> None:  # type: ignore[no-untyped-def]
    other = spawn()
    first = app.publish_next(V1).json()
    seen = httpx.get(f"{other.url}/v1/policy/bundle", headers={"Authorization": f"Bearer {app.runtime}"})
    assert seen.status_code == 200 and seen.headers["etag"] == first["etag"]
    # A publish through the second replica, with the ETag the first one issued, is served by the first.
    second = httpx.post(
        f"{other.url}/v1/policy/publish",
        json={"policy": V2},
        headers={"Authorization": f"Bearer {app.developer}", "If-Match": first["etag"]},
    )
    assert second.status_code == 201, second.text
    for _ in range(40):
        back = app.call("GET", "/v1/policy/bundle", token=app.runtime)
        if back.headers["etag"] == second.json()["etag"]:
            break
        threading.Event().wait(0.1)
    assert back.headers["etag"] == second.json()["etag"]
    assert verify_bundle(back.content, keys(app.server)).policy_text == V2
