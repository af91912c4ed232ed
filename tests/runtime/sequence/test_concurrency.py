"""Evasions through concurrency: child tasks, worker threads, nested guards, many interleaved requests."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace
from typing import TYPE_CHECKING

import pytest

import d2
from d2._runtime.context import current_state

if TYPE_CHECKING:
    from conftest import Seq

POLICY = """
policies:
  - role: analyst
    permissions: [db.read, web.post, outer.job, inner.step, analytics.run]
    sequence:
      - deny: [db.read, web.post]
        reason: no exfiltration
      - deny: [outer.job, inner.step, web.post]
        reason: nested pipeline must not post
"""


class Tools(SimpleNamespace):
    """Guarded tools made per test, so no guard outlives it (guards are checked against every policy)."""


@pytest.fixture
def t() -> Tools:
    @d2.d2_guard("db.read")
    async def aread() -> str:
        await asyncio.sleep(0)
        return "rows"

    @d2.d2_guard("web.post")
    async def apost() -> str:
        await asyncio.sleep(0)
        return "sent"

    @d2.d2_guard("inner.step")
    def inner() -> list[str]:
        return history()

    @d2.d2_guard("outer.job")
    def outer() -> list[str]:
        return inner()

    @d2.d2_guard("inner.step")
    async def ainner() -> list[str]:
        await asyncio.sleep(0)
        return history()

    @d2.d2_guard("outer.job")
    async def aouter() -> list[str]:
        return await ainner()

    return Tools(aread=aread, apost=apost, inner=inner, outer=outer, ainner=ainner, aouter=aouter)


def history() -> list[str]:
    state = current_state()
    assert state is not None
    return list(state.log.history)


def test_child_task_cannot_post_after_the_parent_read(seq: Seq, t: Tools) -> None:
    """Evasion 1a: a task created after the read shares the request's history."""
    seq.load(POLICY)

    async def main() -> None:
        async with d2.set_user_context("agent", ["analyst"]):
            await t.aread()
            with pytest.raises(d2.PermissionDeniedError) as info:
                await asyncio.create_task(t.apost())
            assert info.value.reason == "sequence_violation"
            results = await asyncio.gather(t.apost(), t.apost(), return_exceptions=True)
            assert all(isinstance(r, d2.PermissionDeniedError) for r in results)

    asyncio.run(main())


def test_read_in_a_child_task_counts_for_the_parent(seq: Seq, t: Tools) -> None:
    seq.load(POLICY)

    async def main() -> None:
        async with d2.set_user_context("agent", ["analyst"]):
            await asyncio.gather(t.aread())
            with pytest.raises(d2.PermissionDeniedError):
                await t.apost()

    asyncio.run(main())


def test_worker_thread_cannot_post_after_the_parent_read(seq: Seq) -> None:
    """Evasion 1b: submit_with_context runs the exfiltrating call in a thread of the same request."""
    seq.load(POLICY)
    with d2.set_user_context("agent", ["analyst"]), ThreadPoolExecutor(2) as pool:
        assert seq.call("db.read")
        assert d2.threads.submit_with_context(pool, seq.call, "web.post").result() is False
        assert history() == ["db.read"]
    assert seq.last_error.reason == "sequence_violation"


def test_read_in_a_worker_thread_counts_for_the_parent(seq: Seq) -> None:
    seq.load(POLICY)
    with d2.set_user_context("agent", ["analyst"]), ThreadPoolExecutor(2) as pool:
        assert d2.threads.submit_with_context(pool, seq.call, "db.read").result() is True
        assert not seq.call("web.post")


def test_nested_sync_guards_are_recorded_outer_then_inner(seq: Seq, t: Tools) -> None:
    """Evasion 3: the outer call is recorded before its body runs the inner one."""
    seq.load(POLICY)
    with d2.set_user_context("agent", ["analyst"]):
        assert t.outer() == ["outer.job", "inner.step"]
        assert history() == ["outer.job", "inner.step"]
        assert not seq.call("web.post")
    assert "nested pipeline must not post" in str(seq.last_error)


def test_nested_async_guards_are_recorded_outer_then_inner(seq: Seq, t: Tools) -> None:
    seq.load(POLICY)

    async def main() -> list[str]:
        async with d2.set_user_context("agent", ["analyst"]):
            seen = await t.aouter()
            with pytest.raises(d2.PermissionDeniedError):
                await t.apost()
            return seen

    assert asyncio.run(main()) == ["outer.job", "inner.step"]


def test_nested_guard_refused_inside_the_outer_body(seq: Seq, t: Tools) -> None:
    seq.load(
        """
        policies:
          - role: analyst
            permissions: [outer.job, inner.step]
            sequence:
              - deny: [outer.job, inner.step]
        """
    )
    with d2.set_user_context("agent", ["analyst"]):
        with pytest.raises(d2.PermissionDeniedError):
            t.outer()
        assert history() == ["outer.job"]


def test_a_thousand_interleaved_requests_keep_separate_histories(seq: Seq, t: Tools) -> None:
    """Evasion 5: every other request reads first; only those are refused, whatever the interleaving."""
    seq.load(POLICY)

    async def request(i: int) -> tuple[int, bool, list[str]]:
        async with d2.set_user_context(f"user-{i}", ["analyst"]):
            if i % 2 == 0:
                await t.aread()
            for _ in range(i % 3):
                await asyncio.sleep(0)
            try:
                await t.apost()
                sent = True
            except d2.PermissionDeniedError:
                sent = False
            return i, sent, history()

    async def main() -> list[tuple[int, bool, list[str]]]:
        return await asyncio.gather(*(request(i) for i in range(1000)))

    for i, sent, calls in asyncio.run(main()):
        if i % 2 == 0:
            assert not sent and calls == ["db.read"], i
        else:
            assert sent and calls == ["web.post"], i


def test_threads_of_one_request_share_one_consistent_history(seq: Seq) -> None:
    seq.load(POLICY)
    barrier = threading.Barrier(8)

    def work() -> None:
        barrier.wait()
        for _ in range(50):
            assert seq.call("analytics.run")

    with d2.set_user_context("agent", ["analyst"]), ThreadPoolExecutor(8) as pool:
        futures = [d2.threads.submit_with_context(pool, work) for _ in range(8)]
        for f in futures:
            f.result()
        assert history() == ["analytics.run"] * 400
        futures = [d2.threads.submit_with_context(pool, seq.call, name) for name in ["db.read"] * 4]
        assert all(f.result() for f in futures)
        assert not seq.call("web.post")


def test_parallel_requests_in_threads_do_not_leak(seq: Seq) -> None:
    seq.load(POLICY)
    outcomes: dict[int, list[bool]] = {}

    def request(i: int) -> None:
        calls = ["db.read", "web.post"] if i % 2 else ["web.post", "db.read"]
        outcomes[i] = seq.play(calls, ["analyst"], user=f"u{i}")

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(request, range(200)))
    for i, result in outcomes.items():
        assert result == ([True, False] if i % 2 else [True, True]), i
