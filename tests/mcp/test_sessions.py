"""Sessions across proxy replicas and services: history on Redis, and ``_meta["d2/session"]`` joins.

Two proxy processes share the machine's Redis (127.0.0.1:6379) as their session-state backend. A
sequence rule (``crm.read_notes`` then ``crm.export_customers`` is refused) must hold when its two
halves land on different replicas — with one bearer token (the stateless era's request), or with a
signed session reference another service handed the client. Forged, expired and other-user
references are refused, never turned into a fresh session.
"""

from __future__ import annotations

import socket
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from mcp import Client

import d2
from d2._runtime.session_ref import sign_reference
from d2._sources.session_state import configure_session_state, reset_session_state, session_log
from d2tools.mcp._session import call_state, request_state

from .conftest import (
    AUDIENCE,
    CRM,
    ISSUER,
    POLICY,
    Issuer,
    decide,
    free_port,
    http_client,
    proxy_params,
    refusal,
    spawn,
    stop,
)

SECRET = "mcp-session-tests-" + "k" * 32
REDIS = "redis://127.0.0.1:6379/0"
SEQUENCE_RULE = "policy.yaml:37"
NOTES = ("crm.read_notes", {"customer_id": "C001"})
EXPORT = ("crm.export_customers", {})


def _redis_up() -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", 6379)) == 0


@pytest.fixture(scope="module")
def redis_url() -> str:
    """The machine's Redis (``.ci/run`` starts one); its absence is a failure, not a skip."""
    if not _redis_up():
        pytest.fail("no Redis on 127.0.0.1:6379: start redis-server (bash .ci/run does)")
    return REDIS


def reference(session_id: str, user: str, ttl: float = 120.0, now: float | None = None) -> str:
    """What another service's ``d2.session_reference()`` hands on: signed with the shared secret."""
    return sign_reference(SECRET.encode(), session_id, user, ttl, now=now)


def joined(ref: str) -> dict[str, Any]:
    return {"d2/session": ref}


async def call(client: Client, tool: tuple[str, dict[str, Any]], meta: dict[str, Any] | None = None) -> Any:
    return await client.call_tool(tool[0], tool[1], meta=meta)  # type: ignore[arg-type]


def allowed(result: Any) -> None:
    assert not result.is_error, result.content


def refused(result: Any, reason: str) -> None:
    assert refusal(result)["reason"] == reason


@pytest.fixture(scope="module")
def replicas(redis_url: str, issuer: Issuer) -> Iterator[tuple[str, str]]:
    """Two proxy processes on streamable HTTP with bearer auth, one Redis, one session-signing secret."""
    env = {"D2_STATE_URL": redis_url, "D2_SESSION_KEY": SECRET}
    procs = []
    urls = []
    try:
        for _ in range(2):
            port = free_port()
            args = [
                sys.executable, "-m", "d2tools.mcp", "--policy", str(POLICY), "--name", "crm",
                "--listen", f"127.0.0.1:{port}", "--jwks", str(issuer.jwks), "--issuer", ISSUER,
                "--audience", AUDIENCE, "--", *CRM,
            ]  # fmt: skip
            procs.append(spawn(args, port, env=env))
            urls.append(f"http://127.0.0.1:{port}/mcp")
        yield urls[0], urls[1]
    finally:
        for proc in procs:
            stop(proc)


def token(issuer: Issuer, sub: str = "agent-7") -> str:
    return issuer.token(sub=sub, jti=uuid.uuid4().hex)


async def test_one_tokens_calls_on_two_replicas_share_one_history(
    replicas: tuple[str, str], issuer: Issuer
) -> None:
    first, second = replicas
    shared = token(issuer)
    async with http_client(first, shared) as a:
        assert a.protocol_version == "2026-07-28"
        allowed(await call(a, NOTES))
    async with http_client(second, shared) as b:
        result = await call(b, EXPORT)
        refused(result, "sequence_violation")
        assert refusal(result)["rule"] == SEQUENCE_RULE
    async with http_client(second, token(issuer)) as fresh:  # another request: its own history
        allowed(await call(fresh, EXPORT))


