"""Malformed control-plane input gets a 4xx with a clear JSON body, never a 500 (issue 11, items 18 and 25).

Against a real server process on 127.0.0.1 with a valid developer token: deep JSON, lone surrogates,
huge integers in ``If-Match`` and ``restore``, ``{"restore": true}``, NaN in ingest, bodies over the
size limit (read no further than the limit), and a few hundred generated malformed requests.
"""

from __future__ import annotations

import json
import random
import socket
import time
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

V1 = "policies:\n  - role: r\n    permissions: [tool.a]\n"


def clear_4xx(response: httpx.Response) -> dict[str, Any]:
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    body = response.json()
    assert isinstance(body, dict) and body.get("detail") and body.get("message"), body
    return dict(body)


def send(app, method: str, path: str, content: bytes, **headers: str) -> httpx.Response:  # type: ignore[no-untyped-def]
    headers = {"Authorization": f"Bearer {app.developer}", "Content-Type": "application/json", **headers}
    return httpx.request(method, f"{app.server.url}{path}", content=content, headers=headers, timeout=30)


@pytest.mark.parametrize(
    "path,method",
    [("/v1/policy/draft", "PUT"), ("/v1/policy/publish", "POST"), ("/v1/policy/revoke", "POST")],
)
def test_deeply_nested_json_is_a_400(app, path: str, method: str) -> None:  # type: ignore[no-untyped-def]
    deep = b"[" * 30_000 + b"]" * 30_000
    body = clear_4xx(send(app, method, path, deep, **{"If-None-Match": "*"}))
    assert body["detail"] in ("too_deep", "bad_json")
    nested = b'{"policy": ' + b'{"a": ' * 5000 + b"1" + b"}" * 5000 + b"}"
    clear_4xx(send(app, method, path, nested, **{"If-None-Match": "*"}))


def test_deeply_nested_yaml_policy_is_refused_not_a_crash(app) -> None:  # type: ignore[no-untyped-def]
    text = "policies: " + "[" * 20_000 + "]" * 20_000 + "\n"
    draft = send(app, "PUT", "/v1/policy/draft", json.dumps({"policy": text}).encode())
    assert draft.status_code < 500, draft.text[:300]
    if draft.status_code == 200:
        assert draft.json()["valid"] is False
    publish = send(
        app, "POST", "/v1/policy/publish", json.dumps({"policy": text}).encode(), **{"If-None-Match": "*"}
    )
    clear_4xx(publish)
    assert app.head_etag() is None


def test_a_lone_surrogate_is_a_400(app) -> None:  # type: ignore[no-untyped-def]
    body = b'{"policy": "policies:\\n  - role: \\ud800\\n    permissions: [tool.a]\\n"}'
    assert clear_4xx(send(app, "PUT", "/v1/policy/draft", body))["detail"] == "bad_text"
    clear_4xx(send(app, "POST", "/v1/policy/publish", body, **{"If-None-Match": "*"}))
    events = b'{"events": [{"event_type": "x\\udfff", "payload": {}}]}'
    clear_4xx(
        httpx.post(
            f"{app.server.url}/v1/events/ingest",
            content=events,
            headers={"Authorization": f"Bearer {app.runtime}"},
        )
    )
    payload = b'{"events": [{"event_type": "x", "payload": {"k": "\\ud800"}}]}'
    clear_4xx(
        httpx.post(
            f"{app.server.url}/v1/events/ingest",
            content=payload,
            headers={"Authorization": f"Bearer {app.runtime}"},
        )
    )


@pytest.mark.parametrize(
    "etag",
    ['"v' + "9" * 5000 + '"', '"v' + "9" * 30 + '"', '"v-1"', "v1e9", '"v00000000000000000000001"'],
    ids=["5000-digits", "30-digits", "negative", "exponent", "leading-zeros"],
)
def test_huge_or_odd_if_match_is_a_412_not_a_crash(app, etag: str) -> None:  # type: ignore[no-untyped-def]
    app.publish_next(V1)
    for path, body in (("/v1/policy/publish", {"policy": V1}), ("/v1/policy/revoke", {})):
        response = send(app, "POST", path, json.dumps(body).encode(), **{"If-Match": etag})
        assert clear_4xx(response)["detail"] in ("precondition_failed", "bad_precondition"), response.text


