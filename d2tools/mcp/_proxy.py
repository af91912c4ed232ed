"""The policy-enforcing core of ``d2 mcp-proxy``: one catalog of upstream tools, one guard per tool.

Prompts and resources are governed the same way (docs/mcp.md, "Resources and prompts"): prompt
``<name>`` of server ``<server>`` is the tool id ``<server>.prompts.<name>``, and every resource read
of a server is the tool id ``<server>.resources.read`` called with one argument, ``uri``.

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
from functools import partial
from typing import Any, TypeVar

from anyio.abc import TaskGroup
from mcp import MCPError
from mcp_types import (
    CallToolRequestParams,
    CallToolResult,
    GetPromptRequestParams,
    GetPromptResult,
    ListPromptsResult,
    ListResourcesResult,
    ListResourceTemplatesResult,
    ListToolsResult,
    PaginatedRequestParams,
    Prompt,
    ReadResourceRequestParams,
    ReadResourceResult,
    TextContent,
    Tool,
)
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS

from d2 import PermissionDeniedError, Reason, UserContext, d2_guard, get_policy_manager
from d2._toolkit import record_refusal
from d2tools.integrations._refusal import Refusal, refusal_for

from ._arguments import ArgumentPlan, Declared, declared_names, declared_properties, without_unseen
from ._auth import JwtVerifier, token_key, user_from_claims
from ._config import ProxyConfig
from ._content import (
    UncheckedBlocks,
    WireResult,
    prompt_from_value,
    prompt_value,
    require_unicode,
    resource_from_value,
    resource_value,
    wire_from_value,
    wire_value,
)
from ._routes import ResourceRoutes
from ._session import SESSION_META_KEY, call_state, use_state
from ._upstream import Upstream, UpstreamUnavailable

__all__ = ["REFUSAL_ERROR_CODE", "REFUSAL_META_KEY", "Proxy", "refusal_error", "refusal_result"]

log = logging.getLogger("d2.mcp")
_T = TypeVar("_T")

REFUSAL_META_KEY = "io.d2/refusal"
# The JSON-RPC error code of a refused prompts/get or resources/read (implementation-defined range;
# the SDK's own codes in that range are -32000, -32001 and -32020 to -32022).
REFUSAL_ERROR_CODE = -32003
_RESERVED = "io.modelcontextprotocol/"
_OURS = "io.d2/"
# The code an upstream error that claimed d2's refusal code is relayed with (JSON-RPC internal error).
_UPSTREAM_ERROR = -32603
_NO_CACHE = {"ttlMs": 0, "cacheScope": "private"}
# The upstream's result (wire form) and the value the guard was given, for the call in flight.
_RAW: ContextVar[list[tuple[WireResult, Any]] | None] = ContextVar("d2_mcp_raw_result", default=None)


@dataclass(frozen=True, slots=True)
class _Entry:
    tool_id: str
    upstream: Upstream
    name: str
    tool: Tool
    guarded: Callable[..., Awaitable[Any]]
    declared: dict[str, Declared] | None  # the arguments the tool declares (defaults, types)


def refusal_result(refusal: Refusal) -> CallToolResult:
    """The one shape of every refusal: an MCP tool error with the code and rule in text and ``_meta``."""
    return CallToolResult(
        content=[TextContent(type="text", text=refusal.text)],
        is_error=True,
        _meta={REFUSAL_META_KEY: {"reason": refusal.reason, "rule": refusal.rule}},
    )


# The tool id of one upstream's resource reads and its guarded read.
_Reader = tuple[str, Callable[..., Awaitable[Any]]]


@dataclass(frozen=True, slots=True)
class _PromptEntry:
    upstream: Upstream
    name: str
    prompt: Prompt
    guarded: Callable[..., Awaitable[Any]]
    declared: dict[str, Declared] | None  # the prompt's arguments (strings, no defaults)


def refusal_error(refusal: Refusal) -> MCPError:
    """A refusal of a request that has no error result (prompts/get, resources/read): a JSON-RPC error."""
    data = {REFUSAL_META_KEY: {"reason": refusal.reason, "rule": refusal.rule}}
    return MCPError(REFUSAL_ERROR_CODE, refusal.text, data)


def _guarded(
    fetch: Callable[..., Awaitable[WireResult]],
    value_of: Callable[[WireResult], Any],
    tool_id: str,
    instance: str,
    label: str,
) -> Callable[..., Awaitable[Any]]:
    """``fetch`` behind ``@d2_guard(tool_id)``: the guard sees the value, the handler gets the wire form."""

    async def call(**arguments: Any) -> Any:
        wire = await fetch(**arguments)
        value = value_of(wire)
        box = _RAW.get()
        if box is not None:
            box.append((wire, value))
        return value

    call.__qualname__ = call.__name__ = label
    return d2_guard(tool_id, instance_name=instance)(call)


def _guarded_call(
    upstream: Upstream, name: str, tool_id: str, instance: str
) -> Callable[..., Awaitable[Any]]:
    async def fetch(**arguments: Any) -> WireResult:
        return await upstream.call(name, without_unseen(arguments))

    return _guarded(fetch, wire_value, tool_id, instance, f"mcp_{upstream.name}_{name}")


def _guarded_prompt(
    upstream: Upstream, name: str, tool_id: str, instance: str
) -> Callable[..., Awaitable[Any]]:
    async def fetch(**arguments: Any) -> WireResult:
        return await upstream.get_prompt(name, without_unseen(arguments))

    return _guarded(fetch, prompt_value, tool_id, instance, f"mcp_{upstream.name}_prompt_{name}")


def _guarded_read(upstream: Upstream, tool_id: str, instance: str) -> Callable[..., Awaitable[Any]]:
    async def fetch(uri: str) -> WireResult:
        return await upstream.read_resource(uri)

    return _guarded(fetch, resource_value, tool_id, instance, f"mcp_{upstream.name}_read_resource")


class Proxy:
    """Upstream connections, the guarded catalog, and the MCP request handlers."""

    def __init__(self, config: ProxyConfig, *, instance_name: str = "default") -> None:
        self.config = config
        self.instance_name = instance_name
        self.manager = get_policy_manager(instance_name)
        self.upstreams = [Upstream(spec, on_tools=self.rebuild) for spec in config.upstreams]
        self.catalog: dict[str, _Entry] = {}
        self.prompts: dict[str, _PromptEntry] = {}
        # Per upstream name: the tool id of its resource reads and the guarded read.
        self.readers: dict[str, _Reader] = {}
        self.routes = ResourceRoutes([])
        self.verifier = JwtVerifier(config.auth) if config.auth is not None else None
        identity = config.identity
        self.stdio_user = UserContext(identity.user, frozenset(identity.roles), dict(identity.attributes))
        # Request keys name backend sessions: stable across replicas (the same token or HTTP session
        # on another proxy process meets the same history), except stdio, whose one client is this
        # process's connection.
        # Per tool or prompt id: how its arguments are completed under the current policy.
        self._plans: dict[str, ArgumentPlan] = {}
        self._scope = f"mcp:{instance_name}"
        self._stdio_key = f"{self._scope}:stdio:{uuid.uuid4().hex}"

    async def start(self, tg: TaskGroup) -> None:
        """Connect every upstream and build the catalog (fails if one cannot start)."""
        for upstream in self.upstreams:
            await upstream.start(tg)  # each (re)connection rebuilds the catalog from the tools it lists

    def rebuild(self) -> None:
        """(Re)build the guarded catalogs from the upstreams' tool, prompt and resource lists."""
        catalog: dict[str, _Entry] = {}
        twice: set[str] = set()
        for upstream in self.upstreams:
            for tool in upstream.tools:
                tool_id = self.config.tool_id.format(server=upstream.name, tool=tool.name)
                seen = catalog.get(tool_id)
                if seen is not None:
                    if seen.upstream is not upstream or seen.name != tool.name:
                        twice.add(tool_id)
                    continue  # else the same tool listed again (a repeated page): one entry
                old = self.catalog.get(tool_id)
                guarded = (
                    old.guarded
                    if old is not None and old.upstream is upstream
                    else _guarded_call(upstream, tool.name, tool_id, self.instance_name)
                )
                public = tool.model_copy(update={"name": tool_id})
                declared = declared_properties(tool.input_schema)
                catalog[tool_id] = _Entry(tool_id, upstream, tool.name, public, guarded, declared)
        for tool_id in sorted(twice):
            # Which server's tool the policy's rules for this id would govern would be up to listing
            # order (server "a" tool "b.c" and server "a.b" tool "c"): neither is offered.
            log.error("d2 mcp-proxy: tool id %r names two different tools; neither is offered", tool_id)
            del catalog[tool_id]
        self.readers = self._build_readers(catalog)
        self.prompts = self._build_prompts(catalog)
        self.routes = ResourceRoutes([u for u in self.upstreams if u.serves_resources])
        self.catalog = catalog
        self._plans = {}

    def _kind_id(self, upstream: Upstream, kind: str, name: str) -> str:
        """The tool id of a prompt or of resource reads: the tool-id format with ``<kind>.<name>``."""
        return self.config.tool_id.format(server=upstream.name, tool=f"{kind}.{name}")

    def _build_readers(self, tools: Mapping[str, _Entry]) -> dict[str, _Reader]:
        """One guarded resource read per upstream that serves resources (kept across reconnects)."""
        readers: dict[str, _Reader] = {}
        for upstream in self.upstreams:
            if not upstream.serves_resources:
                continue
            tool_id = self._kind_id(upstream, "resources", "read")
            if tool_id in tools:
                log.warning("d2 mcp-proxy: %r names a tool; %r serves no resources", tool_id, upstream.name)
                continue
            old = self.readers.get(upstream.name)
            if old is None or old[0] != tool_id:
                old = (tool_id, _guarded_read(upstream, tool_id, self.instance_name))
            readers[upstream.name] = old
        return readers

    def _build_prompts(self, tools: Mapping[str, _Entry]) -> dict[str, _PromptEntry]:
        """One guarded ``prompts/get`` per upstream prompt; an id a tool or a reader holds is skipped."""
        taken = set(tools) | {tool_id for tool_id, _ in self.readers.values()}
        prompts: dict[str, _PromptEntry] = {}
        for upstream in self.upstreams:
            for prompt in upstream.prompts:
                tool_id = self._kind_id(upstream, "prompts", prompt.name)
                if tool_id in taken or tool_id in prompts:
                    log.warning("d2 mcp-proxy: prompt id %r is taken; keeping the first", tool_id)
                    continue
                old = self.prompts.get(tool_id)
                guarded = (
                    old.guarded
                    if old is not None and old.upstream is upstream
                    else _guarded_prompt(upstream, prompt.name, tool_id, self.instance_name)
                )
                public = prompt.model_copy(update={"name": tool_id})
                declared = declared_names(a.name for a in prompt.arguments or ())
                prompts[tool_id] = _PromptEntry(upstream, prompt.name, public, guarded, declared)
        return prompts

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

    def _arguments(
        self, tool_id: str, declared: dict[str, Declared] | None, policy: Any, arguments: dict[str, Any]
    ) -> dict[str, Any]:
        """Complete ``arguments`` as the tool's declaration says (see ``_arguments``), per policy version."""
        plan = self._plans.get(tool_id)
        if plan is None or plan.policy is not policy:
            plan = self._plans[tool_id] = ArgumentPlan.build(policy, tool_id, declared)
        return plan.apply(tool_id, arguments)

    async def _run(
        self,
        ctx: Any,
        tool_id: str,
        guarded: Callable[..., Awaitable[Any]] | None,
        arguments: dict[str, Any],
        meta: Mapping[str, Any] | None,
        finish: Callable[[UserContext, WireResult, Any, Any], _T],
        entry: _Entry | _PromptEntry | None = None,
    ) -> _T:
        """Run the guard around one upstream request, then ``finish(user, wire, original, value)``.

        ``finish`` maps the upstream's wire result, the value the guard saw and the sanitized value
        to the answer; raises what the guard, the upstream or ``finish`` raised (:meth:`_refusal`
        names the refusal). A name no upstream lists (``guarded`` None) is refused without running
        the guard: an allow recorded for it would be a workflow step or pattern element that never
        ran. The arguments of a listed tool or prompt (``entry``) are completed from
        its declaration before the guard decides (``_arguments``). A refusal decided outside the
        guard (a policy naming an undeclared argument, an upstream that failed after the allow, a
        result ``finish`` withholds) is recorded as a refusal decision too, so every refusal the
        client sees is in the decision log.
        """
        who = self.caller(ctx)
        if who is None:
            raise PermissionDeniedError(reason=Reason.NO_CONTEXT, tool_id=tool_id, detail="no identity")
        user, key = who
        box: list[tuple[WireResult, Any]] = []
        raw_token = _RAW.set(box)
        policy = self.manager.policy
        try:
            reference = meta.get(SESSION_META_KEY) if meta else None
            state = call_state(key, user, reference)
            if guarded is None:
                record_refusal(tool_id, state, str(Reason.UNKNOWN_TOOL), policy)
                raise PermissionDeniedError(
                    reason=Reason.UNKNOWN_TOOL,
                    tool_id=tool_id,
                    location=policy.source if policy is not None else None,
                    detail="no upstream lists it",
                )
            if entry is not None:
                try:
                    arguments = self._arguments(tool_id, entry.declared, policy, arguments)
                except PermissionDeniedError:
                    record_refusal(tool_id, state, str(Reason.INTERNAL_ERROR), policy)
                    raise
            try:
                with use_state(state):
                    value = await guarded(**arguments)
            except UpstreamUnavailable:
                record_refusal(tool_id, state, "upstream_unavailable", policy)
                raise
        finally:
            _RAW.reset(raw_token)
        if not box:  # pragma: no cover - the guard returned without running the body
            raise RuntimeError("the guard returned without calling the upstream")
        wire, original = box[0]
        try:
            return finish(user, wire, original, value)
        except UncheckedBlocks:
            record_refusal(tool_id, state, str(Reason.OUTPUT_VALIDATION), policy)
            raise

    @staticmethod
    def _refusal(exc: Exception, what: str) -> Refusal:
        """The refusal an exception of :meth:`_run` (or of the result mapping) stands for."""
        if isinstance(exc, PermissionDeniedError):
            return refusal_for(exc)
        if isinstance(exc, UncheckedBlocks):
            log.warning("d2 mcp-proxy: the result of %r was withheld: %s", what, exc)
            return refusal_for(reason=str(Reason.OUTPUT_VALIDATION))
        if isinstance(exc, UpstreamUnavailable):
            log.warning("d2 mcp-proxy: %s", exc)
            return refusal_for(reason="upstream_unavailable")
        log.error("d2 mcp-proxy: internal error on %r; refused", what, exc_info=exc)
        return refusal_for(reason=str(Reason.INTERNAL_ERROR))

    def _tool_result(
        self, tool_id: str, user: UserContext, wire: WireResult, original: Any, value: Any
    ) -> WireResult:
        """A ``tools/call`` answer: the upstream's result with the output rules' changes."""
        rules = self.output_rules(tool_id, user)
        return _own_meta(wire_from_value(wire, original, value, rules=rules))

    def _prompt_result(
        self, tool_id: str, user: UserContext, wire: WireResult, original: Any, value: Any
    ) -> GetPromptResult:
        """A ``prompts/get`` answer: the upstream's messages with the output rules' changes."""
        rules = self.output_rules(tool_id, user)
        return GetPromptResult.model_validate(
            _own_meta(prompt_from_value(wire, original, value, rules=rules))
        )

    def _resource_result(
        self, tool_id: str, user: UserContext, wire: WireResult, original: Any, value: Any
    ) -> ReadResourceResult:
        """A ``resources/read`` answer, never cached by the client or shared between users: each read
        is a decision of its own."""
        rules = self.output_rules(tool_id, user)
        result = {**resource_from_value(wire, original, value, rules=rules), **_NO_CACHE}
        return ReadResourceResult.model_validate(_own_meta(result))

    def _relayed(self, exc: MCPError, ctx: Any, tool_id: str) -> MCPError:
        """The server's JSON-RPC error as the client gets it: as it came, unless that would let it pass
        for a d2 refusal (d2's code or ``_meta`` key) or carry data past output rules no rule read."""
        error = exc.error
        data = error.data
        forged = error.code == REFUSAL_ERROR_CODE or (
            isinstance(data, dict) and any(str(k).startswith(_OURS) for k in data)
        )
        who = self.caller(ctx)
        ruled = who is None or self.output_rules(tool_id, who[0])
        if not forged and not ruled:
            try:
                require_unicode([error.message, data])
                return exc
            except UncheckedBlocks:
                pass
        code = _UPSTREAM_ERROR if forged else error.code
        return MCPError(code, "The tool's server returned an error (its detail was withheld by the policy).")

    async def call_tool(self, ctx: Any, params: CallToolRequestParams) -> CallToolResult | WireResult:
        """Run the whole d2 pipeline around the upstream call; refusals are tool-error results.

        A result is returned in wire form (the ``mcp`` server validates it against the client's
        protocol version before writing it); a refusal as the SDK's model.
        """
        entry = self.catalog.get(params.name)
        try:
            return await self._run(
                ctx,
                params.name,
                entry.guarded if entry is not None else None,
                dict(params.arguments or {}),
                params.meta,
                partial(self._tool_result, params.name),
                entry,
            )
        except MCPError as exc:
            raise self._relayed(exc, ctx, params.name) from None  # the server's protocol error
        except Exception as exc:
            return refusal_result(self._refusal(exc, params.name))

    # -- prompts and resources ------------------------------------------------------------------

    async def list_prompts(self, ctx: Any, params: PaginatedRequestParams | None) -> ListPromptsResult:
        """Only the prompts the caller's roles may get (the rule of ``tools/list``)."""
        who = self.caller(ctx)
        if who is None:
            return ListPromptsResult(prompts=[])
        user = who[0]
        shown = [e.prompt for tool_id, e in self.prompts.items() if self.visible(tool_id, user)]
        return ListPromptsResult(prompts=shown)

    async def get_prompt(self, ctx: Any, params: GetPromptRequestParams) -> GetPromptResult:
        """``prompts/get`` through the whole pipeline; a refusal is a JSON-RPC error naming its reason."""
        entry = self.prompts.get(params.name)
        try:
            return await self._run(
                ctx,
                params.name,
                entry.guarded if entry is not None else None,
                dict(params.arguments or {}),
                params.meta,
                partial(self._prompt_result, params.name),
                entry,
            )
        except MCPError as exc:
            raise self._relayed(exc, ctx, params.name) from None
        except Exception as exc:
            raise refusal_error(self._refusal(exc, params.name)) from None

    def _readable(self, ctx: Any) -> list[Upstream]:
        """The upstreams whose resources the caller may read (granted ``<server>.resources.read``)."""
        who = self.caller(ctx)
        if who is None:
            return []
        user = who[0]
        by_name = {u.name: u for u in self.upstreams}
        return [by_name[name] for name, (tid, _) in self.readers.items() if self.visible(tid, user)]

    async def list_resources(self, ctx: Any, params: PaginatedRequestParams | None) -> ListResourcesResult:
        """The resources of every upstream the caller may read from, with their own URIs."""
        return ListResourcesResult(resources=[r for u in self._readable(ctx) for r in u.resources])

    async def list_resource_templates(
        self, ctx: Any, params: PaginatedRequestParams | None
    ) -> ListResourceTemplatesResult:
        """The resource templates of every upstream the caller may read from."""
        shown = [t for u in self._readable(ctx) for t in u.templates]
        return ListResourceTemplatesResult(resource_templates=shown)

    async def read_resource(self, ctx: Any, params: ReadResourceRequestParams) -> ReadResourceResult:
        """``resources/read`` through the pipeline as ``<server>.resources.read(uri=...)``.

        The read goes to the upstream whose listing or templates hold the URI; a URI no upstream
        claims is refused (``unknown_tool``) when there are several upstreams, never guessed.
        """
        uri = str(params.uri)
        upstream = self.routes.route(uri, single=len(self.upstreams) == 1)
        reader = self.readers.get(upstream.name) if upstream is not None else None
        tool_id, guarded = reader if reader is not None else ("resources.read", None)
        finish = partial(self._resource_result, tool_id)
        try:
            return await self._run(ctx, tool_id, guarded, {"uri": uri}, params.meta, finish)
        except MCPError as exc:
            raise self._relayed(exc, ctx, tool_id) from None
        except Exception as exc:
            raise refusal_error(self._refusal(exc, tool_id)) from None


def _own_meta(wire: WireResult) -> WireResult:
    """Drop the upstream's protocol-reserved ``_meta`` keys and any ``io.d2/`` key; the proxy stamps its own.

    The SDK's server keeps a ``serverInfo`` stamp the handler set, so the upstream's would otherwise
    reach the client as the proxy's; an ``io.d2/refusal`` from the upstream would pass for a d2
    refusal. ``wire`` is not modified (a copy is returned).

    No UTF-8 check is needed on the answer: strings that came over the wire passed the SDK's JSON
    parser, which refuses a lone surrogate, and the only text the proxy makes (JSON of a parsed text
    block, where Python's parser lets one through) is written by ``_content._dump``, which escapes it.
    """
    meta = wire.get("_meta")
    if not meta or not any(k.startswith((_RESERVED, _OURS)) for k in meta):
        return wire
    kept = {k: v for k, v in meta.items() if not k.startswith((_RESERVED, _OURS))}
    out = dict(wire)
    if kept:
        out["_meta"] = kept
    else:
        del out["_meta"]
    return out
