"""The per-request shortcuts of ``d2.restrict``: a cache keyed by content, guards checked until they change.

A handler that restricts every request the same way pays for the compile and the parameter check once;
the cache key must still tell apart every pair of fragments that decide differently, and a guard
registered later must still be checked.
"""

from __future__ import annotations

from typing import Any

import pytest

import d2
from d2._core.state import RequestLog, RequestState, UserContext
from d2._runtime import restrict as _restrict
from d2._runtime.restrict_live import NO_PROGRESS

POLICY = """
policies:
  - role: r
    permissions: [pick, other, seq.a, seq.b]
"""


@pytest.fixture
def pick(write_policy):  # type: ignore[no-untyped-def]
    d2.configure_rbac_sync(write_policy(POLICY))
    _restrict._COMPILED.clear()
    _restrict._FITTED.clear()
    return d2.d2_guard("pick")(lambda x: x)


def _only(values: list[Any]) -> dict[str, Any]:
    return {"tools": ["pick"], "conditions": {"pick": {"input": {"x": {"in": values}}}}}


@pytest.mark.parametrize(
    ("first", "second", "value"),
    [
        ([1], [True], True),  # True == 1 and hash(True) == hash(1): the key must still differ
        ([True], [1], 1),
        ([1], [1.5], 1.5),
        (["1"], [1], 1),
    ],
)
def test_fragments_equal_under_python_equality_are_still_told_apart(
    pick: Any, first: list[Any], second: list[Any], value: Any
) -> None:
    with d2.set_user_context("u", ["r"]):
        with d2.restrict(_only(first)), pytest.raises(d2.PermissionDeniedError):
            pick(value)
        with d2.restrict(_only(second)):
            assert pick(value) == value


def test_a_fragment_changed_in_place_is_compiled_again(pick: Any) -> None:
    fragment = _only(["a"])
    with d2.set_user_context("u", ["r"]):
        with d2.restrict(fragment):
            assert pick("a") == "a"
        fragment["conditions"]["pick"]["input"]["x"]["in"][0] = "b"
        with d2.restrict(fragment), pytest.raises(d2.PermissionDeniedError):
            pick("a")


def test_a_fragment_with_a_subclassed_value_is_never_taken_for_a_cached_one(pick: Any) -> None:
    class Text(str):
        pass

    with d2.set_user_context("u", ["r"]):
        with d2.restrict(_only(["a"])):
            assert pick("a") == "a"
        with d2.restrict(_only([Text("b")])), pytest.raises(d2.PermissionDeniedError):
            pick("a")
        with d2.restrict({"tools": ("pick",)}):  # a tuple is read as a list, as before
            assert pick("z") == "z"
    assert _restrict._plain_repr(_only([Text("b")])) is None
    assert _restrict._plain_repr({"tools": ("pick",)}) is None
    assert _restrict._plain_repr({1: "a"}) is None
    assert _restrict._plain_repr({"tools": ["t"] * 300}) is None  # beyond the node budget
    assert _restrict._plain_repr(_only(["a"])) == repr(_only(["a"]))


def test_a_guard_added_later_is_still_checked(pick: Any) -> None:
    fragment = {"conditions": {"other": {"input": {"y": {"in": ["a"]}}}}}
    with d2.set_user_context("u", ["r"]):
        with d2.restrict(fragment):
            pass
        with d2.restrict(fragment):  # now remembered as fitting every guard
            pass
        keep = d2.d2_guard("other")(lambda z: z)  # no parameter 'y'
        with pytest.raises(d2.ConfigurationError, match="has no parameter 'y'"):
            d2.restrict(fragment)
        with pytest.raises(d2.ConfigurationError, match="has no parameter 'y'"):
            d2.restrict(fragment)  # a refusal is never remembered
        assert keep.__name__  # the guard stays registered (guards are held weakly) until here


def test_a_one_off_fragment_is_not_remembered(pick: Any) -> None:
    big = _only([f"id-{i}" for i in range(1_000)])
    with d2.set_user_context("u", ["r"]), d2.restrict(big):
        assert pick("id-5") == "id-5"
    assert not _restrict._FITTED, "an uncached fragment's conditions must not be kept alive"


