"""The proxy's pieces, driven in-process (fast): content mapping, refusal text, config, state, tokens.

An upstream can be an in-process ``mcp`` server object (``UpstreamSpec(server=...)``), and the
proxy's own server can be reached in-process by the ``mcp`` client, so these tests run the real
handlers without spawning processes.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import jwt
import pytest
from mcp import Client
from mcp.server.lowlevel.server import Server
from mcp_types import (
    CallToolRequestParams,
    CallToolResult,
    ImageContent,
    InputRequiredResult,
    ListToolsResult,
    TextContent,
    Tool,
)

import d2
from d2 import ConfigurationError
from d2tools.integrations import refusal_for
from d2tools.integrations._refusal import short_location
from d2tools.mcp import IdentitySpec, Proxy, ProxyConfig, UpstreamSpec, _session, build_server, load_config
from d2tools.mcp._auth import JwtVerifier, user_from_claims
from d2tools.mcp._config import AuthSpec
from d2tools.mcp._content import OpaqueBlock, from_value, to_value, wire_from_value, wire_value

from .conftest import AUDIENCE, ISSUER, Issuer, refusal, text

POLICY = """
policies:
  - role: reader
    permissions:
      - tool: up.mixed
        conditions:
          output:
            secret: {action: redact}
      - up.picture
      - tool: up.picture_checked
        conditions:
          output:
            max_bytes: 100000
      - tool: up.lines
        conditions:
          output:
            token: {action: filter}
      - tool: up.strict
        conditions:
          output:
            ssn: {action: filter}
      - up.asks
      - up.plain
      - tool: up.split
        conditions:
          output:
            ssn: {action: filter}
      - tool: up.split_picture
        conditions:
          output:
            ssn: {action: filter}
      - up.split_unruled
