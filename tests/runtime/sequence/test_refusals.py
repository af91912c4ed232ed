"""Refusals name the rule (pattern, reason, location) and the calls that triggered it; state stays correct."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

import d2
from d2._runtime.context import current_state

if TYPE_CHECKING:
    from conftest import Seq

POLICY = """
metadata:
  tool_groups:
    sensitive: [db.read, secrets.get]
    egress: [web.post, mail.send]
policies:
  - role: analyst
    permissions: ["@sensitive", "@egress", analytics.run]
    sequence:
      - deny: ["@sensitive", analytics.run, "@egress"]
        reason: laundering through analytics
  - role: agent
    permissions: [web.search, llm.summarize, report.save]
    sequence:
      mode: deny
      rules:
        - allow: [web.search, llm.summarize]
        - allow: [llm.summarize, report.save]
"""


def test_deny_refusal_names_pattern_reason_location_and_trail(seq: Seq) -> None:
    path = seq.load(POLICY)
    calls = ["analytics.run", "secrets.get", "web.post", "analytics.run", "analytics.run", "mail.send"]
    assert seq.play(calls, ["analyst"]) == [True, True, True, True, True, False]
    err = seq.last_error
    assert err.reason == d2.Reason.SEQUENCE_VIOLATION
    assert err.tool_id == "mail.send" and err.user_id == "u" and err.roles == ("analyst",)
    assert err.location == f"{path}:10:9"
    assert err.detail == (
        "sequence rule deny [@sensitive → analytics.run → @egress] of role analyst: laundering through analytics; "
        "matched secrets.get (call 2) → analytics.run (call 5) → mail.send (this call)"
    )
    assert err.value == ("secrets.get", "analytics.run", "mail.send")
    assert f"(rule at {path}:10:9)" in str(err)


def test_workflow_refusal_names_the_step_and_what_was_allowed(seq: Seq) -> None:
    path = seq.load(POLICY)
    assert seq.play(["web.search", "report.save"], ["agent"]) == [True, False]
    err = seq.last_error
    assert err.reason == "sequence_violation"
    assert err.location == f"{path}:15:7"
    assert err.detail == (
        "role agent uses sequence mode deny: no allowed step leads from 'web.search' to 'report.save' "
        "(allowed after 'web.search': llm.summarize)"
    )
    assert err.value == ("web.search", "report.save")
    assert seq.play(["report.save"], ["agent"]) == [False]
    assert "'report.save' cannot start a request (allowed first calls: web.search, llm.summarize)" in str(
        seq.last_error
    )


def test_trail_of_a_long_request_stays_cheap_and_says_what_it_left_out(seq: Seq) -> None:
    seq.load(POLICY)
    with d2.set_user_context("u", ["analyst"]):
        assert seq.call("db.read")
        for _ in range(600):
            assert seq.call("web.post")
        assert seq.call("analytics.run")
        assert not seq.call("web.post")
    detail = seq.last_error.detail or ""
    assert detail.endswith("matched @sensitive (earlier) → analytics.run (call 602) → web.post (this call)")


def test_refused_call_is_not_recorded(seq: Seq) -> None:
    seq.load(POLICY)
    with d2.set_user_context("u", ["analyst"]):
        assert seq.call("db.read") and seq.call("analytics.run")
        assert not seq.call("web.post")
        state = current_state()
        assert state is not None
        assert list(state.log.history) == ["db.read", "analytics.run"]
        assert state.log.last_tool == "analytics.run"


def test_call_is_recorded_before_the_body_runs_even_when_it_raises(seq: Seq) -> None:
    seq.load(POLICY)

    @d2.d2_guard("db.read")
    def failing_read() -> None:
        raise RuntimeError("disk on fire")

    with d2.set_user_context("u", ["analyst"]):
        with pytest.raises(RuntimeError):
            failing_read()
        assert seq.call("analytics.run")
        assert not seq.call("mail.send")


def test_on_deny_value_is_returned_for_a_sequence_refusal(seq: Seq) -> None:
    seq.load(POLICY)
    send = d2.d2_guard("web.post", on_deny="blocked")(lambda: "sent")
    with d2.set_user_context("u", ["analyst"]):
        assert seq.call("db.read") and seq.call("analytics.run")
        assert send() == "blocked"


def test_decision_event_carries_reason_and_rule_location(seq: Seq) -> None:
    path = seq.load(POLICY)
    events: list[d2.DecisionEvent] = []
    d2.add_decision_sink(events.append)
    try:
        seq.play(["db.read", "analytics.run", "web.post"], ["analyst"])
        d2.flush_events()
    finally:
        d2.remove_decision_sink(events.append)
    refused = [e for e in events if not e.allowed]
    assert [(e.tool_id, e.reason, e.location) for e in refused] == [
        ("web.post", "sequence_violation", f"{path}:10:9")
    ]


def test_sequence_is_checked_after_rbac(seq: Seq) -> None:
    seq.load(POLICY)
    with d2.set_user_context("u", ["agent"]):
        assert not seq.call("db.read")
    assert seq.last_error.reason == "rbac"
