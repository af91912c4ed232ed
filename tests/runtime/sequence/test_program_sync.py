"""Gaps mutation testing of ``_lang/seqprogram.py`` found: sync on the engine's full path, immutability.

The engine decides a call in one of two ways: ``step`` (a plain grant under sequence rules) or
``check`` then ``record`` (when data flow, conditions or restrictions also decide). Both must bring the
progress up to date after a reload; the tests in ``test_reload.py`` cover the first, these the second.
Compiled rules are shared by every thread that decides with the policy, so they cannot be changed.
"""

from __future__ import annotations

import dataclasses
import textwrap
from typing import TYPE_CHECKING

import pytest

import d2
from d2._core.state import RequestLog
from d2._lang.seqprogram import TRAIL_WINDOW, SequenceProgram, matched_trail

if TYPE_CHECKING:
    from conftest import Seq

# A data-flow section makes the engine take the check-then-record path for every call.
OPEN = """
metadata:
  data_flow:
    labels:
      secrets.get: [SECRET]
    blocks:
      SECRET: [web.post]
policies:
  - role: analyst
    permissions: [db.read, web.post, other.step, secrets.get]
"""

SEQUENCE = """
    sequence:
      - deny: [db.read, web.post]
"""

GUARDED = OPEN + SEQUENCE

WORKFLOW = """
policies:
  - role: clerk
    permissions: [a.one, a.two, a.three]
    sequence:
      mode: deny
      rules:
        - allow: [a.one, a.two]
"""


def test_reload_mid_request_rebuilds_progress_on_the_check_path(seq: Seq) -> None:
    path = seq.load(OPEN)
    manager = d2.get_policy_manager()
    with d2.set_user_context("u", ["analyst"]):
        assert seq.call("db.read") and seq.call("other.step")
        path.write_text(textwrap.dedent(GUARDED), encoding="utf-8")
        assert manager.reload()
        assert not seq.call("web.post")
    assert seq.last_error.reason == d2.Reason.SEQUENCE_VIOLATION


def test_the_data_flow_path_still_refuses_a_completed_pattern(seq: Seq) -> None:
    seq.load(GUARDED)
    assert seq.play(["other.step", "web.post", "db.read", "other.step", "web.post"], ["analyst"]) == [
        True,
        True,
        True,
        True,
        False,
    ]


PLAIN = """
policies:
  - role: analyst
    permissions: [a.one, a.two, a.three, other.step, web.post]
"""

THREE_STEPS = (
    PLAIN + "    sequence:\n      - deny: [a.one, a.two, a.three]\n      - deny: [db.read, web.post]\n"
)


def test_reload_mid_request_rebuilds_progress_on_a_middle_step(seq: Seq) -> None:
    # The call after the reload is no rule's last step: ``step`` must still sync before it advances.
    path = seq.load(PLAIN)
    manager = d2.get_policy_manager()
    with d2.set_user_context("u", ["analyst"]):
        assert seq.call("a.one")
        path.write_text(textwrap.dedent(THREE_STEPS), encoding="utf-8")
        assert manager.reload()
        assert seq.call("a.two")
        assert not seq.call("a.three")


def test_a_reload_does_not_make_an_unstarted_pattern_look_complete(seq: Seq) -> None:
    # A short request's history is complete: a rebuild reads it exactly, nothing is assumed started.
    path = seq.load(THREE_STEPS)
    manager = d2.get_policy_manager()
    with d2.set_user_context("u", ["analyst"]):
        assert seq.call("other.step") and seq.call("other.step") and seq.call("a.two")
        path.write_text(textwrap.dedent(THREE_STEPS) + "      - deny: [a.one, web.post]\n", encoding="utf-8")
        assert manager.reload()
        assert seq.call("web.post") and seq.call("a.three")


def test_record_alone_brings_a_fresh_request_up_to_date(seq: Seq) -> None:
    program = _program(seq, THREE_STEPS)
    log = RequestLog()
    log.history.extend(["a.one", "a.two"])
    log.calls = 2
    program.record(log, "a.two")
    assert [r.pattern for r in program.completed_by(log, "a.three")] == ["[a.one → a.two → a.three]"]


def _program(seq: Seq, text: str) -> SequenceProgram:
    result = seq.compile_text(text)
    assert result.policy is not None and isinstance(result.policy.sequence, SequenceProgram)
    return result.policy.sequence