@pytest.mark.parametrize("restore", [True, False, 10**30, -1, 0, 1.5, "1", [1], {"v": 1}, "HUGE"])
def test_restore_must_be_a_published_version_number(app, restore: Any) -> None:  # type: ignore[no-untyped-def]
    app.publish_next(V1)
    huge = b'{"restore": ' + b"9" * 5000 + b"}"
    content = huge if restore == "HUGE" else json.dumps({"restore": restore}).encode()
    response = send(app, "POST", "/v1/policy/revoke", content)
    assert clear_4xx(response)["detail"] in ("bad_restore", "unknown_version", "bad_json"), response.text
    status = app.call("GET", "/v1/status").json()["head"]
    assert status["version"] == 1 and status["kind"] == "publish", "nothing was restored or revoked"


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity", b"1e999"])
def test_ingest_refuses_non_finite_numbers(app, literal: bytes) -> None:  # type: ignore[no-untyped-def]
    body = b'{"events": [{"event_type": "x", "payload": {"v": ' + literal + b'}, "occurred_at": 1}]}'
    response = httpx.post(
        f"{app.server.url}/v1/events/ingest", content=body, headers={"Authorization": f"Bearer {app.runtime}"}
    )
    assert clear_4xx(response)["detail"] == "bad_json"
    when = b'{"events": [{"event_type": "x", "payload": {}, "occurred_at": ' + literal + b"}]}"
    response = httpx.post(
        f"{app.server.url}/v1/events/ingest", content=when, headers={"Authorization": f"Bearer {app.runtime}"}
    )
    clear_4xx(response)


def _chunked_upload(url: str, path: str, token: str, *, chunk: int, limit: int) -> tuple[int, bytes]:
    """Stream a chunked body until the server answers; return (bytes sent, the start of the answer)."""
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=30)
    sent = 0
    try:
        head = (
            f"PUT {path} HTTP/1.1\r\nHost: {parts.hostname}\r\nAuthorization: Bearer {token}\r\n"
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        sock.sendall(head.encode())
        piece = f"{chunk:x}\r\n".encode() + b" " * chunk + b"\r\n"
        sock.setblocking(False)
        answer = b""
        while sent < limit:
            try:
                answer = sock.recv(4096)
                if answer:
                    break
            except BlockingIOError:
                pass
            except OSError:
                break
            try:
                sock.setblocking(True)
                sock.settimeout(5)
                sock.sendall(piece)
                sock.setblocking(False)
            except OSError:
                break
            sent += chunk
        if not answer:
            sock.setblocking(True)
            sock.settimeout(10)
            try:
                answer = sock.recv(4096)
            except OSError:
                answer = b""
        return sent, answer
    finally:
        sock.close()


def test_a_chunked_body_is_read_only_up_to_the_limit(app) -> None:  # type: ignore[no-untyped-def]
    limit = 64 * 1024 * 1024
    sent, answer = _chunked_upload(
        app.server.url, "/v1/policy/draft", app.developer, chunk=256 * 1024, limit=limit
    )
    assert sent < 24 * 1024 * 1024, f"the server read {sent} bytes of an over-limit body"
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]


def test_a_declared_oversized_body_is_refused_before_reading(app) -> None:  # type: ignore[no-untyped-def]
    parts = urlsplit(app.server.url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(
            f"PUT /v1/policy/draft HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {app.developer}\r\n"
            f"Content-Length: {10**12}\r\n\r\n".encode()
        )
        started = time.monotonic()
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 413") and time.monotonic() - started < 5, answer[:200]


# -- generated malformed requests -----------------------------------------------------------------------
def _bodies(rng: random.Random) -> list[bytes]:
    valid = json.dumps({"policy": V1}).encode()
    return [
        b"",
        b"{",
        b"null",
        b"[]",
        b'"policy"',
        b"\xff\xfe\x00",
        valid[: rng.randrange(1, len(valid))],
        bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200))),
        b'{"policy": 5}',
        b'{"policy": ["x"]}',
        b'{"policy": "x", "format": "toml"}',
        b'{"policy": null, "from_draft": "yes"}',
        b'{"restore": ' + str(rng.choice([2**63, -(2**63) - 1, 10**40])).encode() + b"}",
        b'{"restore": NaN}',
        b'{"events": ' + b"[" * 3000 + b"]" * 3000 + b"}",
        b'{"events": [{"event_type": ' + b"1" * 5000 + b"}]}",
        b'{"events": [' + b'{"event_type": "x"},' * 5 + b"1]}",
        b'{"policy": "' + b"\\ud83d" * 3 + b'"}',
        b'{"a": ' * 2000 + b"0" + b"}" * 2000,
        json.dumps({"policy": "policies:\n  - role: r\n    permissions: [" + "a" * 10 + "\n"}).encode(),
        json.dumps({"policy": "&a [*a, *a]"}).encode(),
        json.dumps({"policy": "policies: !!python/object:os.system ls"}).encode(),
    ]