async def test_a_session_reference_joins_a_session_across_replicas(
    replicas: tuple[str, str], issuer: Issuer
) -> None:
    first, second = replicas
    session = f"svc-{uuid.uuid4().hex}"
    ref = reference(session, "agent-7")
    async with http_client(first, token(issuer)) as a:
        allowed(await call(a, NOTES, joined(ref)))
    async with http_client(second, token(issuer)) as b:  # another token of the same user
        refused(await call(b, EXPORT, joined(ref)), "sequence_violation")
        # Joined is joined: a later call without the reference still counts in that session.
        refused(await call(b, EXPORT), "sequence_violation")
    async with http_client(second, token(issuer)) as control:
        allowed(await call(control, EXPORT, joined(reference(f"svc-{uuid.uuid4().hex}", "agent-7"))))


async def test_a_join_on_one_replica_holds_on_another_without_the_reference(
    replicas: tuple[str, str], issuer: Issuer
) -> None:
    """The attack: join with the first call on one replica, send the next without the reference to
    another, hoping it lands on the request's own (empty) history. The join is sealed on Redis, so
    the second replica counts the call in the joined session."""
    first, second = replicas
    shared = token(issuer)
    async with http_client(first, shared) as a:
        allowed(await call(a, NOTES, joined(reference(f"svc-{uuid.uuid4().hex}", "agent-7"))))
    async with http_client(second, shared) as b:
        result = await call(b, EXPORT)
        refused(result, "sequence_violation")
        assert refusal(result)["rule"] == SEQUENCE_RULE
        # And a reference to a different session is refused there too: the join is everywhere.
        other = reference(f"svc-{uuid.uuid4().hex}", "agent-7")
        refused(await call(b, NOTES, joined(other)), "session_invalid")


def _tampered(ref: str) -> str:
    head, body, mac = ref.split(".")
    return f"{head}.{body}.{mac[:-2]}{'AA' if not mac.endswith('AA') else 'BB'}"


@pytest.mark.parametrize("case", ["tampered", "expired", "other_user", "other_key", "not_a_string"])
async def test_a_bad_reference_is_refused_never_a_fresh_session(
    replicas: tuple[str, str], issuer: Issuer, case: str
) -> None:
    session = f"svc-{uuid.uuid4().hex}"
    bad: object = {
        "tampered": _tampered(reference(session, "agent-7")),
        "expired": reference(session, "agent-7", ttl=10, now=time.time() - 100),
        "other_user": reference(session, "mallory"),
        "other_key": sign_reference(b"x" * 48, session, "agent-7", 60),
        "not_a_string": {"session": session},
    }[case]
    async with http_client(replicas[1], token(issuer)) as client:
        for tool in (NOTES, EXPORT):
            result = await call(client, tool, {"d2/session": bad})
            refused(result, "session_invalid")
            assert session not in str(result.content) and "mallory" not in str(result.content)


async def test_a_reference_must_come_with_the_first_call(replicas: tuple[str, str], issuer: Issuer) -> None:
    ref = reference(f"svc-{uuid.uuid4().hex}", "agent-7")
    async with http_client(replicas[0], token(issuer)) as client:
        allowed(await call(client, NOTES))
        # Switching to a clean session now would leave read_notes behind: refused.
        refused(await call(client, EXPORT, joined(ref)), "session_invalid")
        refused(await call(client, EXPORT), "sequence_violation")
    # The same on another replica, which has not seen this token's first call: it asks Redis first.
    shared = token(issuer)
    async with http_client(replicas[0], shared) as first:
        allowed(await call(first, NOTES))
    async with http_client(replicas[1], shared) as second:
        refused(await call(second, EXPORT, joined(ref)), "session_invalid")
        refused(await call(second, EXPORT), "sequence_violation")


async def test_two_stdio_proxies_enforce_a_sequence_split_across_them(redis_url: str) -> None:
    env = {"D2_STATE_URL": redis_url, "D2_SESSION_KEY": SECRET}
    args = ["--policy", str(POLICY), "--name", "crm", "--user", "agent-7", "--role", "support", "--", *CRM]
    ref = reference(f"svc-{uuid.uuid4().hex}", "agent-7")
    async with Client(proxy_params(*args, env=env), cache=None) as a:
        allowed(await call(a, NOTES, joined(ref)))
        async with Client(proxy_params(*args, env=env), cache=None) as b:
            result = await call(b, EXPORT, joined(ref))
            refused(result, "sequence_violation")
            assert refusal(result)["rule"] == SEQUENCE_RULE
            other = reference(f"svc-{uuid.uuid4().hex}", "agent-7")
            refused(await call(b, NOTES, joined(other)), "session_invalid")  # already joined another


