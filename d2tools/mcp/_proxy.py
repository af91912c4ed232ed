"""The policy-enforcing core of ``d2 mcp-proxy``: one catalog of upstream tools, one guard per tool.

Every upstream tool becomes an async function ``call(**arguments)`` that forwards to the upstream,
wrapped by the public ``@d2_guard`` under the tool id ``<server>.<tool>``. So a ``tools/call`` runs
exactly the pipeline a decorated Python function runs — RBAC and input conditions on the JSON
arguments, restrictions, sequence and data-flow rules on the session's request state, output rules
on the result, a decision event — with no second evaluator. The proxy only adds the MCP edges: who
the caller is, which request state the call belongs to, and the refusal's MCP shape.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from anyio.abc import TaskGroup
from mcp import MCPError
from mcp_types import (
    CallToolRequestParams,
    CallToolResult,
    ListToolsResult,
    PaginatedRequestParams,
    TextContent,
    Tool,
)
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS

from d2 import PermissionDeniedError, Reason, UserContext, d2_guard, get_policy_manager
from d2tools.integrations._refusal import Refusal, refusal_for

from ._auth import JwtVerifier, token_key, user_from_claims
from ._config import ProxyConfig
from ._content import UncheckedBlocks, WireResult, wire_from_value, wire_value
from ._session import SESSION_META_KEY, SessionTable, use_state
from ._upstream import Upstream, UpstreamUnavailable

__all__ = ["REFUSAL_META_KEY", "Proxy", "refusal_result"]

log = logging.getLogger("d2.mcp")

REFUSAL_META_KEY = "io.d2/refusal"
_RESERVED = "io.modelcontextprotocol/"
# The upstream's result (wire form) and the value the guard was given, for the call in flight.
_RAW: ContextVar[list[tuple[WireResult, Any]] | None] = ContextVar("d2_mcp_raw_result", default=None)


@dataclass(frozen=True, slots=True)
class _Entry:
    tool_id: str
    upstream: Upstream
    name: str
    tool: Tool
    guarded: Callable[..., Awaitable[Any]]


def refusal_result(refusal: Refusal) -> CallToolResult:
    """The one shape of every refusal: an MCP tool error with the code and rule in text and ``_meta``."""
    return CallToolResult(
        content=[TextContent(type="text", text=refusal.text)],
        is_error=True,
        _meta={REFUSAL_META_KEY: {"reason": refusal.reason, "rule": refusal.rule}},
    )


def _guarded_call(
    upstream: Upstream, name: str, tool_id: str, instance: str
) -> Callable[..., Awaitable[Any]]:
    async def call(**arguments: Any) -> Any:
        wire = await upstream.call(name, arguments)
        value = wire_value(wire)
        box = _RAW.get()
        if box is not None:
            box.append((wire, value))
        return value

    call.__qualname__ = call.__name__ = f"mcp_{upstream.name}_{name}"
    return d2_guard(tool_id, instance_name=instance)(call)


def _unknown_call(tool_id: str, instance: str) -> Callable[..., Awaitable[Any]]:
    """A guard for a name no upstream lists: the policy decides (and logs), then it is refused anyway."""

    async def call(**arguments: Any) -> Any:
        raise PermissionDeniedError(
            reason=Reason.UNKNOWN_TOOL, tool_id=tool_id, detail="no upstream lists it"
        )

    return d2_guard(tool_id, instance_name=instance)(call)


class Proxy:
    """Upstream connections, the guarded catalog, and the MCP request handlers."""

    def __init__(self, config: ProxyConfig, *, instance_name: str = "default") -> None:
        self.config = config
        self.instance_name = instance_name
        self.manager = get_policy_manager(instance_name)
        self.upstreams = [Upstream(spec, on_tools=self.rebuild) for spec in config.upstreams]
        self.catalog: dict[str, _Entry] = {}
        self.verifier = JwtVerifier(config.auth) if config.auth is not None else None
        identity = config.identity
        self.stdio_user = UserContext(identity.user, frozenset(identity.roles), dict(identity.attributes))
        # Request keys name backend sessions: stable across replicas (the same token or HTTP session
        # on another proxy process meets the same history), except stdio, whose one client is this
        # process's connection.
        self._scope = f"mcp:{instance_name}"
        self._stdio_key = f"{self._scope}:stdio:{uuid.uuid4().hex}"
        self.sessions = SessionTable()

    async def start(self, tg: TaskGroup) -> None:
        """Connect every upstream and build the catalog (fails if one cannot start)."""
        for upstream in self.upstreams:
            await upstream.start(tg)  # each (re)connection rebuilds the catalog from the tools it lists

    def rebuild(self) -> None:
        """(Re)build the guarded catalog from the upstreams' tool lists."""
        catalog: dict[str, _Entry] = {}
        for upstream in self.upstreams:
            for tool in upstream.tools:
                tool_id = self.config.tool_id.format(server=upstream.name, tool=tool.name)
                if tool_id in catalog:
                    log.warning("d2 mcp-proxy: tool id %r is listed twice; keeping the first", tool_id)
                    continue
                old = self.catalog.get(tool_id)
                guarded = (
                    old.guarded
                    if old is not None and old.upstream is upstream
                    else _guarded_call(upstream, tool.name, tool_id, self.instance_name)
                )
                public = tool.model_copy(update={"name": tool_id})
                catalog[tool_id] = _Entry(tool_id, upstream, tool.name, public, guarded)
        self.catalog = catalog

    async def aclose(self) -> None:
        for upstream in self.upstreams:
            await upstream.aclose()

    # -- identity and request state -------------------------------------------------------------

    def caller(self, ctx: Any) -> tuple[UserContext, str] | None:
        """The acting user and the request-state key of this MCP request (None: no identity)."""
        request = getattr(ctx, "request", None)
        if request is None:  # stdio: one client per proxy process, configured identity
            return self.stdio_user, self._stdio_key
        http_session = request.headers.get("mcp-session-id")
        stateful = ctx.protocol_version in HANDSHAKE_PROTOCOL_VERSIONS and http_session
        if self.verifier is None:  # --no-auth HTTP: configured identity
            key = f"s:{http_session}" if stateful else "anonymous"
            return self.stdio_user, f"{self._scope}:{key}"
        auth_user = request.scope.get("user")
        token = getattr(auth_user, "access_token", None)
        if token is None or token.claims is None:
            return None
        assert self.config.auth is not None
        user = user_from_claims(token.claims, self.config.auth)
        if stateful:
            return user, f"{self._scope}:s:{http_session}|{token.claims.get('iss')}|{token.subject}"
        return user, f"{self._scope}:t:{token_key(token)}"

    # -- MCP handlers ---------------------------------------------------------------------------

    def visible(self, tool_id: str, user: UserContext) -> bool:
        """Whether ``tools/list`` shows a tool: some role holds a grant and none is explicitly denied."""
        policy = self.manager.policy
        if policy is None:
            return False
        access = policy.access(tool_id, user.roles)
        return access.deny is None and bool(access.grants)

    async def list_tools(self, ctx: Any, params: PaginatedRequestParams | None) -> ListToolsResult:
        """Only the tools the caller's roles may call.

        A tool whose results output rules may rewrite is listed without its ``outputSchema``: a
        filtered or redacted result need not fit the upstream's schema, and clients validate against it.
        """
        who = self.caller(ctx)
        policy = self.manager.policy
        if who is None or policy is None:
            return ListToolsResult(tools=[])
        roles = who[0].roles
        tools = []
        for entry in self.catalog.values():
            access = policy.access(entry.tool_id, roles)
            if access.deny is not None or not access.grants:
                continue
            rewritten = access.has_output and entry.tool.output_schema is not None
            tools.append(entry.tool.model_copy(update={"output_schema": None}) if rewritten else entry.tool)
        return ListToolsResult(tools=tools)

    def output_rules(self, tool_id: str, user: UserContext) -> bool:
        """Whether output rules may apply to this caller's results of ``tool_id`` (memoised by the policy)."""
        policy = self.manager.policy
        return policy is not None and policy.access(tool_id, user.roles).has_output

    def input_schema(self, name: str) -> Mapping[str, Any] | None:
        entry = self.catalog.get(name)
        return entry.tool.input_schema if entry is not None else None

    async def call_tool(self, ctx: Any, params: CallToolRequestParams) -> CallToolResult | WireResult:
        """Run the whole d2 pipeline around the upstream call; refusals are tool-error results.

        A result is returned in wire form (the ``mcp`` server validates it against the client's
        protocol version before writing it); a refusal as the SDK's model.
        """
        who = self.caller(ctx)
        if who is None:
            return refusal_result(refusal_for(reason=str(Reason.NO_CONTEXT)))
        user, key = who
        arguments = dict(params.arguments or {})
        entry = self.catalog.get(params.name)
        guarded = entry.guarded if entry is not None else _unknown_call(params.name, self.instance_name)
        box: list[tuple[WireResult, Any]] = []
        raw_token = _RAW.set(box)
        try:
            state = self.sessions.state(key, user, _reference(params), self.manager.policy)
            with use_state(state):
                value = await guarded(**arguments)
            if not box:  # pragma: no cover - the guard returned without running the body
                return refusal_result(refusal_for(reason=str(Reason.INTERNAL_ERROR)))
            wire, original = box[0]
            rules = self.output_rules(params.name, user)
            return _own_meta(wire_from_value(wire, original, value, rules=rules))
        except PermissionDeniedError as exc:
            return refusal_result(refusal_for(exc))
        except UncheckedBlocks as exc:
            log.warning("d2 mcp-proxy: the result of %r was withheld: %s", params.name, exc)
            return refusal_result(refusal_for(reason=str(Reason.OUTPUT_VALIDATION)))
        except UpstreamUnavailable as exc:
            log.warning("d2 mcp-proxy: %s", exc)
            return refusal_result(refusal_for(reason="upstream_unavailable"))
        except MCPError:
            raise  # the upstream's own protocol error (e.g. invalid params) is relayed as it came
        except Exception:
            log.exception("d2 mcp-proxy: internal error while calling %r; the call is refused", params.name)
            return refusal_result(refusal_for(reason=str(Reason.INTERNAL_ERROR)))
        finally:
            _RAW.reset(raw_token)


def _reference(params: CallToolRequestParams) -> object:
    """The signed session reference a client sent in ``_meta["d2/session"]`` (None when absent)."""
    meta = params.meta
    if not meta:
        return None
    return meta.get(SESSION_META_KEY)


def _own_meta(wire: WireResult) -> WireResult:
    """Drop the upstream's protocol-reserved ``_meta`` keys (its server info); the proxy stamps its own.

    The SDK's server keeps a ``serverInfo`` stamp the handler set, so the upstream's would otherwise
    reach the client as the proxy's. ``wire`` is not modified (a copy is returned).
    """
    meta = wire.get("_meta")
    if not meta or not any(k.startswith(_RESERVED) for k in meta):
        return wire
    kept = {k: v for k, v in meta.items() if not k.startswith(_RESERVED)}
    out = dict(wire)
    if kept:
        out["_meta"] = kept
    else:
        del out["_meta"]
    return out