"""
STRICT = {"type": "object", "properties": {"ssn": {"type": "string"}}, "required": ["ssn"]}


def upstream_server() -> Server[Any]:
    """A plain SDK server returning the content shapes the mapping must handle."""
    tools = [
        Tool(name=n, input_schema={"type": "object"})
        for n in (
            "mixed",
            "picture",
            "picture_checked",
            "lines",
            "asks",
            "plain",
            "split",
            "split_picture",
            "split_unruled",
        )
    ]
    tools.append(Tool(name="strict", input_schema={"type": "object"}, output_schema=STRICT))

    async def list_tools(ctx: Any, params: Any) -> ListToolsResult:
        return ListToolsResult(tools=tools)

    async def call_tool(ctx: Any, params: Any) -> CallToolResult | InputRequiredResult:
        if params.name == "asks":  # a 2026-07-28 multi-round result, no tool result the rules could read
            return InputRequiredResult(request_state="opaque-state")
        if params.name.startswith("split"):  # a text block that says more than the structured content
            blocks: list[Any] = [TextContent(type="text", text='{"a": 1, "ssn": "123-45-6789"}')]
            if params.name == "split_picture":
                blocks.append(ImageContent(type="image", data="aGk=", mime_type="image/png"))
            return CallToolResult(content=blocks, structured_content={"a": 1})
        if params.name == "plain":
            return CallToolResult(
                content=[TextContent(type="text", text="hello")], _meta={"x.example/trace": "t1"}
            )
        if params.name == "mixed":
            return CallToolResult(
                content=[TextContent(type="text", text=json.dumps({"a": 1, "secret": "s3"}))]
            )
        if params.name == "strict":
            data = {"ssn": "123-45-6789", "a": 1}
            return CallToolResult(
                content=[TextContent(type="text", text=json.dumps(data))], structured_content=data
            )
        if params.name == "lines":
            blocks = [json.dumps({"token": "t1", "n": 1}), json.dumps({"token": "t2", "n": 2}), "plain"]
            return CallToolResult(content=[TextContent(type="text", text=b) for b in blocks])
        image = ImageContent(type="image", data="aGk=", mime_type="image/png")
        return CallToolResult(content=[TextContent(type="text", text="a picture"), image])

    return Server("up", on_list_tools=list_tools, on_call_tool=call_tool)


@asynccontextmanager
async def proxied(write_policy: Any, roles: tuple[str, ...] = ("reader",)) -> AsyncIterator[Client]:
    d2.configure_rbac_sync(write_policy(POLICY))
    config = ProxyConfig(
        policy=None,
        upstreams=(UpstreamSpec("up", server=upstream_server()),),
        identity=IdentitySpec("u1", roles),
    )
    async with Client(build_server(Proxy(config)), cache=None) as client:
        yield client


async def test_json_text_is_sanitized_as_data_and_rewritten(write_policy: Any) -> None:
    async with proxied(write_policy) as client:
        result = await client.call_tool("up.mixed", {})
    assert json.loads(text(result)) == {"a": 1, "secret": "[REDACTED]"}


async def test_several_text_blocks_are_a_list_each_sanitized(write_policy: Any) -> None:
    async with proxied(write_policy) as client:
        result = await client.call_tool("up.lines", {})
    shown = [getattr(b, "text", None) for b in result.content]
    assert [json.loads(s) for s in shown[:2]] == [{"n": 1}, {"n": 2}]
    assert shown[2] == "plain"


async def test_non_text_content_passes_without_output_rules_and_is_refused_with_them(
    write_policy: Any,
) -> None:
    async with proxied(write_policy) as client:
        plain = await client.call_tool("up.picture", {})
        checked = await client.call_tool("up.picture_checked", {})
    assert not plain.is_error and isinstance(plain.content[1], ImageContent)
    assert refusal(checked)["reason"] in ("output_validation", "output_sanitization")
    assert all(not isinstance(b, ImageContent) for b in checked.content)


async def test_no_roles_lists_nothing_and_every_call_is_refused(write_policy: Any) -> None:
    async with proxied(write_policy, roles=()) as client:
        assert (await client.list_tools()).tools == []
        assert refusal(await client.call_tool("up.mixed", {}))["reason"] == "rbac"


def test_to_value_and_back_keep_an_unchanged_result_identical() -> None:
    result = CallToolResult(content=[TextContent(type="text", text='{"x": 1}')], structured_content={"x": 1})
    value = to_value(result)
    assert value == {"x": 1}
    assert from_value(result, {"x": 1}) is result
    changed = from_value(result, {"x": 2})
    assert changed.structured_content == {"x": 2} and json.loads(text(changed)) == {"x": 2}


def test_the_wire_form_maps_like_the_model_and_keeps_other_blocks_opaque() -> None:
    image = {"type": "image", "data": "aGk=", "mimeType": "image/png"}
    wire = {"content": [{"type": "text", "text": '{"x": 1}'}, image], "isError": False}
    value = wire_value(wire)
    # A non-text block is no data to the guard: an output rule cannot walk into it (it refuses).
    assert value[0] == {"x": 1} and isinstance(value[1], OpaqueBlock) and value[1].block is image
    assert wire_from_value(wire, value, value) is wire
    changed = wire_from_value(wire, value, [{"x": 2}, value[1]])
    assert changed["content"] == [{"type": "text", "text": '{"x": 2}'}, image]
    structured = {"content": [{"type": "text", "text": '{"x": 1}'}, image], "structuredContent": {"x": 1}}
    rebuilt = wire_from_value(structured, wire_value(structured), {"x": 2})
    assert rebuilt["structuredContent"] == {"x": 2} and rebuilt["content"][1] is image
    assert json.loads(rebuilt["content"][0]["text"]) == {"x": 2}  # the text copy follows the sanitized value
    # A sanitized value holding something that is neither data nor a block it came with is a fault.
    with pytest.raises(TypeError):
        wire_from_value(wire, value, [{"x": 1}, object()])


async def test_a_result_is_forwarded_in_wire_form_with_the_proxys_own_server_info(write_policy: Any) -> None:
    """The upstream's checked result is passed on as a mapping, never parsed into a model and dumped again."""
    import anyio

    d2.configure_rbac_sync(write_policy(POLICY))
    config = ProxyConfig(
        policy=None,
        upstreams=(UpstreamSpec("up", server=upstream_server()),),
        identity=IdentitySpec("u1", ("reader",)),
    )
    proxy = Proxy(config)
    async with anyio.create_task_group() as tg:
        await proxy.start(tg)
        ctx = type("Ctx", (), {"request": None, "protocol_version": "2026-07-28"})()
        result = await proxy.call_tool(ctx, CallToolRequestParams(name="up.plain", arguments={}))
        await proxy.aclose()
        tg.cancel_scope.cancel()
    assert isinstance(result, dict)
    assert result["content"] == [{"type": "text", "text": "hello"}]
    # The upstream's own serverInfo stamp is dropped (the proxy's server stamps its own); other keys stay.
    assert result["_meta"] == {"x.example/trace": "t1"}
    async with proxied(write_policy) as client:
        passed = await client.call_tool("up.plain", {})
    assert text(passed) == "hello" and (passed.meta or {})["io.modelcontextprotocol/serverInfo"]["name"] == (
        "d2-mcp-proxy"
    )


