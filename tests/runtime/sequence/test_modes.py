"""Allow mode (overrides only by the same call) and deny mode (a workflow graph), as semantics.md fixes them."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import Seq

ALLOW_MODE = """
policies:
  - role: analyst
    permissions: [db.read, report.build, web.post, audit.log]
    sequence:
      - deny: [db.read, web.post]
        reason: no raw exfiltration
      - allow: [report.build, web.post]
        reason: publishing a report is fine
"""


def test_allow_completed_by_the_same_call_overrides_the_deny(seq: Seq) -> None:
    seq.load(ALLOW_MODE)
    assert seq.play(["db.read", "report.build", "web.post"], ["analyst"]) == [True, True, True]


def test_an_allow_excuses_each_call_that_completes_it_again(seq: Seq) -> None:
    """The override is decided per call: a later call is excused only if it completes the allow too."""
    seq.load(ALLOW_MODE)
    calls = ["report.build", "web.post", "db.read", "audit.log", "web.post"]
    # web.post #1 completes the allow (nothing to override); web.post #2 completes the allow again
    # (report.build is still earlier in the history), so it is allowed: the override is per call.
    assert seq.play(calls, ["analyst"]) == [True, True, True, True, True]


def test_unrelated_allow_earlier_does_not_disable_later_denies(seq: Seq) -> None:
    """Evasion 2: the anchor let one completed allow pattern switch deny rules off for the request."""
    seq.load(
        """
        policies:
          - role: analyst
            permissions: [db.read, report.build, web.post, mail.send]
            sequence:
              - deny: [db.read, web.post]
              - allow: [report.build, mail.send]
        """
    )
    # The allow pattern completes on mail.send only; it must not excuse the later web.post.
    calls = ["report.build", "mail.send", "db.read", "web.post"]
    assert seq.play(calls, ["analyst"]) == [True, True, True, False]


def test_allow_overrides_only_the_roles_that_hold_it(seq: Seq) -> None:
    seq.load(
        """
        policies:
          - role: analyst
            permissions: [db.read, report.build, web.post]
            sequence:
              - deny: [db.read, web.post]
          - role: publisher
            permissions: [db.read, report.build, web.post]
            sequence:
              - deny: [db.read, web.post]
              - allow: [report.build, web.post]
        """
    )
    calls = ["db.read", "report.build", "web.post"]
    assert seq.play(calls, ["publisher"]) == [True, True, True]
    assert seq.play(calls, ["analyst"]) == [True, True, False]
    # Holding both: the publisher's exception does not open the analyst's containment.
    assert seq.play(calls, ["analyst", "publisher"]) == [True, True, False]
    assert "role analyst" in str(seq.last_error)


DENY_MODE = """
policies:
  - role: agent
    permissions: [web.search, llm.summarize, report.save, clock.now, files.delete]
    sequence:
      mode: deny
      rules:
        - allow: [web.search, llm.summarize]
        - allow: [llm.summarize, report.save]
        - allow: [clock.now]
