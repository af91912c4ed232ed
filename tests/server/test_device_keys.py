"""``--require-device-key`` stops a stolen developer token (issue 11, item 17), on SQLite and PostgreSQL.

Device keys are registered out of band by an administrator; a key the server has never been told
about is refused, and publish, revoke and restore are signed over the method, path, app, the
``If-Match``/``If-None-Match`` precondition, a timestamp and the body, so a captured request cannot be
replayed against another app, another head or later.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
from typing import Any

import httpx
import pytest

from d2._toolkit import generate_private_key
from d2tools.cloud.client import device_headers

V1 = "policies:\n  - role: r\n    permissions: [tool.a]\n"
V2 = "policies:\n  - role: r\n    permissions: [tool.a, tool.b]\n"


def raw_public(key) -> str:  # type: ignore[no-untyped-def]
    from cryptography.hazmat.primitives import serialization

    data = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Signed:
    """Sends signed control-plane requests for one app with one device key."""

    def __init__(self, url: str, app: str, token: str, key) -> None:  # type: ignore[no-untyped-def]
        self.url, self.app, self.token, self.key = url, app, token, key

    def headers(self, method: str, path: str, body: bytes, pre: dict[str, str], **kw: Any) -> dict[str, str]:
        signed = device_headers(
            self.key,
            body,
            method=method,
            path=path,
            app=kw.pop("app", self.app),
            if_match=pre.get("If-Match"),
            if_none_match=pre.get("If-None-Match"),
            **kw,
        )
        return {"Authorization": f"Bearer {self.token}", **pre, **signed}

    def send(
        self, method: str, path: str, body: dict[str, Any], pre: dict[str, str], **kw: Any
    ) -> httpx.Response:
        content = json.dumps(body).encode()
        headers = kw.pop("headers", None) or self.headers(method, path, content, pre, **kw)
        url = f"{self.url}{path}?app={self.app}"
        return httpx.request(method, url, content=content, headers=headers, timeout=10)


@pytest.fixture
def strict(spawn, backend, app):  # type: ignore[no-untyped-def]
    return spawn("--require-device-key")


def register(backend, key) -> str:  # type: ignore[no-untyped-def]
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "d2tools.server",
            "register-device-key",
            *backend.admin_args(),
            "--",  # a base64url key may start with "-"
            raw_public(key),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_an_unknown_device_key_is_refused_not_registered(strict, app, backend) -> None:  # type: ignore[no-untyped-def]
    thief = Signed(strict.url, app.name, app.developer, generate_private_key())
    first = thief.send("POST", "/v1/policy/publish", {"policy": V1}, {"If-None-Match": "*"})
    assert first.status_code == 401 and first.json()["detail"] == "unknown_device_key", first.text
    assert "register-device-key" in first.json()["message"]
    again = thief.send("POST", "/v1/policy/publish", {"policy": V1}, {"If-None-Match": "*"})
    assert again.status_code == 401, "a refused key is not remembered either"
    unsigned = httpx.post(
        f"{strict.url}/v1/policy/publish",
        json={"policy": V1},
        headers={"Authorization": f"Bearer {app.developer}", "If-None-Match": "*"},
    )
    assert unsigned.status_code == 401 and unsigned.json()["detail"] == "device_signature_required"


def test_a_registered_key_publishes_and_revoke_needs_a_signature(strict, app, backend) -> None:  # type: ignore[no-untyped-def]
    key = generate_private_key()
    kid = register(backend, key)
    dev = Signed(strict.url, app.name, app.developer, key)
    published = dev.send("POST", "/v1/policy/publish", {"policy": V1}, {"If-None-Match": "*"})
    assert published.status_code == 201, published.text
    etag = published.json()["etag"]
    assert kid and published.json()["kid"]
    unsigned = httpx.post(
        f"{strict.url}/v1/policy/revoke",
        json={},
        headers={"Authorization": f"Bearer {app.developer}", "If-Match": etag},
    )
    assert unsigned.status_code == 401 and unsigned.json()["detail"] == "device_signature_required"
    no_precondition = dev.send("POST", "/v1/policy/revoke", {}, {})
    assert no_precondition.status_code == 428
    revoked = dev.send("POST", "/v1/policy/revoke", {}, {"If-Match": etag})
    assert revoked.status_code == 201, revoked.text
    restored = dev.send("POST", "/v1/policy/revoke", {"restore": 1}, {"If-Match": revoked.json()["etag"]})
    assert restored.status_code == 201 and restored.json()["version"] == 3, restored.text


def test_a_captured_signed_request_cannot_be_replayed(strict, app, backend) -> None:  # type: ignore[no-untyped-def]
    key = generate_private_key()
    register(backend, key)
    dev = Signed(strict.url, app.name, app.developer, key)
    etag = dev.send("POST", "/v1/policy/publish", {"policy": V1}, {"If-None-Match": "*"}).json()["etag"]
    body = json.dumps({}).encode()
    captured = dev.headers("POST", "/v1/policy/revoke", body, {"If-Match": etag})
    first = httpx.post(f"{strict.url}/v1/policy/revoke", content=body, headers=captured)
    assert first.status_code == 201, first.text
    # Replayed as is: the head moved, so the precondition it is bound to no longer holds.
    replay = httpx.post(f"{strict.url}/v1/policy/revoke", content=body, headers=captured)
    assert replay.status_code == 412
    # Replayed with the precondition rewritten: the signature no longer matches.
    moved = {**captured, "If-Match": first.json()["etag"]}
    assert httpx.post(f"{strict.url}/v1/policy/revoke", content=body, headers=moved).status_code == 401
    # Replayed against another app the same token may write: bound to the app, so refused.
    other = backend.create_app()
    wide = backend.token("developer", None)
    dev_wide = Signed(strict.url, other, wide, key)
    other_etag = dev_wide.send("POST", "/v1/policy/publish", {"policy": V1}, {"If-None-Match": "*"}).json()[
        "etag"
    ]
    stolen = dev_wide.headers("POST", "/v1/policy/revoke", body, {"If-Match": other_etag}, app=app.name)
    cross = httpx.post(f"{strict.url}/v1/policy/revoke?app={other}", content=body, headers=stolen)
    assert cross.status_code == 401
    # A restore body swapped under a valid signature is refused.
    swapped = httpx.post(
        f"{strict.url}/v1/policy/revoke",
        content=b'{"restore": 1}',
        headers={**captured, "If-Match": first.json()["etag"]},
    )
    assert swapped.status_code == 401


def test_a_stale_signature_is_refused(strict, app, backend) -> None:  # type: ignore[no-untyped-def]
    key = generate_private_key()
    register(backend, key)
    dev = Signed(strict.url, app.name, app.developer, key)
    old = dev.send(
        "POST",
        "/v1/policy/publish",
        {"policy": V1},
        {"If-None-Match": "*"},
        signed_at=int(time.time()) - 3600,
    )
    assert old.status_code == 401 and old.json()["detail"] == "stale_device_signature"


def test_register_device_key_refuses_garbage(backend) -> None:  # type: ignore[no-untyped-def]
    out = subprocess.run(
        [sys.executable, "-m", "d2tools.server", "register-device-key", "not-a-key", *backend.admin_args()],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2 and "Ed25519" in out.stderr


def test_the_cli_signs_publish_revoke_and_restore(app, spawn, backend, tmp_path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    from d2tools.cli import main

    strict = spawn("--require-device-key")
    monkeypatch.setenv("D2_API_URL", strict.url)
    monkeypatch.setenv("D2_TOKEN", app.developer)
    policy = tmp_path / "policy.yaml"
    policy.write_text(V1)
    assert main(["serve", "device-key"]) == 0
    public = capsys.readouterr().out.strip()
    assert main(["publish", str(policy)]) == 1
    assert "register-device-key" in capsys.readouterr().err.replace("\n", " ")
    schema = ["--schema", backend.schema] if backend.schema else []
    assert main(["serve", "register-device-key", "--db", backend.db, *schema, "--", public]) == 0
    capsys.readouterr()
    assert main(["publish", str(policy)]) == 0, capsys.readouterr()
    assert main(["revoke", "--yes"]) == 0, capsys.readouterr()
    assert main(["revoke", "--yes", "--restore", "1"]) == 0, capsys.readouterr()
    assert "restored v1 as v3" in capsys.readouterr().out
