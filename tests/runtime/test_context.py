"""Request context: isolation between requests, sharing inside one, helpers, and clean-up."""

from __future__ import annotations

import asyncio
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import d2
from d2._runtime.context import current_state

POLICY = """
policies:
  - role: a
    permissions: [ctx.who]
  - role: b
    permissions: [ctx.who]
"""


@pytest.fixture
def policy(write_policy) -> Path:  # type: ignore[no-untyped-def]
    path: Path = write_policy(POLICY)
    d2.configure_rbac_sync(path)
    return path


@d2.d2_guard("ctx.who")
def who() -> tuple[str | None, tuple[str, ...]]:
    user = d2.get_user_context()
    assert user is not None
    state = current_state()
    assert state is not None
    return user.user_id, tuple(state.log.history)


def test_set_user_and_clear() -> None:
    assert d2.get_user_context().user_id is None
    d2.set_user("alice", ["a", "b"], attributes={"tenant": "t1", "payees": ["x"]})
    user = d2.get_user_context()
    assert user == d2.UserContext("alice", frozenset({"a", "b"}), {"tenant": "t1", "payees": ["x"]})
    assert user is not None and user.attributes["payees"] == ("x",)
    with pytest.raises(TypeError):
        user.attributes["tenant"] = "t2"  # type: ignore[index]
    d2.clear_user_context()
    assert d2.get_user_context().user_id is None


def test_single_role_string_is_one_role() -> None:
    d2.set_user("alice", "admin")
    assert d2.get_user_context() == d2.UserContext("alice", frozenset({"admin"}))


def test_user_context_rejects_string_roles() -> None:
    with pytest.raises(TypeError):
        d2.UserContext("bob", roles="viewer")  # type: ignore[arg-type]


def test_context_managers_restore_the_previous_context() -> None:
    d2.set_user("outer", ["a"])
    with d2.set_user_context("inner", ["b"]) as user:
        assert user.user_id == "inner"
        with d2.run_as(d2.UserContext("actor", frozenset({"a"}))):
            assert d2.get_user_context() == d2.UserContext("actor", frozenset({"a"}))
        assert d2.get_user_context() == d2.UserContext("inner", frozenset({"b"}))
    assert d2.get_user_context() == d2.UserContext("outer", frozenset({"a"}))


def test_context_manager_restores_on_exception() -> None:
    with pytest.raises(ValueError), d2.set_user_context("x", ["a"]):
        raise ValueError
    assert d2.get_user_context().user_id is None


def test_async_with_scope() -> None:
    async def main() -> str | None:
        async with d2.set_user_context("x", ["a"]) as user:
            assert user.user_id == "x"
        return d2.get_user_context().user_id

    assert asyncio.run(main()) is None


def test_run_as_rejects_roles_beside_a_user_context() -> None:
    with pytest.raises(TypeError):
        d2.run_as(d2.UserContext("x"), ["a"])


def test_new_request_starts_with_empty_history(policy: Path) -> None:
    with d2.set_user_context("u1", ["a"]):
        who()
        assert who()[1] == ("ctx.who", "ctx.who")
    with d2.set_user_context("u1", ["a"]):
        assert who()[1] == ("ctx.who",)


def test_warn_if_context_set() -> None:
    assert d2.warn_if_context_set() is False
    d2.set_user("leaky", ["a"])
    with pytest.warns(ResourceWarning, match="leaky"):
        assert d2.warn_if_context_set() is True
    d2.clear_user_context()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert d2.warn_if_context_set() is False


def test_concurrent_asyncio_requests_never_see_each_other(policy: Path) -> None:
    async def request(i: int) -> None:
        with d2.set_user_context(f"user-{i}", ["a" if i % 2 else "b"]):
            for step in range(5):
                user, history = who()
                assert user == f"user-{i}"
                assert len(history) == step + 1
                await asyncio.sleep(0)

    async def main() -> None:
        await asyncio.gather(*(request(i) for i in range(300)))

    asyncio.run(main())


def test_concurrent_threads_never_see_each_other(policy: Path) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def request(i: int) -> None:
        try:
            with d2.set_user_context(f"t-{i}", ["a"]):
                barrier.wait()
                for step in range(200):
                    user, history = who()
                    assert user == f"t-{i}" and len(history) == step + 1
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=request, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_child_tasks_share_the_request_history(policy: Path) -> None:
    async def main() -> tuple[str, ...]:
        with d2.set_user_context("parent", ["a"]):
            who()
            await asyncio.gather(asyncio.to_thread(who), asyncio.create_task(_async_who()))
            return who()[1]

    async def _async_who() -> None:
        who()

    assert asyncio.run(main()) == ("ctx.who",) * 4


