"""Request state is never lost, never shared (issue 11 items 7, 19 and 20).

Sequence progress survives a policy re-install however long the request has run (or the call is
refused when it cannot be known); a restriction that names a parameter the tool lacks refuses;
a restriction's sequence progress belongs to one request only.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import d2

GUARDED = """
policies:
  - role: analyst
    permissions: [db.read, web.post, other.step, x.start]
    sequence:
      - deny: [db.read, web.post]
"""

ADDED_RULE = """
policies:
  - role: analyst
    permissions: [db.read, web.post, other.step, x.start]
    sequence:
      - deny: [db.read, web.post]
      - deny: [x.start, other.step]
"""

LONG = 10_050  # more calls than the request history keeps


def _tools() -> dict[str, Callable[[], str]]:
    return {
        name: d2.d2_guard(name)(lambda name=name: name)
        for name in ("db.read", "web.post", "other.step", "x.start")
    }


def _reload(path: Path, text: str) -> None:
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    assert d2.get_policy_manager().reload()


def test_progress_survives_a_reload_after_a_long_request(load: Callable[[str], Path]) -> None:
    path = load(GUARDED)
    tools = _tools()
    with d2.set_user_context("u", ["analyst"]):
        tools["db.read"]()
        for _ in range(LONG):
            tools["other.step"]()
        _reload(path, GUARDED + "\n# renewed\n")
        with pytest.raises(d2.PermissionDeniedError) as info:
            tools["web.post"]()
    assert info.value.reason == d2.Reason.SEQUENCE_VIOLATION


def test_progress_survives_two_reloads_and_a_changed_neighbour_rule(load: Callable[[str], Path]) -> None:
    path = load(GUARDED)
    tools = _tools()
    with d2.set_user_context("u", ["analyst"]):
        tools["db.read"]()
        for _ in range(LONG):
            tools["other.step"]()
        _reload(path, ADDED_RULE)
        _reload(path, GUARDED)
        with pytest.raises(d2.PermissionDeniedError):
            tools["web.post"]()


def test_an_unstarted_pattern_stays_unstarted_across_a_reload_after_a_long_request(
    load: Callable[[str], Path],
) -> None:
    """Carried progress, not a guess: the old policy is gone after the reload, its progress is not."""
    path = load(GUARDED)
    tools = _tools()
    with d2.set_user_context("u", ["analyst"]):
        for _ in range(LONG):
            tools["other.step"]()
        _reload(path, GUARDED + "\n# renewed\n")
        assert tools["web.post"]() == "web.post"  # db.read never ran: nothing to refuse
        tools["db.read"]()
        with pytest.raises(d2.PermissionDeniedError):
            tools["web.post"]()


def test_a_rule_added_after_the_history_was_truncated_refuses_its_last_step(
    load: Callable[[str], Path],
) -> None:
    path = load(GUARDED)
    tools = _tools()
    with d2.set_user_context("u", ["analyst"]):
        tools["x.start"]()
        for _ in range(LONG):
            tools["db.read"]()
        _reload(path, ADDED_RULE)  # [x.start, other.step] started before the retained history
        with pytest.raises(d2.PermissionDeniedError) as info:
            tools["other.step"]()
        assert info.value.reason == d2.Reason.SEQUENCE_VIOLATION
        tools["db.read"]()  # calls the new rule does not end with still run


PLAIN = """
policies:
  - role: analyst
    permissions: [db.read, web.post, other.step, x.start]
"""


def test_a_full_history_counts_as_truncated_even_when_the_call_count_fell_behind(
    load: Callable[[str], Path],
) -> None:
    """Plain grants count calls without the request's lock, so racing threads can lose increments;
    a full history must still be taken as truncated, or a pattern started before it is forgotten."""
    from d2._core.state import HISTORY_LIMIT
    from d2._runtime.context import _STATE

    path = load(PLAIN)
    tools = _tools()
    with d2.set_user_context("u", ["analyst"]):
        tools["x.start"]()
        for _ in range(LONG):
            tools["db.read"]()
        state = _STATE.get()
        assert state is not None
        state.log.calls = HISTORY_LIMIT  # as if 51 increments had been lost to a race
        _reload(path, ADDED_RULE)
        with pytest.raises(d2.PermissionDeniedError) as info:
            tools["other.step"]()
        assert info.value.reason == d2.Reason.SEQUENCE_VIOLATION


def test_short_requests_still_rebuild_progress_exactly(load: Callable[[str], Path]) -> None:
    path = load(GUARDED)
    tools = _tools()
    with d2.set_user_context("u", ["analyst"]):
        tools["db.read"]()
        _reload(path, ADDED_RULE)
        assert tools["other.step"]() == "other.step"  # x.start never ran: nothing to refuse
        with pytest.raises(d2.PermissionDeniedError):
            tools["web.post"]()


# -- item 19 ------------------------------------------------------------------------------------

POLICY = """
policies:
  - role: agent
    permissions: [pay.send, notes.any]
"""


@pytest.fixture
def pay(load: Callable[[str], Path]) -> Callable[..., str]:
    load(POLICY)

    @d2.d2_guard("pay.send")
    def send(amount: int, to: str = "acme") -> str:
        return f"sent {amount}"

    return send


def test_restriction_naming_a_missing_parameter_is_refused(pay: Callable[..., str]) -> None:
    with d2.set_user_context("u", ["agent"]):
        try:
            scope = d2.restrict(conditions={"pay.send": {"input": {"ammount": {"max": 10}}}})
        except d2.ConfigurationError as exc:
            assert "ammount" in str(exc) and "amount" in str(exc)  # did-you-mean
            return
        with scope, pytest.raises(d2.PermissionDeniedError) as info:
            pay(1_000_000)
    assert "ammount" in str(info.value)


def test_restriction_on_a_tool_guarded_later_refuses_at_call_time(load: Callable[[str], Path]) -> None:
    load(POLICY)
    with d2.set_user_context("u", ["agent"]):
        with d2.restrict(conditions={"notes.any": {"input": {"titel": {"maxLength": 3}}}}):

            @d2.d2_guard("notes.any")
            def note(title: str) -> str:
                return title

            with pytest.raises(d2.PermissionDeniedError) as info:
                note("a very long title")
    assert "titel" in str(info.value) and "title" in str(info.value)


def test_restriction_naming_a_real_parameter_still_works(pay: Callable[..., str]) -> None:
    with d2.set_user_context("u", ["agent"]):
        with d2.restrict(conditions={"pay.send": {"input": {"amount": {"max": 10}}}}):
            assert pay(5) == "sent 5"
            with pytest.raises(d2.PermissionDeniedError):
                pay(50)


# -- item 20 ------------------------------------------------------------------------------------


def test_restriction_sequence_state_does_not_cross_requests(load: Callable[[str], Path]) -> None:
    load(GUARDED)
    tools = _tools()
    shared = d2.restrict(sequence=[{"deny": ["other.step", "x.start"]}])
    with d2.set_user_context("first", ["analyst"]), shared:
        tools["other.step"]()
    with d2.set_user_context("second", ["analyst"]), shared:
        assert tools["x.start"]() == "x.start"


def test_restriction_sequence_still_applies_within_one_block(load: Callable[[str], Path]) -> None:
    load(GUARDED)
    tools = _tools()
    with d2.set_user_context("u", ["analyst"]), d2.restrict(sequence=[{"deny": ["other.step", "x.start"]}]):
        tools["other.step"]()
        with pytest.raises(d2.PermissionDeniedError) as info:
            tools["x.start"]()
    assert info.value.reason == d2.Reason.RESTRICTION


def _unused(*_: Any) -> None:
    return None
