"""Prompts and resources through the proxy, governed by the policy like tools (docs/mcp.md).

Prompt ``draft_reply`` of the CRM is the tool id ``crm.prompts.draft_reply``; every resource read of
the CRM is ``crm.resources.read`` called with ``{"uri": ...}``. The end-to-end tests drive the proxy
process (HTTP and stdio) with the ``mcp`` client in front of ``examples/mcp/crm_server.py``; the
in-process ones use small SDK servers for the shapes the example does not serve (blobs, images,
several upstreams).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, MCPError
from mcp.server.lowlevel.server import Server
from mcp_types import (
    BlobResourceContents,
    GetPromptResult,
    ImageContent,
    ListPromptsResult,
    ListResourcesResult,
    ListResourceTemplatesResult,
    Prompt,
    PromptArgument,
    PromptMessage,
    ReadResourceResult,
    Resource,
    ResourceTemplate,
    TextContent,
    TextResourceContents,
)

import d2
from d2tools.mcp import (
    REFUSAL_ERROR_CODE,
    REFUSAL_META_KEY,
    IdentitySpec,
    Proxy,
    ProxyConfig,
    UpstreamSpec,
    build_server,
)

from .conftest import CRM, POLICY, Issuer, http_client, refusal, stdio_client, text

PROFILE = "crm://customers/C001/profile"
KB = "crm://kb/refunds"


def refused(exc: pytest.ExceptionInfo[MCPError], *reasons: str) -> None:
    """A refused prompts/get or resources/read: a JSON-RPC error carrying the d2 reason code."""
    error = exc.value
    assert error.code == REFUSAL_ERROR_CODE, error
    reason = error.data[REFUSAL_META_KEY]["reason"]
    assert reason in reasons, error.data
    assert error.message.startswith(f"Refused by policy (reason: {reason}")


def token(issuer: Issuer, role: str) -> str:
    """A token of its own (a fresh ``jti``): in the stateless era each token is its own history."""
    return issuer.token(sub=f"user-{role}", roles=[role], jti=uuid.uuid4().hex)


def contents_text(result: ReadResourceResult) -> str:
    return "".join(getattr(c, "text", "") for c in result.contents)


# -- end to end, over HTTP (one proxy process, a token per role) -----------------------------------


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_lists_follow_the_callers_roles(proxy_http: str, issuer: Issuer, mode: str) -> None:
    async with http_client(proxy_http, token(issuer, "support"), mode=mode) as client:
        assert (await client.list_prompts()).prompts == []
        assert (await client.list_resources()).resources == []
        assert (await client.list_resource_templates()).resource_templates == []
    async with http_client(proxy_http, token(issuer, "librarian"), mode=mode) as client:
        assert [p.name for p in (await client.list_prompts()).prompts] == ["crm.prompts.draft_reply"]
        assert sorted(str(r.uri) for r in (await client.list_resources()).resources) == [PROFILE, KB]
    async with http_client(proxy_http, token(issuer, "kb_reader"), mode=mode) as client:
        assert (await client.list_prompts()).prompts == []
        # Listing follows the grant of crm.resources.read; which URIs may be read is the input condition.
        assert len((await client.list_resources()).resources) == 2


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_prompts_get_runs_the_pipeline(proxy_http: str, issuer: Issuer, mode: str) -> None:
    async with http_client(proxy_http, token(issuer, "librarian"), mode=mode) as client:
        got = await client.get_prompt("crm.prompts.draft_reply", {"customer_id": "C001", "tone": "formal"})
        assert "Draft a formal reply to Ada Park" in got.messages[0].content.text  # type: ignore[union-attr]
        with pytest.raises(MCPError) as exc:
            await client.get_prompt("crm.prompts.draft_reply", {"customer_id": "../etc"})
        refused(exc, "input_validation")
        with pytest.raises(MCPError) as exc:
            await client.get_prompt("crm.prompts.no_such_prompt", {})
        refused(exc, "unknown_tool")
    async with http_client(proxy_http, token(issuer, "support"), mode=mode) as client:
        with pytest.raises(MCPError) as exc:
            await client.get_prompt("crm.prompts.draft_reply", {"customer_id": "C001"})
        refused(exc, "rbac")
        # The connection is still usable after a refusal.
        assert not (await client.call_tool("crm.read_notes", {"customer_id": "C002"})).is_error


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_resources_read_runs_the_pipeline(proxy_http: str, issuer: Issuer, mode: str) -> None:
    async with http_client(proxy_http, token(issuer, "librarian"), mode=mode) as client:
        profile = await client.read_resource(PROFILE)
        shown = contents_text(profile)
        assert "123-45-6789" not in shown
        assert json.loads(shown) == {"id": "C001", "name": "Ada Park", "ssn": "[REDACTED]", "tier": "gold"}
        assert str(profile.contents[0].uri) == PROFILE and profile.contents[0].mime_type == "application/json"
        # Sequence rule across kinds: after a resource read, the bulk export is refused in this session.
        refusal_meta = refusal(await client.call_tool("crm.export_customers", {}))
        assert refusal_meta["reason"] == "sequence_violation"
    async with http_client(proxy_http, token(issuer, "kb_reader"), mode=mode) as client:
        assert "30 days" in contents_text(await client.read_resource(KB))
        with pytest.raises(MCPError) as exc:
            await client.read_resource(PROFILE)  # the input condition on uri: only crm://kb/...
        refused(exc, "input_validation")
    async with http_client(proxy_http, token(issuer, "support"), mode=mode) as client:
        with pytest.raises(MCPError) as exc:
            await client.read_resource(KB)
        refused(exc, "rbac")


async def test_an_export_before_a_read_is_allowed(proxy_http: str, issuer: Issuer) -> None:
    """The sequence rule is ordered: the export alone (a fresh token, a fresh history) passes."""
    async with http_client(proxy_http, token(issuer, "librarian")) as client:
        assert not (await client.call_tool("crm.export_customers", {})).is_error
        assert "[REDACTED]" in contents_text(await client.read_resource(PROFILE))


# -- end to end, over stdio: decision events ---------------------------------------------------------


async def test_prompt_and_resource_decisions_are_logged(tmp_path: Path) -> None:
    log = tmp_path / "decisions.jsonl"
    args = ["--policy", str(POLICY), "--name", "crm", "--user", "lib-1", "--role", "librarian"]
    async with stdio_client(*args, "--decision-log", str(log), "--", *CRM) as client:
        await client.get_prompt("crm.prompts.draft_reply", {"customer_id": "C002"})
        await client.read_resource(KB)
        with pytest.raises(MCPError):
            await client.get_prompt("crm.prompts.draft_reply", {"customer_id": "nope"})
        refused_call = await client.call_tool("crm.export_customers", {})
        assert refusal(refused_call)["reason"] == "sequence_violation", text(refused_call)
    events = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(e["tool_id"], e["allowed"], e["reason"]) for e in events] == [
        ("crm.prompts.draft_reply", True, None),
        ("crm.resources.read", True, None),
        ("crm.prompts.draft_reply", False, "input_validation"),
        ("crm.export_customers", False, "sequence_violation"),
    ]
    assert len({e["request_id"] for e in events}) == 1


# -- in process: shapes the example does not serve, several upstreams -------------------------------

POLICY_IN = """
policies:
  - role: reader
    permissions:
      - tool: a.resources.read
        conditions:
          output:
            ssn: {action: redact}
      - b.resources.read
      - tool: a.prompts.greet
        conditions:
          output:
            ssn: {action: redact}
      - tool: a.prompts.picture
        conditions:
          output:
            max_bytes: 100000
      - a.prompts.plain_picture
  - role: nobody
    permissions: []