def test_submit_with_context_runs_as_the_submitter_in_the_same_request(policy: Path) -> None:
    with ThreadPoolExecutor(2) as pool, d2.set_user_context("alice", ["a"]):
        who()
        user, history = d2.threads.submit_with_context(pool, who).result()
        assert user == "alice" and history == ("ctx.who", "ctx.who")
        assert len(who()[1]) == 3


def test_submit_with_explicit_actor_changes_who_not_the_request(policy: Path) -> None:
    actor = d2.UserContext(user_id="bob", roles=frozenset(["b"]))
    with ThreadPoolExecutor(1) as pool, d2.set_user_context("alice", ["a"]):
        who()
        user, history = d2.threads.submit_with_context(pool, who, actor=actor).result()
        assert user == "bob" and len(history) == 2
        assert d2.get_user_context() == d2.UserContext("alice", frozenset({"a"}))


def test_submit_without_context_is_refused_at_submit_time(policy: Path) -> None:
    ran: list[str] = []
    with ThreadPoolExecutor(1) as pool, pytest.raises(d2.D2NoContextError, match="actor="):
        d2.threads.submit_with_context(pool, lambda: ran.append("ran"))
    assert ran == []


def test_thread_entrypoint_without_context_or_actor_is_refused(policy: Path) -> None:
    ran: list[str] = []

    @d2.threads.thread_entrypoint
    def job() -> None:
        ran.append("ran")

    with pytest.raises(d2.D2NoContextError):
        job()
    assert ran == []
    job(actor=d2.UserContext("bob", frozenset({"a"})))
    assert ran == ["ran"]


def test_submit_rejects_non_user_context_actor() -> None:
    with ThreadPoolExecutor(1) as pool, pytest.raises(TypeError):
        d2.threads.submit_with_context(pool, print, actor="bob")  # type: ignore[arg-type]


def test_thread_entrypoint_requires_actor(policy: Path) -> None:
    @d2.threads.thread_entrypoint(require_actor=True)
    def job() -> tuple[str | None, tuple[str, ...]]:
        return who()

    d2.set_user("ambient", ["a"])
    with pytest.raises(d2.D2NoContextError, match="actor"):
        job()
    assert job(actor=d2.UserContext("bob", frozenset({"b"})))[0] == "bob"
    assert d2.get_user_context() == d2.UserContext("ambient", frozenset({"a"}))


def test_thread_entrypoint_without_requirement_uses_ambient(policy: Path) -> None:
    @d2.threads.thread_entrypoint
    def job() -> str | None:
        return who()[0]

    with d2.set_user_context("amb", ["a"]):
        assert job() == "amb"


def test_clear_context_decorator_is_a_request_boundary(policy: Path) -> None:
    @d2.clear_context
    def handler() -> str | None:
        assert d2.get_user_context().user_id is None
        d2.set_user("req", ["a"])
        return who()[0]

    assert handler() == "req"
    assert d2.get_user_context().user_id is None
    with pytest.raises(TypeError):
        d2.clear_context(_async_handler)  # type: ignore[arg-type]


async def _async_handler() -> None:
    pass


def test_clear_context_async(policy: Path) -> None:
    @d2.clear_context_async
    async def handler() -> str | None:
        d2.set_user("req", ["a"])
        return who()[0]

    async def main() -> tuple[str | None, object]:
        result = await handler()
        return result, d2.get_user_context()

    assert asyncio.run(main()) == ("req", d2.UserContext(None))
    with pytest.raises(TypeError):
        d2.clear_context_async(lambda: None)  # type: ignore[arg-type,return-value]


def test_facts_api() -> None:
    assert d2.get_facts() == frozenset()
    assert not d2.has_fact("PII")
    with pytest.raises(d2.D2NoContextError):
        d2.record_fact("PII")
    with d2.set_user_context("u", ["a"]):
        d2.record_fact("PII")
        d2.record_facts(["SECRET", "PII"])
        assert d2.get_facts() == {"PII", "SECRET"}
        assert d2.has_fact("SECRET") and d2.has_any_fact(["X", "PII"]) and not d2.has_any_fact(["X"])
        with pytest.raises(TypeError):
            d2.record_fact("")
    with d2.set_user_context("u", ["a"]):
        assert d2.get_facts() == frozenset()
