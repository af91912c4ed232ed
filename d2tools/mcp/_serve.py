"""Run the proxy: an ``mcp`` lowlevel server in front of the upstreams, over stdio or streamable HTTP.

The server speaks both protocol eras the ``mcp`` package speaks (the 2025-11-25 handshake and the
2026-07-28 stateless one). It serves tools, prompts and resources, each through the policy: a prompt
or a resource read is a guarded call like a tool call, never forwarded unguarded (docs/mcp.md).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from mcp.server.lowlevel.server import Server
from mcp_types import CallToolRequestParams

import d2
from d2 import ConfigurationError

from ._config import ProxyConfig
from ._proxy import Proxy

__all__ = ["build_server", "http_app", "serve_http", "serve_stdio"]

log = logging.getLogger("d2.mcp")


def build_server(proxy: Proxy) -> Server[Proxy]:
    """The MCP server the clients talk to; its lifespan connects (and later closes) the upstreams."""

    @asynccontextmanager
    async def lifespan(_: Server[Proxy]) -> AsyncIterator[Proxy]:
        async with anyio.create_task_group() as tg:
            try:
                await proxy.start(tg)
                yield proxy
            finally:
                await proxy.aclose()
                tg.cancel_scope.cancel()

    server: Server[Proxy] = Server(
        "d2-mcp-proxy",
        version=d2.__version__,
        instructions="Tools, prompts and resources behind a d2 policy; a refusal names its reason code.",
        lifespan=lifespan,
        on_list_tools=proxy.list_tools,
        get_tool_input_schema=proxy.input_schema,
        on_list_prompts=proxy.list_prompts,
        on_get_prompt=proxy.get_prompt,
        on_list_resources=proxy.list_resources,
        on_list_resource_templates=proxy.list_resource_templates,
        on_read_resource=proxy.read_resource,
    )
    # Registered as a plain request handler, whose result may be a wire-form mapping: the proxy
    # forwards the upstream's checked result without a model, and the server still validates it
    # against the client's protocol version before writing it.
    server.add_request_handler("tools/call", CallToolRequestParams, proxy.call_tool)
    if not _tracing_configured():
        # The SDK wraps every request in an OpenTelemetry span, a no-op without a tracer provider but
        # still ~5% of the proxy's CPU per call. d2's own decision events (and their OTel export,
        # when configured) are unaffected; with a tracer provider installed the SDK's spans stay.
        server.middleware = [m for m in server.middleware if type(m).__name__ != "OpenTelemetryMiddleware"]
    return server


def _tracing_configured() -> bool:
    """True when an OpenTelemetry tracer provider (not the API's default no-op) is installed."""
    try:
        from opentelemetry import trace
    except ImportError:  # pragma: no cover - the mcp package depends on opentelemetry-api
        return False
    provider = trace.get_tracer_provider()
    return not isinstance(provider, (trace.ProxyTracerProvider, trace.NoOpTracerProvider))


def load_policy(config: ProxyConfig, instance_name: str) -> None:
    """Load the policy (file, or discovery/cloud when none is named) before any client connects.

    The session-state backend is chosen here too, so a bad ``session_state`` (or ``D2_STATE_URL``)
    stops the proxy at start instead of refusing every call later.
    """
    d2.configure_session_state(**config.session_state)
    d2.configure_rbac_sync(config.policy, instance_name=instance_name, hot_reload=config.policy is not None)
    if config.decision_log:
        d2.add_decision_sink(_jsonl_sink(config.decision_log))


def _jsonl_sink(path: str) -> Any:
    """Append each decision event as one JSON line (the same record the library's events carry).

    A new log is created readable by its owner only: it names users, roles and tools. An existing
    file keeps the permissions its owner gave it.
    """
    import json
    import os
    import threading
    from dataclasses import asdict

    lock = threading.Lock()
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)

    def sink(event: d2.DecisionEvent) -> None:
        line = json.dumps(asdict(event), separators=(",", ":"), sort_keys=True)
        with lock, os.fdopen(os.open(path, flags, 0o600), "a", encoding="utf-8") as fh:
            fh.write(line + "\n")

    return sink


async def serve_stdio(config: ProxyConfig, *, instance_name: str = "default") -> None:
    """Serve one client on this process's stdin/stdout (a desktop client's ``command`` entry)."""
    from mcp.server.stdio import stdio_server

    from ._stdio import event_loop_stdio

    proxy = Proxy(config, instance_name=instance_name)
    server = build_server(proxy)
    async with event_loop_stdio() as (stdin, stdout), stdio_server(stdin, stdout) as (read, write):
        await server.run(read, write, server.create_initialization_options())


def http_app(config: ProxyConfig, *, instance_name: str = "default") -> Any:
    """The Starlette app serving streamable HTTP at ``/mcp``, bearer tokens required when auth is set."""
    proxy = Proxy(config, instance_name=instance_name)
    server = build_server(proxy)
    host = config.listen[0] if config.listen else "127.0.0.1"
    if proxy.verifier is None:
        return server.streamable_http_app(host=host)
    from mcp.server.auth.settings import AuthSettings

    assert config.auth is not None
    try:
        settings = AuthSettings(
            issuer_url=config.auth.issuer,  # type: ignore[arg-type]
            resource_server_url=config.auth.resource_url,  # type: ignore[arg-type]
            validate_token_resource=False,  # the verifier checks 'aud' itself
        )
    except ValueError as exc:
        raise ConfigurationError(
            f"mcp-proxy: auth.issuer {config.auth.issuer!r} (and auth.resource_url, when given) must be "
            f"http(s) URLs: {exc}"
        ) from exc
    return server.streamable_http_app(host=host, auth=settings, token_verifier=proxy.verifier)


async def serve_http(config: ProxyConfig, *, instance_name: str = "default") -> None:
    """Serve streamable HTTP on ``config.listen`` until cancelled."""
    import uvicorn

    assert config.listen is not None
    app = http_app(config, instance_name=instance_name)
    host, port = config.listen
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on"))
    await server.serve()