"""


@pytest.mark.parametrize(
    ("calls", "expected"),
    [
        (["web.search", "llm.summarize", "report.save"], [True, True, True]),
        (["web.search", "report.save"], [True, False]),
        # Evasion 4: a workflow cannot be entered mid-way; report.save is no start.
        (["report.save"], [False]),
        # llm.summarize is the first element of [llm.summarize, report.save]: a start.
        (["llm.summarize", "report.save"], [True, True]),
        # A one-element pattern allows that tool anywhere, and it becomes the previous call: the
        # next call needs an edge from it (nothing leads out of clock.now here).
        (["clock.now", "web.search", "clock.now", "llm.summarize"], [True, False, True, False]),
        (["web.search", "clock.now", "llm.summarize"], [True, True, False]),
        # Everything else is refused, even though RBAC grants it; a refused call is not recorded.
        (["files.delete"], [False]),
        (["web.search", "files.delete", "llm.summarize"], [True, False, True]),
        # No edge leads back to the start: a second round needs a new request.
        (["web.search", "llm.summarize", "report.save", "web.search"], [True, True, True, False]),
    ],
)
def test_deny_mode_is_a_workflow_graph(seq: Seq, calls: list[str], expected: list[bool]) -> None:
    seq.load(DENY_MODE)
    assert seq.play(calls, ["agent"]) == expected


def test_deny_mode_longer_patterns_give_consecutive_edges(seq: Seq) -> None:
    seq.load(
        """
        policies:
          - role: clerk
            permissions: [a, b, c]
            sequence:
              mode: deny
              rules:
                - allow: [a, b, c]
        """
    )
    assert seq.play(["a", "b", "c"], ["clerk"]) == [True, True, True]
    assert seq.play(["a", "c"], ["clerk"]) == [True, False]
    assert seq.play(["b"], ["clerk"]) == [False]


def test_deny_mode_enforces_its_deny_patterns_too(seq: Seq) -> None:
    """The seeds call deny rules in deny mode 'ignored'; an ignored rule is a silent surprise, so they bind."""
    seq.load(
        """
        policies:
          - role: agent
            permissions: [a, b, c]
            sequence:
              mode: deny
              rules:
                - allow: [a, b]
                - allow: [b, c]
                - allow: [c, b]
                - deny: [a, c, b]
                  reason: no second b after a c
        """
    )
    assert seq.play(["a", "b", "c"], ["agent"]) == [True, True, True]
    assert seq.play(["a", "b", "c", "b"], ["agent"]) == [True, True, True, False]
    assert "no second b after a c" in str(seq.last_error)


def test_deny_mode_groups_as_steps(seq: Seq) -> None:
    seq.load(
        """
        metadata:
          tool_groups:
            search: [web.search, docs.search]
            write: [report.save, wiki.save]
        policies:
          - role: agent
            permissions: ["@search", "@write"]
            sequence:
              mode: deny
              rules:
                - allow: ["@search", "@write"]
        """
    )
    assert seq.play(["docs.search", "wiki.save"], ["agent"]) == [True, True]
    assert seq.play(["web.search", "docs.search"], ["agent"]) == [True, False]


def test_two_deny_mode_roles_must_both_permit_the_step(seq: Seq) -> None:
    seq.load(
        """
        policies:
          - role: searcher
            permissions: [a, b, c]
            sequence: {mode: deny, rules: [{allow: [a, b]}, {allow: [b, c]}]}
          - role: writer
            permissions: [a, b, c]
            sequence: {mode: deny, rules: [{allow: [a, b]}]}
        """
    )
    assert seq.play(["a", "b", "c"], ["searcher"]) == [True, True, True]
    assert seq.play(["a", "b", "c"], ["searcher", "writer"]) == [True, True, False]
    assert "role writer" in str(seq.last_error)


def test_a_deny_mode_role_binds_a_user_who_also_holds_an_allow_mode_role(seq: Seq) -> None:
    seq.load(
        """
        policies:
          - role: agent
            permissions: [a, b]
            sequence: {mode: deny, rules: [{allow: [a]}]}
          - role: staff
            permissions: [a, b]
        """
    )
    assert seq.play(["b"], ["staff"]) == [True]
    assert seq.play(["b"], ["staff", "agent"]) == [False]


def test_entries_of_one_role_add_up_and_deny_mode_wins(seq: Seq) -> None:
    path_text = """
        policies:
          - roles: [agent, analyst]
            permissions: [a, b, c]
            sequence:
              - deny: [a, c]
          - role: agent
            sequence:
              mode: deny
              rules:
                - allow: [a, b]
                - allow: [b, c]
        """
    seq.load(path_text)
    assert seq.play(["a", "b", "c"], ["agent"]) == [True, True, False]
    assert seq.play(["a", "b", "c"], ["analyst"]) == [True, True, False]
    assert seq.play(["b", "c"], ["agent"]) == [True, True]
    assert seq.play(["c"], ["analyst"]) == [True]
    assert seq.play(["c"], ["agent"]) == [False]
