"""ASGI middleware: one request per HTTP/WebSocket connection, headers parsing, fail closed."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import d2


def scope(kind: str = "http", headers: dict[str, str] | None = None) -> dict[str, Any]:
    raw = [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    return {"type": kind, "headers": raw}


async def noop_receive() -> dict[str, Any]:
    return {}


async def noop_send(message: Any) -> None:
    pass


def run_app(middleware: d2.ASGIMiddleware, s: dict[str, Any]) -> None:
    asyncio.run(middleware(s, noop_receive, noop_send))


# What get_user_context() returns when no user is set (the vendor SDK returns an empty context too).
NOBODY = d2.UserContext(None)


def capture() -> tuple[list[d2.UserContext | None], Any]:
    seen: list[d2.UserContext | None] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(d2.get_user_context())

    return seen, app


@pytest.mark.parametrize("kind", ["http", "websocket"])
def test_headers_extractor_sets_user_for_http_and_websocket(kind: str) -> None:
    seen, app = capture()
    run_app(
        d2.ASGIMiddleware(app, user_extractor=d2.headers_extractor),
        scope(kind, {"X-D2-User": "alice", "X-D2-Roles": " viewer , ,admin "}),
    )
    assert seen == [d2.UserContext("alice", frozenset({"viewer", "admin"}))]
    assert d2.get_user_context().user_id is None


def test_no_headers_means_no_user() -> None:
    seen, app = capture()
    run_app(d2.ASGIMiddleware(app, user_extractor=d2.headers_extractor), scope())
    assert seen == [NOBODY]


def test_lifespan_scope_passes_through_untouched() -> None:
    seen, app = capture()
    run_app(d2.ASGIMiddleware(app, user_extractor=d2.headers_extractor), {"type": "lifespan"})
    assert seen == [NOBODY]


def test_custom_extractor_forms() -> None:
    seen, app = capture()

    async def async_extractor(s: Any) -> tuple[str, list[str], dict[str, str]]:
        return "bob", ["ops"], {"tenant": "t9"}

    run_app(d2.ASGIMiddleware(app, user_extractor=async_extractor), scope())
    run_app(
        d2.ASGIMiddleware(app, user_extractor=lambda s: d2.UserContext("carol", frozenset({"x"}))), scope()
    )
    assert seen[0] == d2.UserContext("bob", frozenset({"ops"}), {"tenant": "t9"})
    assert seen[1] == d2.UserContext("carol", frozenset({"x"}))


def test_failing_extractor_leaves_request_anonymous() -> None:
    seen, app = capture()

    def broken(s: Any) -> tuple[str, list[str]]:
        raise RuntimeError("bad session")

    run_app(d2.ASGIMiddleware(app, user_extractor=broken), scope())
    assert seen == [NOBODY]


def test_context_does_not_leak_between_requests_on_one_task() -> None:
    seen, app = capture()
    mw = d2.ASGIMiddleware(app, user_extractor=d2.headers_extractor)

    async def main() -> None:
        await mw(scope("http", {"x-d2-user": "first", "x-d2-roles": "a"}), noop_receive, noop_send)
        await mw(scope("http"), noop_receive, noop_send)

    asyncio.run(main())
    assert seen == [d2.UserContext("first", frozenset({"a"})), NOBODY]


def test_guarded_call_through_a_starlette_app(write_policy) -> None:  # type: ignore[no-untyped-def]
    starlette = pytest.importorskip("starlette")
    import httpx
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    assert starlette
    d2.configure_rbac_sync(write_policy("policies:\n  - role: viewer\n    permissions: [weather]\n"))

    @d2.d2_guard("weather")
    async def weather() -> str:
        return "sunny"

    async def endpoint(request: Any) -> JSONResponse:
        try:
            return JSONResponse({"weather": await weather()})
        except d2.PermissionDeniedError as exc:
            return JSONResponse({"error": str(exc.reason)}, status_code=403)

    app = Starlette(routes=[Route("/weather", endpoint)])
    app.add_middleware(d2.ASGIMiddleware, user_extractor=d2.headers_extractor)

    async def main() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            ok = await client.get("/weather", headers={"X-D2-User": "a", "X-D2-Roles": "viewer"})
            assert ok.json() == {"weather": "sunny"}
            denied = await client.get("/weather", headers={"X-D2-User": "a", "X-D2-Roles": "guest"})
            assert denied.status_code == 403 and denied.json() == {"error": "rbac"}
            assert (await client.get("/weather")).json() == {"error": "no_context"}

    asyncio.run(main())
