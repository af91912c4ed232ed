"""Two ASGI services, one session: the agent service hands its session to a tools service over HTTP.

The agent service runs here (httpx's ASGI transport), the tools service in its own process (uvicorn on
127.0.0.1), both behind d2's middleware, sharing the machine's Redis and a signing key. A forbidden
call in the tools service after the agent service read the database is refused; a tampered,
re-addressed, expired or keyless reference joins nothing.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

import d2
from d2._runtime.session_ref import sign_reference

from .conftest import POLICY, SHARED_REDIS, free_port

KEY = "cross-service-test-key-0123456789abcdef"
SERVICE = Path(__file__).parent / "_service.py"


@pytest.fixture(scope="module")
def tools_service() -> Iterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "D2_STATE_URL": SHARED_REDIS,
        "D2_SESSION_KEY": KEY,
        "D2_SILENT": "1",
        "PYTHONPATH": str(Path(__file__).parents[2]),
    }
    proc = subprocess.Popen([sys.executable, str(SERVICE), str(POLICY), str(port)], env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            httpx.post(f"{url}/call/notes.write", timeout=0.5)
            break
        except httpx.HTTPError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError("tools service did not start") from None
            time.sleep(0.05)
    yield url
    proc.terminate()
    proc.wait(10)


def agent_app(tools_url: str) -> d2.ASGIMiddleware:
    """The agent service: runs one local tool, then asks the tools service for another."""

    @d2.d2_guard("db.read")
    async def read() -> str:
        return "rows"

    @d2.d2_guard("notes.write")
    async def note() -> str:
        return "noted"

    local = {"db.read": read, "notes.write": note}

    async def step(request: Request) -> JSONResponse:
        first, then = request.path_params["first"], request.path_params["then"]
        await local[first]()
        user = d2.get_user_context()
        assert user is not None
        headers = {"X-D2-User": str(user.user_id), "X-D2-Roles": ",".join(sorted(user.roles))}
        hooks: dict[str, list[Any]] = {"request": [d2.httpx_session_hook_async]}
        async with httpx.AsyncClient(event_hooks=hooks, timeout=10) as client:
            answer = await client.post(f"{tools_url}/call/{then}", headers=headers)
        return JSONResponse(answer.json(), status_code=answer.status_code)

    async def reference(request: Request) -> JSONResponse:
        await local[request.path_params["first"]]()
        return JSONResponse({"ref": d2.session_reference()})

    routes = [
        Route("/step/{first}/{then}", step, methods=["POST"]),
        Route("/ref/{first}", reference, methods=["POST"]),
    ]
    return d2.ASGIMiddleware(Starlette(routes=routes), user_extractor=d2.headers_extractor)


class Agent:
    """Calls the agent service in-process, a fresh client per request (each in its own event loop)."""

    def __init__(self, app: d2.ASGIMiddleware) -> None:
        self.app = app

    def post(self, path: str, headers: dict[str, str]) -> httpx.Response:
        async def send() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://agent") as client:
                return await client.post(path, headers=headers)

        return asyncio.run(send())


@pytest.fixture
def agent(tools_service: str) -> Agent:
    d2.configure_rbac_sync(POLICY)
    d2.configure_session_state(SHARED_REDIS, signing_key=KEY)
    return Agent(agent_app(tools_service))


ALICE = {"X-D2-User": "alice", "X-D2-Roles": "agent"}


def test_a_forbidden_call_in_the_next_service_is_refused(agent: Agent) -> None:
    response = agent.post("/step/db.read/web.post", ALICE)
    assert response.status_code == 403
    assert response.json() == {"refused": "sequence_violation"}


def test_an_allowed_call_in_the_next_service_runs(agent: Agent) -> None:
    response = agent.post("/step/notes.write/web.post", ALICE)
    assert response.json() == {"result": "web.post done"}


def _reference(agent: Agent, first: str = "db.read") -> str:
    return str(agent.post(f"/ref/{first}", ALICE).json()["ref"])


def test_the_reference_works_when_sent_by_hand(agent: Agent, tools_service: str) -> None:
    ref = _reference(agent)
    answer = httpx.post(f"{tools_service}/call/web.post", headers={**ALICE, "X-D2-Session": ref})
    assert answer.json() == {"refused": "sequence_violation"}


def test_a_tampered_reference_is_refused(agent: Agent, tools_service: str) -> None:
    ref = _reference(agent, "notes.write")
    version, body, mac = ref.split(".")
    forged = f"{version}.{body}.{mac[:-3]}{'AAA' if mac[-3:] != 'AAA' else 'BBB'}"
    answer = httpx.post(f"{tools_service}/call/notes.write", headers={**ALICE, "X-D2-Session": forged})
    assert answer.json() == {"refused": "session_invalid"}


def test_a_reference_replayed_by_another_user_is_refused(agent: Agent, tools_service: str) -> None:
    ref = _reference(agent, "notes.write")
    mallory = {"X-D2-User": "mallory", "X-D2-Roles": "agent", "X-D2-Session": ref}
    answer = httpx.post(f"{tools_service}/call/notes.write", headers=mallory)
    assert answer.json() == {"refused": "session_invalid"}


def test_an_expired_reference_is_refused(tools_service: str) -> None:
    old = sign_reference(KEY.encode(), "some-session", "alice", 10, now=time.time() - 3600)
    answer = httpx.post(f"{tools_service}/call/notes.write", headers={**ALICE, "X-D2-Session": old})
    assert answer.json() == {"refused": "session_invalid"}


def test_a_reference_signed_with_another_key_is_refused(tools_service: str) -> None:
    forged = sign_reference(b"an-attacker-key-0123456789abcdef", "some-session", "alice", 60)
    answer = httpx.post(f"{tools_service}/call/notes.write", headers={**ALICE, "X-D2-Session": forged})
    assert answer.json() == {"refused": "session_invalid"}


def test_no_reference_means_a_fresh_request(tools_service: str) -> None:
    answer = httpx.post(f"{tools_service}/call/web.post", headers=ALICE)
    assert answer.json() == {"result": "web.post done"}