# -- the table itself, in-process (no Redis): the same rules, fast -----------------------------------


@pytest.fixture
def local_sessions(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("D2_STATE_URL", "D2_SESSION_KEY", "D2_SESSION_JWKS"):
        monkeypatch.delenv(name, raising=False)
    reset_session_state()
    configure_session_state(signing_key=SECRET)
    d2.configure_rbac_sync(POLICY, instance_name="mcp-sessions")
    yield
    reset_session_state()


def _decide(state: d2.RequestState | Any, tool: str) -> str:
    return decide(state, tool, "mcp-sessions")


@pytest.mark.usefixtures("local_sessions")
def test_joins_stick_and_refuse_in_process() -> None:
    user = d2.UserContext("agent-7", frozenset({"support"}))
    started = session_log("svc-local", user)  # the session another service (here: this process) began
    ref = reference("svc-local", "agent-7")
    state = call_state("k1", user, ref)
    assert state.log is started
    assert _decide(state, "crm.read_notes") == "allowed"
    assert call_state("k1", user).log is started  # sticky without the reference
    assert _decide(call_state("k1", user), "crm.export_customers") == "sequence_violation"
    # The request's own session is sealed: nothing is ever recorded beside the joined one.
    assert _decide(request_state("k1", user), "crm.read_notes") == "session_invalid"
    # The join outlives the reference; a renewed reference to the same session is accepted.
    assert call_state("k1", user, reference("svc-local", "agent-7", ttl=300)).log is started
    # A session this process does not hold cannot be joined in-process (Redis is needed for that).
    assert _decide(call_state("k2", user, reference("svc-elsewhere", "agent-7")), "crm.read_notes") == (
        "session_invalid"
    )
    # Another user's call with this reference is refused.
    mallory = d2.UserContext("mallory", frozenset({"support"}))
    assert _decide(call_state("k3", mallory, ref), "crm.read_notes") == "session_invalid"
    # A request with calls of its own cannot switch sessions; it keeps its own history.
    assert _decide(call_state("k4", user), "crm.read_notes") == "allowed"
    assert _decide(call_state("k4", user, ref), "crm.post_webhook") == "session_invalid"
    assert _decide(call_state("k4", user), "crm.export_customers") == "sequence_violation"
    # A reference to another session, on a request that joined one, is refused.
    started_too = session_log("svc-local-2", user)
    assert started_too is not started
    assert _decide(call_state("k1", user, reference("svc-local-2", "agent-7")), "crm.read_notes") == (
        "session_invalid"
    )


def test_a_join_that_cannot_be_sealed_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """Redis down: neither the join nor a call whose session is unknown goes through (fail closed)."""
    for name in ("D2_STATE_URL", "D2_SESSION_KEY", "D2_SESSION_JWKS", "D2_STATE_DEGRADED"):
        monkeypatch.delenv(name, raising=False)
    reset_session_state()
    try:
        configure_session_state(f"redis://127.0.0.1:{free_port()}/0", signing_key=SECRET, timeout=0.2)
        d2.configure_rbac_sync(POLICY, instance_name="mcp-sessions")
        user = d2.UserContext("agent-7", frozenset({"support"}))
        joining = call_state("k-down", user, reference("svc-remote", "agent-7"))
        assert _decide(joining, "crm.read_notes") == "state_unavailable"
        assert _decide(call_state("k-down", user), "crm.read_notes") == "state_unavailable"
    finally:
        reset_session_state()


@pytest.mark.usefixtures("local_sessions")
def test_a_reference_to_the_requests_own_session_is_no_join() -> None:
    user = d2.UserContext("agent-7", frozenset({"support"}))
    own = request_state("k-self", user)
    assert _decide(own, "crm.read_notes") == "allowed"
    state = call_state("k-self", user, reference("k-self", "agent-7"))
    assert state.log is own.log  # not sealed into itself (which would refuse every call)
    assert _decide(state, "crm.export_customers") == "sequence_violation"
