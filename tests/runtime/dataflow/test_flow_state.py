"""Labels as request state: when they are recorded, who shares them, and the facts API around them."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import pytest

import d2

if TYPE_CHECKING:
    from conftest import Seq

POLICY = """
metadata:
  data_flow:
    labels:
      db.read: [SENSITIVE]
      web.fetch: [UNTRUSTED]
    blocks:
      SENSITIVE: [web.post]
      UNTRUSTED: [shell.run]
policies:
  - role: analyst
    permissions: [db.read, web.post, web.fetch, shell.run]
    sequence:
      - deny: [web.fetch, db.read]
        reason: no reads steered by fetched content
  - role: viewer
    permissions: [web.post]
"""


def test_label_is_recorded_before_the_body_runs_even_if_it_raises(flow: Seq) -> None:
    flow.load(POLICY)

    @d2.d2_guard("db.read")
    def read() -> None:
        assert d2.has_fact("SENSITIVE")  # already there while the body runs
        raise RuntimeError("boom")

    with d2.set_user_context("u", ["analyst"]):
        with pytest.raises(RuntimeError):
            read()
        assert not flow.call("web.post")


def test_refused_call_adds_no_label(flow: Seq) -> None:
    flow.load(POLICY)
    with d2.set_user_context("u", ["viewer"]):
        assert not flow.call("db.read")  # RBAC refuses: no label
        assert d2.get_facts() == frozenset()
        assert flow.call("web.post")
    with d2.set_user_context("u", ["analyst"]):
        assert flow.call("web.fetch")
        assert not flow.call("db.read")  # the sequence rule refuses: no label either
        assert d2.get_facts() == {"UNTRUSTED"}
        assert flow.call("web.post")


def test_labels_from_a_child_task_bind_the_parent(flow: Seq) -> None:
    flow.load(POLICY)

    @d2.d2_guard("db.read")
    async def aread() -> str:
        await asyncio.sleep(0)
        return "rows"

    @d2.d2_guard("web.post")
    async def apost() -> str:
        return "sent"

    async def main() -> None:
        async with d2.set_user_context("u", ["analyst"]):
            await asyncio.gather(aread())
            assert d2.get_facts() == {"SENSITIVE"}
            with pytest.raises(d2.PermissionDeniedError):
                await asyncio.create_task(apost())

    asyncio.run(main())


def test_labels_from_a_worker_thread_bind_the_parent_and_back(flow: Seq) -> None:
    flow.load(POLICY)
    with d2.set_user_context("u", ["analyst"]), ThreadPoolExecutor(2) as pool:
        assert d2.threads.submit_with_context(pool, flow.call, "db.read").result()
        assert not flow.call("web.post")
        d2.record_fact("UNTRUSTED")
        assert d2.threads.submit_with_context(pool, flow.call, "shell.run").result() is False


def test_interleaved_requests_keep_their_own_labels(flow: Seq) -> None:
    flow.load(POLICY)

    @d2.d2_guard("web.post")
    async def apost() -> bool:
        return True

    async def request(i: int) -> bool:
        async with d2.set_user_context(f"u{i}", ["analyst"]):
            if i % 2 == 0:
                d2.record_fact("SENSITIVE")
            await asyncio.sleep(0)
            try:
                return bool(await apost())
            except d2.PermissionDeniedError:
                return False

    async def main() -> list[bool]:
        return await asyncio.gather(*(request(i) for i in range(500)))

    assert asyncio.run(main()) == [i % 2 == 1 for i in range(500)]


def test_facts_api_outside_a_request(flow: Seq) -> None:
    assert d2.get_facts() == frozenset()
    assert not d2.has_fact("SENSITIVE") and not d2.has_any_fact(["SENSITIVE"])
    with pytest.raises(d2.D2NoContextError):
        d2.record_fact("SENSITIVE")


def test_record_facts_validates_and_accumulates(flow: Seq) -> None:
    with d2.set_user_context("u", ["analyst"]):
        d2.record_facts(["PII", "GDPR"])
        d2.record_fact("PII")
        assert d2.get_facts() == {"PII", "GDPR"}
        with pytest.raises(TypeError):
            d2.record_facts(["ok", ""])
        assert d2.get_facts() == {"PII", "GDPR"}