def _headers(rng: random.Random) -> dict[str, str]:
    choices = [
        {},
        {"If-Match": '"v' + "9" * rng.randrange(1, 6000) + '"'},
        {"If-Match": "*"},
        {"If-Match": 'garbage, "v1"'},
        {"If-None-Match": "*"},
        {"If-None-Match": "nope"},
        {"X-D2-App": "x" * 300},
        {"X-D2-Key-Id": "k", "X-D2-Signature": "!!!"},
        {"X-D2-Key-Id": "k", "X-D2-Signature": "AAAA", "X-D2-Public-Key": "%%%"},
        {"X-D2-Key-Id": "k", "X-D2-Signature": "AAAA", "X-D2-Signed-At": "9" * 400},
        {"Content-Type": "text/plain"},
    ]
    return dict(rng.choice(choices))


def test_hundreds_of_malformed_requests_never_get_a_500(app) -> None:  # type: ignore[no-untyped-def]
    _fuzz(app, seed=11, rounds=300)


@pytest.mark.slow
def test_thousands_of_malformed_requests_never_get_a_500(app) -> None:  # type: ignore[no-untyped-def]
    for seed in range(8):
        _fuzz(app, seed=1000 + seed, rounds=500)


def _fuzz(app, *, seed: int, rounds: int) -> None:  # type: ignore[no-untyped-def]
    """Send ``rounds`` generated malformed requests with valid tokens; every answer is a clear non-500."""
    rng = random.Random(seed)
    routes = [
        ("PUT", "/v1/policy/draft", app.developer),
        ("POST", "/v1/policy/publish", app.developer),
        ("POST", "/v1/policy/revoke", app.developer),
        ("POST", "/v1/events/ingest", app.runtime),
        ("GET", "/v1/policy/bundle", app.runtime),
        ("GET", "/v1/status", app.runtime),
    ]
    failures: list[tuple[str, str, int, str]] = []
    count = 0
    with httpx.Client(base_url=app.server.url, timeout=30) as client:
        for _ in range(rounds):
            method, path, token = rng.choice(routes)
            body = rng.choice(_bodies(rng))
            headers = {"Authorization": f"Bearer {token}", **_headers(rng)}
            query = rng.choice(["", "?app=" + app.name, "?app=%ED%A0%80", "?app=" + "z" * 500])
            response = client.request(
                method, path + query, content=body if method != "GET" else None, headers=headers
            )
            count += 1
            if response.status_code >= 500:
                failures.append((method, path, response.status_code, response.text[:120]))
            elif response.status_code >= 400:
                data = response.json()
                if not (isinstance(data, dict) and data.get("detail") and data.get("message")):
                    failures.append((method, path, response.status_code, response.text[:120]))
    assert count == rounds and not failures, failures[:10]


@pytest.mark.parametrize(
    "path",
    [
        "/v1/policy/versions?limit=" + "9" * 5000,
        "/v1/policy/versions?limit=99999999999999999999",
        "/v1/policy/versions?limit=%C2%B2",
        "/v1/policy/versions?limit=-1",
        "/v1/policy/versions/" + "9" * 5000,
        "/v1/policy/versions/99999999999999999999999",
        "/v1/policy/versions/%C2%B2",
        "/v1/policy/versions/%ED%A0%80",
        "/v1/policy/versions/0",
    ],
    ids=lambda p: p[:40],
)
def test_version_numbers_in_urls_are_4xx(app, path: str) -> None:  # type: ignore[no-untyped-def]
    clear_4xx(app.call("GET", path))