def test_without_sequence_rules_no_progress_is_kept_and_with_them_each_block_has_its_own(pick: Any) -> None:
    with d2.set_user_context("u", ["r"]):
        with d2.restrict(_only(["a"])) as plain:
            pick("a")
        current = plain.current()
        assert current is not None and current.progress is NO_PROGRESS
        assert NO_PROGRESS.calls == 0 and not NO_PROGRESS.history

        ordered = {"tools": ["seq.a", "seq.b"], "sequence": [{"deny": ["seq.a", "seq.b"]}]}
        a, b = d2.d2_guard("seq.a")(lambda: "a"), d2.d2_guard("seq.b")(lambda: "b")
        with d2.restrict(ordered) as one:
            a()
            with pytest.raises(d2.PermissionDeniedError):
                b()
        with d2.restrict(ordered) as two:
            assert b() == "b"
        first, second = one.current(), two.current()
        assert first is not None and second is not None
        assert first.progress is not second.progress and NO_PROGRESS not in (first.progress, second.progress)


def test_a_condition_on_a_parameter_the_tool_lacks_refuses_at_call_time(pick: Any) -> None:
    fragment = {"tools": ["other"], "conditions": {"other": {"input": {"y": {"in": ["a"]}}}}}
    with d2.set_user_context("u", ["r"]), d2.restrict(fragment, name="late"):
        other = d2.d2_guard("other")(lambda z: z)  # guarded after the block began: no check at creation
        with pytest.raises(d2.PermissionDeniedError) as info:
            other("a")
    assert info.value.reason == "restriction"
    assert "has a condition on parameter 'y'" in str(info.value)


def test_arguments_that_name_exactly_the_conditioned_parameters_are_checked(pick: Any) -> None:
    restriction = _restrict.compile_restriction(_only(["a"]), d2.get_policy_manager().policy, name="n")
    state = RequestState(UserContext("u", frozenset({"r"})), RequestLog())
    assert restriction.check("pick", {"x": "a"}, state) is None
    refused = restriction.check("pick", {"x": "b"}, state)
    assert refused is not None and refused.operator == "in" and refused.target == "x"
    missing = restriction.check("pick", {"w": "a"}, state)
    assert missing is not None and missing.target == "x" and missing.operator == "parameter"


def test_a_fragment_with_tuples_is_cached_by_its_plain_form(pick: Any) -> None:
    fragment = {"tools": ("pick",), "conditions": {"pick": {"input": {"x": {"in": ("a", "b")}}}}}
    with d2.set_user_context("u", ["r"]):
        with d2.restrict(fragment) as one:
            assert pick("a") == "a"
        with d2.restrict(fragment) as two:
            with pytest.raises(d2.PermissionDeniedError):
                pick("c")
    first, second = one.current(), two.current()
    assert first is not None and second is not None
    assert first.conditions is second.conditions


def test_the_cache_key_limits_are_exact() -> None:
    at_budget = {"t": ["x"] * (_restrict._CACHEABLE_NODES - 1)}  # the dict's entry plus its items
    assert _restrict._plain_repr(at_budget) == repr(at_budget)
    assert _restrict._plain_repr({"t": ["x"] * _restrict._CACHEABLE_NODES}) is None
    nested = {"t": [["x"] * (_restrict._CACHEABLE_NODES - 2)]}
    assert _restrict._plain_repr(nested) == repr(nested)
    assert _restrict._plain_repr({"t": [["x"] * (_restrict._CACHEABLE_NODES - 1)]}) is None
    wide = {f"k{i}": 1 for i in range(_restrict._CACHEABLE_NODES)}
    assert _restrict._plain_repr(wide) == repr(wide)
    assert _restrict._plain_repr({**wide, "one": 1}) is None
    room = _restrict._CACHEABLE_REPR - len(repr({"t": ""}))
    assert _restrict._plain_repr({"t": "x" * room}) == repr({"t": "x" * room})
    assert _restrict._plain_repr({"t": "x" * (room + 1)}) is None


def test_guards_are_checked_once_per_fragment_until_they_change(pick: Any, monkeypatch: Any) -> None:
    fragment = _only(["a"])
    with d2.set_user_context("u", ["r"]):
        with d2.restrict(fragment):
            pass
        assert len(_restrict._FITTED) == 1

        def walked(*_args: Any) -> None:
            raise AssertionError("the guards were walked again")

        monkeypatch.setattr(_restrict, "_check_guards", walked)
        with d2.restrict(fragment):  # same fragment, same guards: nothing to check
            assert pick("a") == "a"
        keep = d2.d2_guard("other")(lambda z: z)
        with pytest.raises(AssertionError, match="walked again"):
            d2.restrict(fragment)  # a new guard: checked again
        assert keep.__name__