async def test_output_rules_cover_the_text_beside_structured_content(write_policy: Any) -> None:
    """Rules read the structured content; the server's own text beside it never passes unread."""
    async with proxied(write_policy) as client:
        split = await client.call_tool("up.split", {})
        picture = await client.call_tool("up.split_picture", {})
        unruled = await client.call_tool("up.split_unruled", {})
    assert not split.is_error and split.structured_content == {"a": 1}
    assert "123-45-6789" not in text(split) and json.loads(text(split)) == {"a": 1}
    assert refusal(picture)["reason"] == "output_validation"
    assert "123-45-6789" not in text(picture)
    # Without output rules nothing is rewritten: the result passes exactly as the server sent it.
    assert "123-45-6789" in text(unruled) and isinstance(unruled.content[0], TextContent)


async def test_a_result_withheld_after_the_guard_is_a_refusal_decision_event(write_policy: Any) -> None:
    """The proxy's own check after the call (a picture beside structured content under output rules)
    is recorded like the guard's output refusals: the allow, then the refusal, in one request."""
    events: list[d2.DecisionEvent] = []
    remove = d2.add_decision_sink(events.append)
    try:
        async with proxied(write_policy) as client:
            picture = await client.call_tool("up.split_picture", {})
        assert d2.flush_events()
    finally:
        remove()
    assert refusal(picture)["reason"] == "output_validation"
    mine = [(e.allowed, e.reason) for e in events if e.tool_id == "up.split_picture"]
    assert mine == [(True, None), (False, "output_validation")]
    ids = {e.request_id for e in events if e.tool_id == "up.split_picture"}
    assert len(ids) == 1 and None not in ids


async def test_a_result_that_is_not_a_complete_tool_result_is_refused(write_policy: Any) -> None:
    async with proxied(write_policy) as client:
        result = await client.call_tool("up.asks", {})
    assert refusal(result)["reason"] == "internal_error"


@pytest.mark.parametrize(
    ("location", "short"),
    [
        ("/srv/secret/dir/policy.yaml:41:5", "policy.yaml:41"),
        ("C:\\pol\\p.yaml:3:1", "p.yaml:3"),
        ("/srv/secret/policy.yaml", "policy.yaml"),
        (None, None),
    ],
)
def test_short_location_drops_directories(location: str | None, short: str | None) -> None:
    assert short_location(location) == short


def test_refusal_text_is_fixed_per_reason_and_hides_detail() -> None:
    exc = d2.PermissionDeniedError(
        reason="input_validation",
        tool_id="crm.send_email",
        user_id="alice@corp",
        roles=["support"],
        location="/home/ops/policies/policy.yaml:30:13",
        detail="'to' value 'attacker@evil.example' must match ...",
    )
    ref = refusal_for(exc)
    assert ref.text == (
        "Refused by policy (reason: input_validation; rule: policy.yaml:30). These arguments are not "
        "permitted by the policy. Do not retry it; continue without this call or ask the user."
    )
    assert "alice" not in ref.text and "attacker" not in ref.text and "/home" not in ref.text


def test_config_errors_say_where_and_how(tmp_path: Path) -> None:
    bad = tmp_path / "p.yaml"
    bad.write_text("upstreams:\n  - name: a\n    command: [x]\n    url: http://h/mcp\n")
    with pytest.raises(ConfigurationError, match="exactly one of 'command' or 'url'"):
        load_config(bad)
    bad.write_text("upstream: []\n")
    with pytest.raises(ConfigurationError, match=r"unknown key.*upstream"):
        load_config(bad)
    with pytest.raises(ConfigurationError, match="unique"):
        ProxyConfig(
            policy=None, upstreams=(UpstreamSpec("a", command=("x",)), UpstreamSpec("a", command=("y",)))
        )
    with pytest.raises(ConfigurationError, match="must contain"):
        ProxyConfig(policy=None, upstreams=(UpstreamSpec("a", command=("x",)),), identity=IdentitySpec("u"),
                    tool_id="{server}")  # fmt: skip
    with pytest.raises(ConfigurationError, match="name the caller"):
        ProxyConfig(
            policy=None, upstreams=(UpstreamSpec("a", command=("x",)),), identity=IdentitySpec(None, ("r",))
        )
    with pytest.raises(ConfigurationError, match="no upstream"):
        ProxyConfig(policy=None, upstreams=())


def test_config_paths_are_relative_to_the_file(tmp_path: Path) -> None:
    (tmp_path / "cfg").mkdir()
    file = tmp_path / "cfg" / "proxy.yaml"
    file.write_text("policy: p.yaml\nupstreams:\n  - {name: a, command: python s.py}\n")
    values = load_config(file)
    assert values["policy"] == str(tmp_path / "cfg" / "p.yaml")
    (upstream,) = values["upstreams"]
    assert upstream.command == ("python", "s.py") and upstream.cwd == str(tmp_path / "cfg")


