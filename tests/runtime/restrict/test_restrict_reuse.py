"""Equal fragments share their compiled parts, never their identity, name or sequence progress."""

from __future__ import annotations

import time

import pytest

import d2
from d2._runtime import restrict as _restrict

POLICY = """
metadata:
  tool_groups:
    net: [web.get, web.post]
policies:
  - role: r
    permissions: [db.read, web.get, web.post, search]
"""

FRAGMENT = {
    "tools": ["search", "db.read", "@net"],
    "conditions": {"search": {"input": {"region": {"in": ["eu", "us"]}}}},
    "sequence": [{"deny": ["db.read", "web.post"]}],
}


@pytest.fixture
def tools(write_policy):  # type: ignore[no-untyped-def]
    path = write_policy(POLICY)
    d2.configure_rbac_sync(path)
    made = {
        "search": d2.d2_guard("search")(lambda region: region),
        "db.read": d2.d2_guard("db.read")(lambda: "rows"),
        "web.post": d2.d2_guard("web.post")(lambda: "sent"),
    }
    return path, made


def test_the_second_use_reuses_the_compiled_parts(tools) -> None:  # type: ignore[no-untyped-def]
    _restrict._COMPILED.clear()
    with d2.set_user_context("u", ["r"]):
        with d2.restrict(FRAGMENT, name="first") as first:
            pass
        with d2.restrict(dict(FRAGMENT), name="second") as second:
            pass
    a, b = first.current(), second.current()
    assert a is not None and b is not None and a is not b
    assert a.conditions is b.conditions and a.sequence is b.sequence and a.tools == b.tools
    assert a.progress is not b.progress and (a.name, b.name) == ("first", "second")


def test_a_refusal_names_the_restriction_that_refused(tools) -> None:  # type: ignore[no-untyped-def]
    _, made = tools
    with d2.set_user_context("u", ["r"]):
        for name in ("one", "two"):
            with d2.restrict(FRAGMENT, name=name), pytest.raises(d2.PermissionDeniedError) as info:
                made["search"]("mars")
            assert info.value.location == f"<restriction {name}>:1:1"
            assert f"restriction '{name}'" in str(info.value)


def test_sequence_progress_never_carries_between_uses(tools) -> None:  # type: ignore[no-untyped-def]
    _, made = tools
    with d2.set_user_context("u", ["r"]):
        with d2.restrict(FRAGMENT, name="a"):
            made["db.read"]()
            with pytest.raises(d2.PermissionDeniedError) as info:
                made["web.post"]()
            assert info.value.location == "<restriction a>:1:1"
    with d2.set_user_context("u", ["r"]), d2.restrict(FRAGMENT, name="b"):
        assert made["web.post"]() == "sent"  # a new request and a new block: nothing carried over


def test_a_different_policy_compiles_afresh(tools, write_policy) -> None:  # type: ignore[no-untyped-def]
    _restrict._COMPILED.clear()
    with d2.set_user_context("u", ["r"]), d2.restrict(FRAGMENT, name="x") as before:
        first = before.current()
    d2.configure_rbac_sync(write_policy(POLICY.replace("web.post]", "web.post, web.put]")))
    with d2.set_user_context("u", ["r"]), d2.restrict(FRAGMENT, name="y") as after:
        second = after.current()
    assert first is not None and second is not None
    assert "web.put" not in first.tools and "web.put" in second.tools  # type: ignore[operator]
    assert first.conditions is not second.conditions


def test_invalid_fragments_are_refused_every_time(tools) -> None:  # type: ignore[no-untyped-def]
    bad = {"tools": ["@missing"]}
    for _ in range(2):
        with pytest.raises(d2.ConfigurationError, match="undefined tool group"):
            d2.restrict(bad)


def test_a_long_in_list_compiles_in_linear_time(tools) -> None:  # type: ignore[no-untyped-def]
    _, made = tools

    def timed(n: int) -> float:
        values = [f"id-{i:06d}" for i in range(n)] + ["eu"]
        fragment = {"tools": ["search"], "conditions": {"search": {"input": {"region": {"in": values}}}}}
        best = float("inf")
        for _ in range(5):  # CPU time, best of five: other processes on the machine do not count
            start = time.process_time()
            with d2.restrict(fragment):
                assert made["search"]("eu") == "eu"
            best = min(best, time.process_time() - start)
        return best

    with d2.set_user_context("u", ["r"]):
        small, large = timed(1_000), timed(10_000)
    # Linear with room for cache effects on a shared machine; a quadratic step would take ~100x.
    assert large < small * 50, f"10x the items took {large / small:.0f}x the time"