@pytest.mark.parametrize("text", [GUARDED, WORKFLOW], ids=["deny-rule", "workflow"])
def test_compiled_sequence_rules_cannot_be_changed(seq: Seq, text: str) -> None:
    program = _program(seq, text)
    assert bool(program.workflows) == (text is WORKFLOW)
    rule = program.rules[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        rule.kind = "allow"  # type: ignore[misc]
    for role_rules in program.role_rules.values():
        with pytest.raises(dataclasses.FrozenInstanceError):
            role_rules.mode = "allow"  # type: ignore[misc]
    for workflow in program.workflows.values():
        with pytest.raises(dataclasses.FrozenInstanceError):
            workflow.anywhere = frozenset({"x"})  # type: ignore[misc]
    view = program._view(frozenset(program.role_rules))
    with pytest.raises(dataclasses.FrozenInstanceError):
        view.strict_roles = frozenset()  # type: ignore[misc]


def test_completed_by_brings_a_fresh_request_up_to_date(seq: Seq) -> None:
    program = _program(seq, THREE_STEPS)
    log = RequestLog()
    log.history.extend(["a.one", "a.two"])
    log.calls = 2
    assert [r.pattern for r in program.completed_by(log, "a.three")] == ["[a.one → a.two → a.three]"]
    assert program.completed_by(log, "a.two") == ()


TIED = """
policies:
  - role: r
    permissions: [a.one, b.one, c.last]
    sequence:
      - deny: [a.one, c.last]
        reason: first written
      - deny: [b.one, c.last]
        reason: second written
"""


def test_of_two_equally_long_complete_patterns_the_first_written_explains(seq: Seq) -> None:
    seq.load(TIED)
    assert seq.play(["b.one", "a.one", "c.last"], ["r"]) == [True, True, False]
    assert "first written" in str(seq.last_error)


OVERRIDE = """
policies:
  - role: r
    permissions: [a.one, b.post, c.send, x.read]
    sequence:
      - deny: [x.read, b.post]
      - allow: [a.one, b.post, c.send]
"""


def test_an_allow_pattern_excuses_only_the_call_that_completes_it(seq: Seq) -> None:
    seq.load(OVERRIDE)
    # [a.one, b.post] of the allow pattern is matched, but b.post is not its last step: no excuse.
    assert seq.play(["a.one", "b.post", "x.read", "b.post"], ["r"]) == [True, True, True, False]
    assert seq.play(["a.one", "b.post", "x.read", "c.send"], ["r"]) == [True, True, True, True]


def _workflow(anywhere: int) -> str:
    tools = [f"s.t{i}" for i in range(anywhere)]
    rules = "".join(f"        - allow: [{t}]\n" for t in tools)
    return (
        f"policies:\n  - role: w\n    permissions: [{', '.join(tools)}, first.tool, late.tool]\n"
        f"    sequence:\n      mode: deny\n      rules:\n        - allow: [first.tool, late.tool]\n{rules}"
    )


@pytest.mark.parametrize(("anywhere", "more"), [(5, False), (6, True)])
def test_a_workflow_refusal_names_at_most_six_allowed_calls(seq: Seq, anywhere: int, more: bool) -> None:
    # first.tool plus ``anywhere`` one-element patterns: 6 or 7 allowed first calls.
    seq.load(_workflow(anywhere))
    assert seq.play(["late.tool"], ["w"]) == [False]
    message = str(seq.last_error)
    assert "allowed first calls: first.tool, s.t0" in message, message
    shown = message.split("allowed first calls: ")[1].split(")")[0].split(", ")
    assert shown == ["first.tool", *(f"s.t{i}" for i in range(5)), *(["…"] if more else [])]


def test_the_trail_of_a_refusal_looks_back_a_bounded_window(seq: Seq) -> None:
    program = _program(seq, THREE_STEPS)
    rule = next(r for r in program.rules if r.pattern == "[a.one → a.two → a.three]")
    near = ["a.one", "a.two"] + ["x"] * (TRAIL_WINDOW - 2)
    assert matched_trail(rule, near) == [(1, "a.one"), (2, "a.two")]
    far = ["a.one", "a.two"] + ["x"] * (TRAIL_WINDOW - 1)
    assert matched_trail(rule, far) == [(2, "a.two")]


def test_sequence_and_data_flow_checked_and_recorded_in_one_pass(seq: Seq) -> None:
    # The engine's fused path: a data-flow block defers to a sequence rule refusing the same call,
    # and a refused call records nothing (no history, no label, no progress).
    seq.load(GUARDED)
    with d2.set_user_context("u", ["analyst"]):
        assert seq.call("secrets.get") and seq.call("db.read")
        before = d2.get_user_context()
        assert not seq.call("web.post")
        assert seq.last_error.reason == "sequence_violation"  # both refuse: the sequence rule decides
        after = d2.get_user_context()
        assert (after.call_history, after.facts) == (before.call_history, before.facts)
    with d2.set_user_context("u", ["analyst"]):
        assert seq.call("secrets.get") and seq.call("other.step")
        assert not seq.call("web.post")
        assert seq.last_error.reason == "data_flow"  # the label alone refuses
        assert seq.call("db.read") and d2.get_user_context().facts == frozenset({"SECRET"})
