"""Who is acting must be known and explicit (issue 11 items 11, 12 and 16).

No user id refuses on every path; the ASGI middleware has no default extractor that trusts client
headers; ``inspect.unwrap`` of a guarded tool never reaches the unguarded function.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import d2

POLICY = """
policies:
  - role: admin
    permissions: ["*"]
  - role: viewer
    permissions: [reports.read]
"""

RAN: list[str] = []


@pytest.fixture(autouse=True)
def _policy(load: Callable[[str], Path]) -> None:
    load(POLICY)
    RAN.clear()


@d2.d2_guard("reports.read")
def read_report(name: str = "daily", *, limit: int = 10) -> str:
    """Read one report."""
    RAN.append(name)
    return f"report {name}"


@d2.d2_guard("reports.read")
async def read_report_async(name: str = "daily") -> str:
    RAN.append(name)
    return f"report {name}"


# -- item 11 ------------------------------------------------------------------------------------


@pytest.mark.parametrize("user_id", [None, ""])
def test_set_user_without_an_id_refuses(user_id: str | None) -> None:
    d2.set_user(user_id, ["admin"])
    try:
        with pytest.raises(d2.D2NoContextError) as info:
            read_report()
    finally:
        d2.clear_user_context()
    assert info.value.reason == d2.Reason.NO_CONTEXT
    assert RAN == []


@pytest.mark.parametrize("user_id", [None, ""])
def test_every_way_to_set_an_anonymous_user_refuses(user_id: str | None) -> None:
    scopes = [
        lambda: d2.set_user_context(user_id, ["admin"]),
        lambda: d2.run_as(user_id, ["admin"]),
        lambda: d2.run_as(d2.UserContext(user_id, frozenset({"admin"}))),
    ]
    for make in scopes:
        with make(), pytest.raises(d2.D2NoContextError):
            read_report()
        with make(), pytest.raises(d2.D2NoContextError):
            asyncio.run(read_report_async())
    assert RAN == []


def test_a_named_user_is_still_allowed() -> None:
    with d2.set_user_context("alice", ["viewer"]):
        assert read_report() == "report daily"


# -- item 12 ------------------------------------------------------------------------------------


async def _app(scope: Any, receive: Any, send: Any) -> None:
    RAN.append(repr(d2.get_user_context()))


def test_asgi_middleware_has_no_default_extractor() -> None:
    with pytest.raises((TypeError, d2.ConfigurationError)) as info:
        d2.ASGIMiddleware(_app)
    assert "user_extractor" in str(info.value)


def test_asgi_middleware_never_trusts_client_headers_by_default() -> None:
    """Even when constructed the way the vendor's quick start shows, headers set no user."""

    async def call(mw: Any) -> None:
        scope = {"type": "http", "headers": [(b"x-d2-user", b"mallory"), (b"x-d2-roles", b"admin")]}

        async def receive() -> dict[str, Any]:
            return {}

        async def send(message: Any) -> None:
            return None

        await mw(scope, receive, send)

    try:
        mw = d2.ASGIMiddleware(_app)
    except (TypeError, d2.ConfigurationError):
        return
    asyncio.run(call(mw))
    assert "mallory" not in RAN[-1]


def test_the_header_extractor_still_works_when_chosen_explicitly() -> None:
    mw = d2.ASGIMiddleware(_app, user_extractor=d2.headers_extractor)
    scope = {"type": "http", "headers": [(b"x-d2-user", b"alice"), (b"x-d2-roles", b"viewer")]}

    async def receive() -> dict[str, Any]:
        return {}

    async def send(message: Any) -> None:
        return None

    asyncio.run(mw(scope, receive, send))
    assert "alice" in RAN[-1]


def test_an_extractor_returning_an_empty_id_leaves_the_request_anonymous() -> None:
    seen: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        try:
            seen.append(read_report())
        except d2.PermissionDeniedError as exc:
            seen.append(exc.reason)

    mw = d2.ASGIMiddleware(app, user_extractor=lambda scope: ("", ["admin"]))

    async def receive() -> dict[str, Any]:
        return {}

    async def send(message: Any) -> None:
        return None

    asyncio.run(mw({"type": "http", "headers": []}, receive, send))
    assert seen == [d2.Reason.NO_CONTEXT]


# -- item 16 ------------------------------------------------------------------------------------


@pytest.mark.parametrize("tool", [read_report, read_report_async])
def test_unwrap_does_not_return_the_unguarded_function(tool: Any) -> None:
    inner = inspect.unwrap(tool)
    assert getattr(tool, "__wrapped__", None) is None
    with d2.set_user_context("mallory", ["nobody"]):
        with pytest.raises(d2.PermissionDeniedError):
            result = inner()
            if inspect.isawaitable(result):
                asyncio.run(result)
    assert RAN == []


def test_signature_and_metadata_are_kept() -> None:
    sig = inspect.signature(read_report)
    assert list(sig.parameters) == ["name", "limit"]
    assert sig.parameters["limit"].kind is inspect.Parameter.KEYWORD_ONLY
    assert read_report.__name__ == "read_report"
    assert read_report.__doc__ == "Read one report."
    assert read_report.__module__ == __name__
    assert inspect.iscoroutinefunction(read_report_async)
