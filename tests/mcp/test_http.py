"""The proxy over streamable HTTP with OAuth bearer tokens: identity, 401s, sessions and both eras.

One proxy process serves the whole module; every test opens its own sessions (or, in the stateless
era, uses its own tokens), which is exactly what isolation between callers has to hold up to.
"""

from __future__ import annotations

import uuid

import httpx
import pytest
from mcp import MCPError

from .conftest import HEADERS, INIT, Issuer, http_client, refusal, text


def bad_tokens(issuer: Issuer) -> dict[str, str | None]:
    other = Issuer.__new__(Issuer)
    from cryptography.hazmat.primitives.asymmetric import rsa

    other.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return {
        "missing": None,
        "garbage": "not-a-jwt",
        "forged": other.token(),
        "wrong_audience": issuer.token(aud="someone-else"),
        "wrong_issuer": issuer.token(iss="https://evil.test"),
        "expired": issuer.token(exp=1_000_000),
    }


@pytest.mark.parametrize(
    "case", ["missing", "garbage", "forged", "wrong_audience", "wrong_issuer", "expired"]
)
def test_a_missing_or_bad_token_is_401(proxy_http: str, issuer: Issuer, case: str) -> None:
    token = bad_tokens(issuer)[case]
    headers = HEADERS | ({"Authorization": f"Bearer {token}"} if token else {})
    response = httpx.post(proxy_http, json=INIT, headers=headers, timeout=30)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_a_good_token_opens_a_session_filtered_by_its_roles(proxy_http: str, issuer: Issuer) -> None:
    async with http_client(proxy_http, issuer.token(roles=["auditor"]), mode="legacy") as client:
        names = [t.name for t in (await client.list_tools()).tools]
        assert names == ["crm.lookup_customer"]
        assert refusal(await client.call_tool("crm.read_notes", {"customer_id": "C001"}))["reason"] == "rbac"
        ok = await client.call_tool("crm.lookup_customer", {"customer_id": "C001"})
        assert not ok.is_error and ok.structured_content is not None
        withheld = await client.call_tool("crm.lookup_customer", {"customer_id": "C002"})
        assert refusal(withheld)["reason"] == "output_validation"
        assert "Bo Chen" not in text(withheld)


async def test_roles_come_from_the_token_not_from_the_client(proxy_http: str, issuer: Issuer) -> None:
    async with http_client(proxy_http, issuer.token(roles=[]), mode="legacy") as client:
        assert (await client.list_tools()).tools == []
        assert refusal(await client.call_tool("crm.read_notes", {"customer_id": "C001"}))["reason"] == "rbac"


async def test_handshake_era_sequence_holds_across_requests_of_one_session(
    proxy_http: str, issuer: Issuer
) -> None:
    async with http_client(proxy_http, issuer.token(), mode="legacy") as client:
        assert client.protocol_version == "2025-11-25"
        assert not (await client.call_tool("crm.read_notes", {"customer_id": "C001"})).is_error
        export = await client.call_tool("crm.export_customers", {})
    assert refusal(export)["reason"] == "sequence_violation"


async def test_handshake_era_sessions_are_isolated(proxy_http: str, issuer: Issuer) -> None:
    token = issuer.token()
    async with http_client(proxy_http, token, mode="legacy") as first:
        async with http_client(proxy_http, token, mode="legacy") as second:
            assert not (await first.call_tool("crm.read_notes", {"customer_id": "C001"})).is_error
            assert not (await second.call_tool("crm.export_customers", {})).is_error
            assert (
                refusal(await first.call_tool("crm.export_customers", {}))["reason"] == "sequence_violation"
            )


def test_a_session_cannot_be_used_with_another_users_token(proxy_http: str, issuer: Issuer) -> None:
    alice = HEADERS | {"Authorization": f"Bearer {issuer.token(sub='alice')}"}
    opened = httpx.post(proxy_http, json=INIT, headers=alice, timeout=30)
    assert opened.status_code == 200
    session = opened.headers["mcp-session-id"]
    listing = {"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}}
    own = httpx.post(proxy_http, json=listing, headers=alice | {"Mcp-Session-Id": session}, timeout=30)
    assert own.status_code == 200
    mallory = HEADERS | {"Authorization": f"Bearer {issuer.token(sub='mallory')}", "Mcp-Session-Id": session}
    assert httpx.post(proxy_http, json=listing, headers=mallory, timeout=30).status_code == 404


async def test_stateless_era_attacker_splitting_a_sequence_over_two_requests_is_refused(
    proxy_http: str, issuer: Issuer
) -> None:
    """Two separate HTTP requests (two client connections even), one token: one history."""
    token = issuer.token(jti=uuid.uuid4().hex)
    async with http_client(proxy_http, token) as first:
        assert first.protocol_version == "2026-07-28"
        assert not (await first.call_tool("crm.read_notes", {"customer_id": "C001"})).is_error
    async with http_client(proxy_http, token) as second:
        export = await second.call_tool("crm.export_customers", {}, meta={"io.d2/request": uuid.uuid4().hex})
    assert refusal(export)["reason"] == "sequence_violation"


async def test_stateless_era_different_tokens_are_different_requests(proxy_http: str, issuer: Issuer) -> None:
    async with http_client(proxy_http, issuer.token(jti=uuid.uuid4().hex)) as first:
        assert not (await first.call_tool("crm.read_notes", {"customer_id": "C001"})).is_error
    async with http_client(proxy_http, issuer.token(jti=uuid.uuid4().hex)) as second:
        assert not (await second.call_tool("crm.export_customers", {})).is_error


async def test_upstream_protocol_errors_are_relayed_not_hidden(proxy_http: str, issuer: Issuer) -> None:
    async with http_client(proxy_http, issuer.token(jti=uuid.uuid4().hex)) as client:
        result = await client.call_tool("crm.lookup_customer", {"customer_id": "C999"})
    # The upstream's own tool error (no such customer) is not a refusal and is passed on as it came.
    assert result.is_error
    assert "io.d2/refusal" not in (result.meta or {})
    assert "lookup_customer" in text(result)


async def test_no_client_side_error_from_a_refusal(proxy_http: str, issuer: Issuer) -> None:
    async with http_client(proxy_http, issuer.token(jti=uuid.uuid4().hex)) as client:
        try:
            result = await client.call_tool("crm.delete_customer", {"customer_id": "C001"})
        except MCPError as exc:  # pragma: no cover - the failure this test exists for
            pytest.fail(f"a refusal must be a tool result, not a protocol error: {exc}")
    assert refusal(result)["reason"] == "explicit_deny"
