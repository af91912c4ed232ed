"""A client of the control-plane API for the CLI: typed calls, device-key signing, the CLI's own state.

The CLI remembers the current app (``d2 switch``) and the ETag of the version each app was last
pulled or published at, in ``$XDG_CONFIG_HOME/d2/cli.json``; ``d2 publish`` sends that ETag as
``If-Match``, so publishing over someone else's newer version fails with 412 instead of losing it.
"""

from __future__ import annotations

import base64
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from d2._toolkit import (
    DEVELOPER_TOKEN,
    RUNTIME_TOKEN,
    HttpError,
    Response,
    generate_private_key,
    http_request,
    key_id,
    load_private_key,
    private_key_pem,
    xdg_policy_dir,
)
from d2tools.server.signing import signing_message

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

__all__ = ["CliState", "Client", "device_key", "load_cli_state", "save_cli_state"]


@dataclass
class CliState:
    """The CLI's memory between runs: current app and the ETag each app was last seen at."""

    app: str | None = None
    etags: dict[str, str] | None = None


def _state_path() -> Path:
    return xdg_policy_dir() / "cli.json"


def load_cli_state() -> CliState:
    try:
        data = json.loads(_state_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return CliState(etags={})
    if not isinstance(data, dict):
        return CliState(etags={})
    etags = data.get("etags") if isinstance(data.get("etags"), dict) else {}
    return CliState(
        app=data.get("app") if isinstance(data.get("app"), str) else None, etags=dict(etags or {})
    )


def save_cli_state(state: CliState) -> None:
    path = _state_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"app": state.app, "etags": state.etags or {}}, indent=2), encoding="utf-8")
    os.replace(tmp, path)


def device_key() -> Ed25519PrivateKey:
    """The publisher's device key (``D2_DEVICE_KEY``, else ``device_key.pem`` by the CLI state)."""
    path = Path(os.environ.get("D2_DEVICE_KEY") or xdg_policy_dir() / "device_key.pem")
    if path.is_file():
        return load_private_key(path.read_bytes())
    key = generate_private_key()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(private_key_pem(key))
    return key


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def public_key_text(key: Ed25519PrivateKey) -> str:
    """The base64url raw public key, as ``d2 serve register-device-key`` takes it."""
    from cryptography.hazmat.primitives import serialization

    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return _b64url(raw)


def device_headers(
    key: Ed25519PrivateKey,
    body: bytes,
    *,
    method: str,
    path: str,
    app: str,
    if_match: str | None = None,
    if_none_match: str | None = None,
    signed_at: int | None = None,
) -> dict[str, str]:
    """Sign the request's intent (see :mod:`.signing`): key id, signature, time, and the public key."""
    when = int(time.time()) if signed_at is None else signed_at
    message = signing_message(
        method=method,
        path=path,
        app=app,
        if_match=if_match,
        if_none_match=if_none_match,
        signed_at=when,
        body=body,
    )
    return {
        "X-D2-Key-Id": key_id(key.public_key()),
        "X-D2-Signature": base64.b64encode(key.sign(message)).decode("ascii"),
        "X-D2-Signed-At": str(when),
        "X-D2-Public-Key": public_key_text(key),
    }


class Client:
    """Calls ``D2_API_URL`` with ``D2_TOKEN``; raises HttpError whose text names the token type needed."""

    def __init__(self, api_url: str, token: str, *, app: str | None = None, timeout: float = 30.0) -> None:
        self.api_url = api_url.rstrip("/")
        self.token = token
        self.app = app
        self.timeout = timeout

    def _url(self, path: str) -> str:
        sep = "&" if "?" in path else "?"
        return f"{self.api_url}{path}{sep}app={quote(self.app)}" if self.app else f"{self.api_url}{path}"

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        headers: dict[str, str] | None = None,
        need: str = RUNTIME_TOKEN,
        expect: tuple[int, ...] = (200,),
        sign: bool = False,
    ) -> Response:
        content = json.dumps(body).encode("utf-8") if body is not None else None
        sent = {
            "Authorization": f"Bearer {self.token}",
            "Content-Type": "application/json",
            **(headers or {}),
        }
        if sign and content is not None:
            sent.update(
                device_headers(
                    device_key(),
                    content,
                    method=method,
                    path=urlsplit(self.api_url + path).path,
                    app=self.app_name(),
                    if_match=sent.get("If-Match"),
                    if_none_match=sent.get("If-None-Match"),
                )
            )
        url = self._url(path)
        response = http_request(method, url, headers=sent, content=content, timeout=self.timeout)
        if response.status not in expect:
            raise HttpError.from_response(response, url, need=need)
        return response

    def status(self) -> dict[str, Any]:
        return dict(self.request("GET", "/v1/status").json())

    def app_name(self) -> str:
        """The app requests are about: the chosen one, else the token's own (asked once)."""
        if self.app is None:
            self.app = str(self.status()["app"])
        return self.app

    def apps(self) -> list[dict[str, Any]]:
        return list(self.request("GET", "/v1/apps").json()["apps"])

    def put_draft(self, text: str, fmt: str) -> dict[str, Any]:
        body = {"policy": text, "format": fmt}
        return dict(self.request("PUT", "/v1/policy/draft", body=body, need=DEVELOPER_TOKEN).json())

    def get_draft(self) -> dict[str, Any]:
        return dict(self.request("GET", "/v1/policy/draft", need=DEVELOPER_TOKEN).json())

    def publish(self, body: dict[str, Any], *, etag: str | None) -> Response:
        headers = {"If-Match": etag} if etag else {"If-None-Match": "*"}
        return self.request(
            "POST",
            "/v1/policy/publish",
            body=body,
            headers=headers,
            need=DEVELOPER_TOKEN,
            expect=(201, 412, 422),
            sign=True,
        )

    def revoke(self, restore: int | None, *, etag: str | None = None) -> dict[str, Any]:
        """Revoke (or restore ``restore``) over the head ``etag`` (the current head when None); signed."""
        body = {"restore": restore} if restore is not None else {}
        if etag is None:
            head = self.status().get("head") or {}
            etag = head.get("etag")
        headers = {"If-Match": etag} if etag else {}
        response = self.request(
            "POST",
            "/v1/policy/revoke",
            body=body,
            headers=headers,
            need=DEVELOPER_TOKEN,
            expect=(201,),
            sign=True,
        )
        return dict(response.json())

    def versions(self, limit: int = 20) -> dict[str, Any]:
        return dict(self.request("GET", f"/v1/policy/versions?limit={limit}", need=DEVELOPER_TOKEN).json())

    def version(self, number: int) -> dict[str, Any]:
        return dict(self.request("GET", f"/v1/policy/versions/{number}", need=DEVELOPER_TOKEN).json())

    def bundle(self) -> Response:
        return self.request("GET", "/v1/policy/bundle", headers={"Accept": "application/jose"})

    def jwks(self) -> dict[str, Any]:
        response = http_request("GET", f"{self.api_url}/.well-known/jwks.json", timeout=self.timeout)
        if response.status != 200:
            raise HttpError.from_response(response, f"{self.api_url}/.well-known/jwks.json")
        return dict(response.json())