"""


def upstream(name: str) -> Server[Any]:
    """An SDK server with prompts (text and image) and resources (text, blob, a template)."""
    prompts = [
        Prompt(name="greet", arguments=[PromptArgument(name="who", required=True)]),
        Prompt(name="picture"),
        Prompt(name="plain_picture"),
    ]
    resources = [
        Resource(name="card", uri=f"{name}://card", mime_type="application/json"),
        Resource(name="logo", uri=f"{name}://logo.png", mime_type="image/png"),
    ]
    templates = [ResourceTemplate(name="doc", uri_template=f"{name}://docs/{{id}}")]

    async def list_prompts(ctx: Any, params: Any) -> ListPromptsResult:
        return ListPromptsResult(prompts=prompts)

    async def get_prompt(ctx: Any, params: Any) -> GetPromptResult:
        if params.name == "greet":
            who = (params.arguments or {}).get("who", "")
            text_block = TextContent(type="text", text=json.dumps({"hello": who, "ssn": "123-45-6789"}))
            return GetPromptResult(description="d", messages=[PromptMessage(role="user", content=text_block)])
        image = ImageContent(type="image", data="aGk=", mime_type="image/png")
        return GetPromptResult(messages=[PromptMessage(role="user", content=image)])

    async def list_resources(ctx: Any, params: Any) -> ListResourcesResult:
        return ListResourcesResult(resources=resources)

    async def list_templates(ctx: Any, params: Any) -> ListResourceTemplatesResult:
        return ListResourceTemplatesResult(resource_templates=templates)

    async def read_resource(ctx: Any, params: Any) -> ReadResourceResult:
        uri = str(params.uri)
        if uri.endswith("logo.png"):
            return ReadResourceResult(
                contents=[BlobResourceContents(uri=uri, blob="aGk=", mime_type="image/png")]
            )
        body = json.dumps({"server": name, "uri": uri, "ssn": "123-45-6789"})
        contents = [TextResourceContents(uri=uri, text=body)]
        return ReadResourceResult(contents=contents, ttl_ms=60_000, cache_scope="public")

    return Server(
        name,
        on_list_prompts=list_prompts,
        on_get_prompt=get_prompt,
        on_list_resources=list_resources,
        on_list_resource_templates=list_templates,
        on_read_resource=read_resource,
    )


def bare() -> Server[Any]:
    """An upstream with tools only (no prompts or resources capability)."""

    async def list_tools(ctx: Any, params: Any) -> Any:
        from mcp_types import ListToolsResult

        return ListToolsResult(tools=[])

    return Server("bare", on_list_tools=list_tools)


@asynccontextmanager
async def proxied(
    write_policy: Any, servers: dict[str, Server[Any]], roles: tuple[str, ...] = ("reader",)
) -> AsyncIterator[Client]:
    d2.configure_rbac_sync(write_policy(POLICY_IN))
    ups = tuple(UpstreamSpec(n, server=s) for n, s in servers.items())
    config = ProxyConfig(policy=None, upstreams=ups, identity=IdentitySpec("u1", roles))
    async with Client(build_server(Proxy(config)), cache=None) as client:
        yield client


async def test_reads_go_to_the_upstream_that_owns_the_uri(write_policy: Any) -> None:
    async with proxied(write_policy, {"a": upstream("a"), "b": upstream("b")}) as client:
        listed = sorted(str(r.uri) for r in (await client.list_resources()).resources)
        assert listed == ["a://card", "a://logo.png", "b://card", "b://logo.png"]
        templates = sorted(
            t.uri_template for t in (await client.list_resource_templates()).resource_templates
        )
        assert templates == ["a://docs/{id}", "b://docs/{id}"]
        read_b = await client.read_resource("b://card")
        # The upstream's cache hints are not passed on: every read is decided (and recorded) anew.
        assert read_b.ttl_ms == 0 and read_b.cache_scope == "private"
        from_b = json.loads(contents_text(read_b))
        assert from_b == {"server": "b", "uri": "b://card", "ssn": "123-45-6789"}  # b has no output rule
        from_a = json.loads(contents_text(await client.read_resource("a://docs/7")))  # by template
        assert from_a == {"server": "a", "uri": "a://docs/7", "ssn": "[REDACTED]"}
        with pytest.raises(MCPError) as exc:
            await client.read_resource("c://card")  # no upstream claims it: refused, never guessed
        refused(exc, "unknown_tool")
        with pytest.raises(MCPError) as exc:
            await client.read_resource("a://docs/7/../../b")  # a simple template value holds no '/'
        refused(exc, "unknown_tool")


async def test_blobs_pass_without_output_rules_and_are_refused_with_them(write_policy: Any) -> None:
    async with proxied(write_policy, {"a": upstream("a"), "b": upstream("b")}) as client:
        blob = await client.read_resource("b://logo.png")
        assert isinstance(blob.contents[0], BlobResourceContents) and blob.contents[0].blob == "aGk="
        with pytest.raises(MCPError) as exc:
            await client.read_resource("a://logo.png")
        refused(exc, "output_validation", "output_sanitization")  # the redact rule cannot see inside


async def test_prompt_output_rules_and_non_text_messages(write_policy: Any) -> None:
    async with proxied(write_policy, {"a": upstream("a"), "b": upstream("b")}) as client:
        names = sorted(p.name for p in (await client.list_prompts()).prompts)
        assert names == ["a.prompts.greet", "a.prompts.picture", "a.prompts.plain_picture"]
        greet = await client.get_prompt("a.prompts.greet", {"who": "Ada"})
        assert greet.messages[0].role == "user" and greet.description is None  # no rule read it
        assert json.loads(greet.messages[0].content.text) == {"hello": "Ada", "ssn": "[REDACTED]"}  # type: ignore[union-attr]
        plain = await client.get_prompt("a.prompts.plain_picture", {})
        assert isinstance(plain.messages[0].content, ImageContent)
        with pytest.raises(MCPError) as exc:
            await client.get_prompt("a.prompts.picture", {})
        refused(exc, "output_validation", "output_sanitization")
        with pytest.raises(MCPError) as exc:
            await client.get_prompt("b.prompts.greet", {"who": "Ada"})  # not granted
        refused(exc, "unknown_tool")


async def test_no_roles_lists_nothing_and_refuses_everything(write_policy: Any) -> None:
    async with proxied(write_policy, {"a": upstream("a"), "b": upstream("b")}, roles=("nobody",)) as client:
        assert (await client.list_prompts()).prompts == []
        assert (await client.list_resources()).resources == []
        assert (await client.list_resource_templates()).resource_templates == []
        with pytest.raises(MCPError) as exc:
            await client.read_resource("a://card")
        refused(exc, "rbac")
        with pytest.raises(MCPError) as exc:
            await client.get_prompt("a.prompts.greet", {"who": "x"})
        refused(exc, "rbac")


async def test_an_upstream_without_the_capabilities_lists_nothing(write_policy: Any) -> None:
    async with proxied(write_policy, {"bare": bare()}) as client:
        caps = client.server_capabilities
        assert caps.prompts is not None and caps.resources is not None
        assert (await client.list_prompts()).prompts == []
        assert (await client.list_resources()).resources == []
        with pytest.raises(MCPError) as exc:
            await client.read_resource("bare://x")
        refused(exc, "unknown_tool")


async def test_a_listing_the_server_cannot_answer_is_empty(write_policy: Any) -> None:
    """A server with resources but no templates/list handler keeps its resources (and starts)."""

    async def list_resources(ctx: Any, params: Any) -> ListResourcesResult:
        return ListResourcesResult(resources=[Resource(name="card", uri="a://card")])

    async def read_resource(ctx: Any, params: Any) -> ReadResourceResult:
        body = json.dumps({"ssn": "123-45-6789"})
        return ReadResourceResult(contents=[TextResourceContents(uri=str(params.uri), text=body)])

    partial = Server("a", on_list_resources=list_resources, on_read_resource=read_resource)
    async with proxied(write_policy, {"a": partial}) as client:
        assert [str(r.uri) for r in (await client.list_resources()).resources] == ["a://card"]
        assert (await client.list_resource_templates()).resource_templates == []
        assert "[REDACTED]" in contents_text(await client.read_resource("a://card"))


@pytest.mark.parametrize(
    ("template", "uri", "matches"),
    [
        ("crm://customers/{id}", "crm://customers/C001", True),
        ("crm://customers/{id}", "crm://customers/C001/notes", False),  # a simple value holds no '/'
        ("file:///{+path}", "file:///srv/a/b.txt", True),
        ("x://search{?q,page}", "x://search?q=a&page=2", True),
        ("x://search{?q,page}", "x://search", True),
        ("x://a.b/{id}", "x://aXb/1", False),  # literal parts are literal
        ("x://{id", "x://1", None),  # an unclosed expression: the template is ignored
    ],
)
def test_template_matching(template: str, uri: str, matches: bool | None) -> None:
    from d2tools.mcp._routes import template_pattern

    pattern = template_pattern(template)
    if matches is None:
        assert pattern is None
    else:
        assert bool(pattern.fullmatch(uri)) is matches


def test_template_matching_is_linear_in_the_uri() -> None:
    """The URI is the client's text: a backtracking engine would take minutes on this one."""
    import time

    from d2tools.mcp._routes import template_pattern

    pattern = template_pattern("x://{+a}{+b}{+c}{+d}{+e}q")
    started = time.process_time()
    assert not pattern.fullmatch("x://" + "a" * 50_000)
    assert time.process_time() - started < 1.0


async def test_a_bad_session_reference_refuses_a_read_and_a_prompt(write_policy: Any) -> None:
    """``_meta["d2/session"]`` is honoured on every kind: a forged reference never falls back."""
    async with proxied(write_policy, {"a": upstream("a"), "b": upstream("b")}) as client:
        with pytest.raises(MCPError) as exc:
            await client.read_resource("a://card", meta={"d2/session": "v1.forged"})
        refused(exc, "session_invalid")
        with pytest.raises(MCPError) as exc:
            await client.get_prompt("a.prompts.greet", {"who": "x"}, meta={"d2/session": "v1.forged"})
        refused(exc, "session_invalid")
        assert "[REDACTED]" in contents_text(await client.read_resource("a://card"))
