"""Helpers for driving ``d2 mcp-proxy`` with the ``mcp`` package's own client, as a real client would.

The proxy always runs as its own process (``python -m d2tools.mcp``), over stdio or streamable HTTP
on 127.0.0.1, in front of real upstream servers: ``examples/mcp/crm_server.py`` and the third-party
``mcp-server-time`` / ``mcp-server-git`` installed from PyPI.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("mcp")

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from mcp import Client, StdioServerParameters
from mcp_types import CallToolResult

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures"
POLICY = FIXTURES / "policy.yaml"
CRM = [sys.executable, str(ROOT / "examples" / "mcp" / "crm_server.py")]
ISSUER = "https://idp.test"
AUDIENCE = "d2-mcp-proxy"
# A raw 2025-11-25 ``initialize`` request and the headers streamable HTTP wants, for tests that
# speak HTTP to the proxy's listener without the SDK's client.
INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"},
    },
}
HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def proxy_params(*args: str, env: dict[str, str] | None = None) -> StdioServerParameters:
    """Start the proxy as a stdio server: ``python -m d2tools.mcp ARGS``."""
    base = {"D2_SILENT": "1", "XDG_CONFIG_HOME": str(ROOT / ".no-xdg")}
    if "PYTHONPATH" in os.environ:
        base["PYTHONPATH"] = os.environ["PYTHONPATH"]
    return StdioServerParameters(
        command=sys.executable, args=["-m", "d2tools.mcp", *args], cwd=str(ROOT), env=base | (env or {})
    )


def stdio_client(*args: str, mode: str = "auto", env: dict[str, str] | None = None) -> Client:
    return Client(proxy_params(*args, env=env), mode=mode, cache=None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"process exited with {proc.returncode}: {proc.stderr.read() if proc.stderr else ''}"
            )
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


@asynccontextmanager
async def http_client(url: str, token: str | None = None, *, mode: str = "auto") -> AsyncIterator[Client]:
    """An ``mcp`` client over streamable HTTP, with a bearer token when given."""
    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx2.AsyncClient(headers=headers) as http:
        async with Client(streamable_http_client(url, http_client=http), mode=mode, cache=None) as client:
            yield client


def text(result: CallToolResult) -> str:
    return " ".join(getattr(b, "text", "") for b in result.content)


def refusal(result: CallToolResult) -> dict[str, Any]:
    """The refusal ``_meta`` of a tool-error result (fails the test when the call was not refused)."""
    assert result.is_error, f"expected a refusal, got {text(result)!r}"
    meta = result.meta or {}
    assert "io.d2/refusal" in meta, f"not a d2 refusal: {text(result)!r}"
    return dict(meta["io.d2/refusal"])


class Issuer:
    """An OAuth issuer for tests: an RSA key, its JWKS file, and signed tokens."""

    def __init__(self, directory: Path) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        jwk.update({"kid": "k1", "use": "sig", "alg": "RS256"})
        self.jwks = directory / "jwks.json"
        self.jwks.write_text(json.dumps({"keys": [jwk]}), encoding="utf-8")

    def token(self, sub: str = "alice", roles: list[str] | None = None, **claims: Any) -> str:
        now = int(time.time())
        body: dict[str, Any] = {"iss": ISSUER, "aud": AUDIENCE, "sub": sub, "iat": now, "exp": now + 600}
        body["roles"] = ["support"] if roles is None else roles
        body.update(claims)
        return jwt.encode(body, self.key, algorithm="RS256", headers={"kid": "k1"})


@pytest.fixture(scope="session")
def issuer(tmp_path_factory: pytest.TempPathFactory) -> Issuer:
    return Issuer(tmp_path_factory.mktemp("idp"))


def spawn(args: list[str], port: int, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    full = os.environ | {"D2_SILENT": "1"} | (env or {})
    proc = subprocess.Popen(args, cwd=ROOT, env=full, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_port(port, proc)
    except BaseException:
        proc.kill()
        raise
    return proc


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if proc.stderr:
        proc.stderr.close()


@pytest.fixture(scope="module")
def crm_http() -> Iterator[str]:
    """The example CRM server over streamable HTTP (an HTTP upstream)."""
    port = free_port()
    proc = spawn([*CRM, "--http", f"127.0.0.1:{port}"], port)
    yield f"http://127.0.0.1:{port}/mcp"
    stop(proc)


@pytest.fixture(scope="module")
def proxy_http(issuer: Issuer) -> Iterator[str]:
    """The proxy on streamable HTTP with bearer-token auth, in front of the CRM over stdio."""
    port = free_port()
    args = [
        sys.executable, "-m", "d2tools.mcp", "--policy", str(POLICY), "--name", "crm",
        "--listen", f"127.0.0.1:{port}", "--jwks", str(issuer.jwks), "--issuer", ISSUER,
        "--audience", AUDIENCE, "--", *CRM,
    ]  # fmt: skip
    proc = spawn(args, port)
    yield f"http://127.0.0.1:{port}/mcp"
    stop(proc)


def decide(state: Any, tool: str, instance: str) -> str:
    """Run one guarded call of ``tool`` in request state ``state``: "allowed" or the refusal's reason."""
    import d2
    from d2tools.mcp._session import use_state

    @d2.d2_guard(tool, instance_name=instance)
    def body() -> str:
        return "allowed"

    with use_state(state):
        try:
            return body()
        except d2.PermissionDeniedError as exc:
            return str(exc.reason)
