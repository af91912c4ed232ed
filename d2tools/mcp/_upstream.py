"""One upstream MCP server: connect with the ``mcp`` client, list its tools, call them, survive a crash.

Each connection lives in its own task (the client's transport and task group are entered there), so
an upstream that dies cannot tear down the proxy or the other upstreams: the call in flight gets an
"unavailable" answer, the next call reconnects (restarting a stdio server), and while reconnecting
fails every call to that server is answered the same way. A client-side timeout or a closed
connection is the *client's* error (-32001/-32000), never mistaken for the server's verdict.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any, TextIO

import anyio
from anyio.abc import TaskGroup
from mcp import Client, MCPError, StdioServerParameters, stdio_client
from mcp_types import (
    CONNECTION_CLOSED,
    HEADER_MISMATCH,
    INTERNAL_ERROR,
    INVALID_REQUEST,
    PARSE_ERROR,
    REQUEST_TIMEOUT,
    CallToolRequest,
    CallToolRequestParams,
    Prompt,
    Resource,
    ResourceTemplate,
    Tool,
)
from pydantic import BaseModel, ConfigDict

from ._config import UpstreamSpec
from ._content import WireResult

__all__ = ["Upstream", "UpstreamUnavailable"]

log = logging.getLogger("d2.mcp")
_PAGE_CAP = 100
# Errors that say the exchange with the server failed, not what the server decided about the call:
# the SDK's HTTP client makes them up for a 401/500 answer, a redirect, a wrong content type or a
# body that does not parse, and a server sends them about the proxy's request, never the client's.
# They are an unavailable server (a refusal), never relayed as if the client's request were bad.
_FAILED = frozenset({PARSE_ERROR, INVALID_REQUEST, INTERNAL_ERROR})


class _Checked(BaseModel):
    """The result type the proxy asks the session for: the checked wire form, kept as it came.

    The session validates every result against the negotiated version's schema before it parses it
    into the requested type; a model with no fields that keeps extra keys holds that checked mapping
    as it is (``model_extra``) instead of parsing it into a ``CallToolResult`` a second time.
    """

    model_config = ConfigDict(extra="allow")


class UpstreamUnavailable(Exception):
    """The upstream server is down, timed out, or could not be (re)started."""

    def __init__(self, name: str, why: str) -> None:
        super().__init__(f"upstream '{name}' is unavailable: {why}")
        self.name = name
        self.why = why


class Upstream:
    """A live (or restartable) connection to one MCP server."""

    def __init__(
        self, spec: UpstreamSpec, *, errlog: TextIO | None = None, on_tools: Callable[[], None] | None = None
    ) -> None:
        self.spec = spec
        self._on_tools = on_tools
        self.name = spec.name
        self.tools: list[Tool] = []
        # Empty when the server lacks the capability: the proxy then lists nothing of that kind for it.
        self.prompts: list[Prompt] = []
        self.resources: list[Resource] = []
        self.templates: list[ResourceTemplate] = []
        self.serves_resources = False
        self._errlog = errlog or sys.stderr
        self._client: Client | None = None
        self._stop: anyio.Event | None = None
        self._tg: TaskGroup | None = None
        self._lock = anyio.Lock()
        self.last_error: str | None = None

    @property
    def available(self) -> bool:
        return self._client is not None

    def _transport(self) -> Any:
        spec = self.spec
        if spec.server is not None:
            return spec.server
        if spec.url is not None:
            if not spec.headers:
                return spec.url
            return _http_with_headers(spec.url, dict(spec.headers))
        params = StdioServerParameters(
            command=spec.command[0], args=list(spec.command[1:]), env=dict(spec.env) or None, cwd=spec.cwd
        )
        return stdio_client(params, errlog=self._errlog)

    async def start(self, tg: TaskGroup) -> None:
        """Connect and list the tools; raise :class:`UpstreamUnavailable` when the server does not come up."""
        self._tg = tg
        await self._connect()

    async def _connect(self) -> None:
        assert self._tg is not None
        ready = anyio.Event()
        failure: list[BaseException] = []
        stop = anyio.Event()
        self._stop = stop

        async def own() -> None:
            try:
                async with Client(
                    self._transport(), read_timeout_seconds=self.spec.timeout, cache=None
                ) as client:
                    has_tools = client.server_capabilities.tools is not None
                    self.tools = await _list_all(client) if has_tools else []
                    await self._list_others(client)
                    self._client = client
                    if self._on_tools is not None:
                        self._on_tools()
                    ready.set()
                    await stop.wait()
            except Exception as exc:  # the server's death must not reach the proxy's task group
                failure.append(exc)
                self.last_error = _describe(exc)
                if ready.is_set():
                    log.warning("d2 mcp-proxy: upstream '%s' ended: %s", self.name, self.last_error)
            finally:
                self._client = None
                ready.set()

        self._tg.start_soon(own, name=f"d2-mcp-upstream-{self.name}")
        with anyio.move_on_after(self.spec.timeout + 5):
            await ready.wait()
        if self._client is None:
            stop.set()
            why = self.last_error if failure else "did not answer in time"
            raise UpstreamUnavailable(self.name, why or "did not start")

    async def _list_others(self, client: Client) -> None:
        """Read the server's prompts, resources and resource templates, each only if it offers them.

        A listing the server answers with an error counts as empty (logged): its tools stay usable.
        """
        caps = client.server_capabilities
        self.serves_resources = caps.resources is not None
        self.prompts = await self._listing(client.list_prompts, "prompts", caps.prompts is not None)
        self.resources = await self._listing(client.list_resources, "resources", self.serves_resources)
        self.templates = await self._listing(
            client.list_resource_templates, "resource_templates", self.serves_resources
        )

    async def _listing(self, fetch: Callable[..., Awaitable[Any]], field: str, offered: bool) -> list[Any]:
        if not offered:
            return []
        try:
            return await _pages(fetch, field)
        except MCPError as exc:
            log.warning("d2 mcp-proxy: upstream '%s' could not list its %s: %s", self.name, field, exc)
            return []

    async def ensure(self) -> Client:
        """Return a live client, reconnecting once if the last connection ended."""
        client = self._client
        if client is not None:
            return client
        async with self._lock:
            if self._client is None:
                log.warning("d2 mcp-proxy: reconnecting to upstream '%s'", self.name)
                await self._connect()
            assert self._client is not None
            return self._client

    async def call(self, name: str, arguments: Mapping[str, Any]) -> WireResult:
        """Call ``name`` upstream; a dead connection or a timeout raises :class:`UpstreamUnavailable`."""
        return await self._run(lambda client: _call(client, name, dict(arguments)))

    async def get_prompt(self, name: str, arguments: Mapping[str, str]) -> WireResult:
        """``prompts/get`` upstream, the result in wire form; failures as for :meth:`call`."""

        async def get(client: Client) -> WireResult:
            result = await client.get_prompt(name, dict(arguments))
            return result.model_dump(by_alias=True, mode="json", exclude_none=True)

        return await self._run(get)

    async def read_resource(self, uri: str) -> WireResult:
        """``resources/read`` upstream, the result in wire form; failures as for :meth:`call`."""

        async def read(client: Client) -> WireResult:
            result = await client.read_resource(uri, cache_mode="bypass")
            return result.model_dump(by_alias=True, mode="json", exclude_none=True)

        return await self._run(read)

    async def _run(self, request: Callable[[Client], Awaitable[WireResult]]) -> WireResult:
        """One request on a live client; a lost connection or a timeout is :class:`UpstreamUnavailable`."""
        client = await self.ensure()
        try:
            return await request(client)
        except MCPError as exc:
            if exc.code in (CONNECTION_CLOSED, REQUEST_TIMEOUT):
                self._drop(_describe(exc))
                raise UpstreamUnavailable(self.name, _describe(exc)) from exc
            if exc.code in _FAILED:
                raise UpstreamUnavailable(self.name, _describe(exc)) from exc
            raise
        except (anyio.ClosedResourceError, anyio.BrokenResourceError, anyio.EndOfStream, OSError) as exc:
            self._drop(_describe(exc))
            raise UpstreamUnavailable(self.name, _describe(exc)) from exc

    def _drop(self, why: str) -> None:
        self.last_error = why
        self._client = None
        if self._stop is not None:
            self._stop.set()

    async def aclose(self) -> None:
        """Close the connection (stopping a stdio server)."""
        if self._stop is not None:
            self._stop.set()


@asynccontextmanager
async def _http_with_headers(url: str, headers: dict[str, str]) -> AsyncIterator[Any]:
    """Streamable HTTP with extra request headers; the HTTP client closes with the connection."""
    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    async with (
        httpx2.AsyncClient(headers=headers) as http,
        streamable_http_client(url, http_client=http) as streams,
    ):
        yield streams


async def _call(client: Client, name: str, arguments: dict[str, Any]) -> WireResult:
    """One ``tools/call`` on the client's session: the result in wire form, checked by the SDK.

    ``ClientSession.send_request`` validates the result against the negotiated protocol version's
    ``tools/call`` result schema (malformed results raise, and the guard refuses them) and returns it
    parsed into the given type; a fieldless model that keeps extra keys (``_Checked``) keeps the wire
    form, so the proxy does not parse it into a ``CallToolResult`` only for the server side to dump
    and validate it again. A 2026-07-28 result that is not a complete tool result (``input_required``,
    an extension's shape) is refused: the proxy cannot put the policy's output rules on it.

    ``Client.call_tool`` also validates every structured result against the tool's ``outputSchema``
    with jsonschema; in the proxy that check is redundant: the proxy forwards the schema in its own
    ``tools/list`` (or drops it when output rules may rewrite the result), so the downstream client
    runs the same validation on what it finally receives, exactly as on a direct connection. d2's
    own output rules never rely on the schema. A 2026-07-28 ``HEADER_MISMATCH`` (a stale listing of
    the tool) goes once through ``Client.call_tool``, which re-lists the tool and resends, as the SDK
    specifies.
    """
    request = CallToolRequest(params=CallToolRequestParams(name=name, arguments=arguments))
    try:
        checked = await client.session.send_request(request, _Checked)
        wire = checked.model_extra or {}
    except MCPError as exc:
        if exc.code != HEADER_MISMATCH:
            raise
        result = await client.call_tool(name, arguments)
        wire = result.model_dump(by_alias=True, mode="json", exclude_none=True)
    # Absent means complete (a handshake-era server); 2026-07-28 clients of the proxy require it.
    kind = wire.setdefault("resultType", "complete")
    if kind != "complete" or not isinstance(wire.get("content"), list):
        raise ValueError(f"the upstream answered tools/call with a {kind!r} result, not a tool result")
    return wire


async def _list_all(client: Client) -> list[Tool]:
    tools: list[Tool] = []
    cursor: str | None = None
    for _ in range(_PAGE_CAP):
        page = await client.list_tools(cursor=cursor)
        tools.extend(page.tools)
        cursor = page.next_cursor
        if cursor is None:
            break
    return tools


async def _pages(fetch: Callable[..., Awaitable[Any]], field: str) -> list[Any]:
    """Every item of a paginated list (prompts, resources or templates), up to the page cap."""
    items: list[Any] = []
    cursor: str | None = None
    for _ in range(_PAGE_CAP):
        page = await fetch(cursor=cursor, cache_mode="bypass")
        items.extend(getattr(page, field))
        cursor = page.next_cursor
        if cursor is None:
            break
    return items


def _describe(exc: BaseException) -> str:
    inner = getattr(exc, "exceptions", None)  # an exception group (Python 3.10 has no builtin name)
    if isinstance(inner, tuple) and inner:
        return "; ".join(_describe(e) for e in inner)
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
