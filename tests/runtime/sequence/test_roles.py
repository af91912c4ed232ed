"""Which rules bind whom: roles add up, '*' roles without rules are exempt, history belongs to the request."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import d2
from d2._runtime.context import acting_as

if TYPE_CHECKING:
    from conftest import Seq

POLICY = """
policies:
  - role: analyst
    permissions: [db.read, web.post, notes.write]
    sequence:
      - deny: [db.read, web.post]
        reason: no exfiltration
  - role: admin
    permissions: ["*"]
  - role: auditor
    permissions: ["*"]
    sequence:
      - deny: [db.read, notes.write]
        reason: auditors do not annotate what they read
  - role: viewer
    permissions: [db.read, web.post]
"""

LEAK = ["db.read", "web.post"]


def test_wildcard_role_without_rules_is_exempt(seq: Seq) -> None:
    seq.load(POLICY)
    assert seq.play(LEAK, ["admin"]) == [True, True]


def test_wildcard_role_whose_entry_declares_rules_is_bound(seq: Seq) -> None:
    seq.load(POLICY)
    assert seq.play(["db.read", "notes.write"], ["auditor"]) == [True, False]
    assert seq.play(LEAK, ["auditor"]) == [True, True]


def test_a_wildcard_role_does_not_lift_another_roles_rules(seq: Seq) -> None:
    """Deny by default: holding admin as well does not remove the analyst's containment."""
    seq.load(POLICY)
    assert seq.play(LEAK, ["analyst", "admin"]) == [True, False]
    assert "role analyst" in str(seq.last_error)


def test_role_without_rules_is_not_bound_by_others(seq: Seq) -> None:
    seq.load(POLICY)
    assert seq.play(LEAK, ["viewer"]) == [True, True]


def test_rules_of_several_roles_add_up(seq: Seq) -> None:
    seq.load(POLICY)
    assert seq.play(["db.read", "notes.write"], ["analyst", "auditor"]) == [True, False]
    assert seq.play(LEAK, ["analyst", "auditor"]) == [True, False]


def test_multi_role_entry_binds_every_named_role(seq: Seq) -> None:
    seq.load(
        """
        policies:
          - role: [analyst, senior_analyst, lead_analyst]
            permissions: [db.read, web.post]
            sequence:
              - deny: [db.read, web.post]
          - roles: [contractor, intern]
            permissions: [db.read, web.post]
        """
    )
    for role in ("analyst", "senior_analyst", "lead_analyst"):
        assert seq.play(LEAK, [role]) == [True, False], role
    assert seq.play(LEAK, ["intern"]) == [True, True]


def test_history_carries_over_when_the_actor_changes(seq: Seq) -> None:
    """A viewer reads, then (same request) an analyst sends: the analyst's rule sees the read."""
    seq.load(POLICY)
    with d2.set_user_context("svc", ["viewer"]):
        assert seq.call("db.read")
        analyst = d2.UserContext("agent", frozenset({"analyst"}))
        with acting_as(analyst):
            assert not seq.call("web.post")
        assert seq.call("web.post")  # the viewer itself is bound by no rule


def test_calls_of_an_unbound_role_still_advance_the_request(seq: Seq) -> None:
    """An admin's read counts for the analyst a worker thread then acts as (explicit actor)."""
    seq.load(POLICY)
    analyst = d2.UserContext("agent", frozenset({"analyst"}))
    with d2.set_user_context("svc", ["admin"]), ThreadPoolExecutor(1) as pool:
        assert seq.call("db.read")
        ran = d2.threads.submit_with_context(pool, seq.call, "web.post", actor=analyst).result()
    assert ran is False
    assert seq.last_error.user_id == "agent"