def test_request_state_is_per_key_on_the_session_backend() -> None:
    from d2._sources.session_state import reset_session_state

    reset_session_state()
    try:
        user = d2.UserContext("u", frozenset({"r"}))
        first = _session.request_state("k1", user)
        assert _session.request_state("k1", user).log is first.log
        assert _session.request_state("k2", user).log is not first.log
        renewed = _session.request_state("k1", d2.UserContext("u", frozenset({"r", "s"})))
        assert renewed.log is first.log and renewed.user.roles == {"r", "s"}
        # Another user never meets this history: the backend hands it a log that refuses every call.
        other = _session.request_state("k1", d2.UserContext("mallory", frozenset({"r"})))
        assert other.log is not first.log and other.log.shared is not None
        # Long keys (issuer, subject, HTTP session id) become bounded digests, stable per key.
        long_key = "mcp:default:s:" + "x" * 300
        assert _session.session_id_for(long_key) == _session.session_id_for(long_key)
        assert len(_session.session_id_for(long_key)) <= 200
        assert _session.request_state(long_key, user).log is _session.request_state(long_key, user).log
    finally:
        reset_session_state()


def test_claims_map_to_a_user() -> None:
    spec = AuthSpec(jwks="x", issuer=ISSUER, audience=AUDIENCE, roles_claim="realm.roles",
                    attributes={"tenant": "org.tenant"})  # fmt: skip
    user = user_from_claims(
        {"sub": "a", "realm": {"roles": "support admin"}, "org": {"tenant": "acme"}}, spec
    )
    assert (
        user.user_id == "a"
        and user.roles == {"support", "admin"}
        and dict(user.attributes) == {"tenant": "acme"}
    )
    assert user_from_claims({"sub": "a"}, spec).roles == frozenset()


async def test_verifier_accepts_only_good_tokens(issuer: Issuer) -> None:
    verifier = JwtVerifier(AuthSpec(jwks=str(issuer.jwks), issuer=ISSUER, audience=AUDIENCE))
    good = await verifier.verify_token(issuer.token(sub="alice", scope="a b"))
    assert good is not None and good.subject == "alice" and good.scopes == ["a", "b"]
    assert await verifier.verify_token(issuer.token(exp=int(time.time()) - 10)) is None
    assert await verifier.verify_token(issuer.token(aud="other")) is None
    unsigned = jwt.encode(
        {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "exp": 2**31}, key=None, algorithm="none"
    )
    assert await verifier.verify_token(unsigned) is None
    no_sub = issuer.token()
    claims = jwt.decode(no_sub, options={"verify_signature": False})
    claims.pop("sub")
    assert (
        await verifier.verify_token(jwt.encode(claims, issuer.key, algorithm="RS256", headers={"kid": "k1"}))
        is None
    )


async def test_a_policy_edit_applies_from_the_next_call(write_policy: Any) -> None:
    import anyio

    path = write_policy(POLICY)
    d2.configure_rbac_sync(path, hot_reload=True)
    config = ProxyConfig(
        policy=None,
        upstreams=(UpstreamSpec("up", server=upstream_server()),),
        identity=IdentitySpec("u1", ("reader",)),
    )
    async with Client(build_server(Proxy(config)), cache=None) as client:
        assert not (await client.call_tool("up.picture", {})).is_error
        path.write_text(POLICY.replace("      - up.picture\n", ""), encoding="utf-8")
        with anyio.fail_after(10):
            while "up.picture" in {t.name for t in (await client.list_tools()).tools}:
                await anyio.sleep(0.1)
        assert refusal(await client.call_tool("up.picture", {}))["reason"] == "unknown_tool"


async def test_a_rewritten_tool_is_listed_without_the_schema_its_results_no_longer_fit(
    write_policy: Any,
) -> None:
    async with proxied(write_policy) as client:
        listed = {t.name: t for t in (await client.list_tools()).tools}
        result = await client.call_tool("up.strict", {})
    assert listed["up.strict"].output_schema is None
    assert not result.is_error and result.structured_content == {"a": 1}


def test_session_state_in_the_config_file_is_checked(tmp_path: Path) -> None:
    file = tmp_path / "proxy.yaml"
    file.write_text(
        "upstreams:\n  - {name: a, command: x}\nsession_state: {ttl: 60, max_local_sessions: 5}\n"
    )
    assert load_config(file)["session_state"] == {"ttl": 60, "max_local_sessions": 5}
    file.write_text("upstreams:\n  - {name: a, command: x}\nsession_state: {signing_key: s3cret}\n")
    with pytest.raises(ConfigurationError, match=r"unknown key.*session_state: signing_key"):
        load_config(file)
