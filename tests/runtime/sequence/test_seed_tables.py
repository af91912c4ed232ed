"""The seeds' call-sequence tables and walkthroughs, replayed through real guarded calls."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

import d2

if TYPE_CHECKING:
    from conftest import Seq

# (calls in one request, which of them run) -- the temporal-authorization tables of the seed.
EXFILTRATION_TABLE = [
    (["database:read_users"], [True]),
    (["web:http_post"], [True]),
    (["database:read_users", "web:http_post"], [True, False]),
    (["database:read_users", "analytics:summarize"], [True, True]),
    (["database:read_users", "analytics:summarize", "web:http_post"], [True, True, False]),
    # Subsequence match: an innocent step in between does not launder the pattern.
    (["database:read_users", "other:tool", "web:http_post"], [True, True, False]),
    (
        ["database:read_users", "other:tool", "other:tool", "analytics:summarize", "web:http_post"],
        [True] * 4 + [False],
    ),
    # Order matters: egress before the read is fine, and so is the read afterwards.
    (["web:http_post", "database:read_users"], [True, True]),
]


@pytest.mark.parametrize(("calls", "expected"), EXFILTRATION_TABLE)
def test_exfiltration_table(seq: Seq, calls: list[str], expected: list[bool]) -> None:
    seq.load_fixture("exfiltration.yaml")
    assert seq.play(calls, ["analyst"]) == expected


def test_three_hop_refusal_names_the_longer_pattern_when_only_it_completes(seq: Seq) -> None:
    """With both rules present either explains a refusal; drop the direct one and the 3-hop rule decides."""
    seq.load(
        """
        policies:
          - role: analyst
            permissions: ["database:read_users", "analytics:summarize", "web:http_post"]
            sequence:
              - deny: ["database:read_users", "analytics:summarize", "web:http_post"]
                reason: "Transitive exfiltration"
        """
    )
    assert seq.play(["database:read_users", "web:http_post"], ["analyst"]) == [True, True]
    assert seq.play(["database:read_users", "analytics:summarize", "web:http_post"], ["analyst"]) == [
        True,
        True,
        False,
    ]
    assert "Transitive exfiltration" in str(seq.last_error)


def test_attack_blocked_walkthrough(seq: Seq) -> None:
    seq.load_fixture("research_agent.yaml")
    with d2.set_user_context("agent-1", ["research_agent"]):
        assert seq.call("database.read_users")
        assert not seq.call("web.http_request")
    err = seq.last_error
    assert err.reason == "sequence_violation"
    assert err.tool_id == "web.http_request"


def test_safe_workflow_walkthrough(seq: Seq) -> None:
    seq.load_fixture("research_agent.yaml")
    assert seq.play(["analytics.summarize", "database.read_users"], ["research_agent"]) == [True, True]


@pytest.mark.parametrize(
    ("scenario", "calls", "roles", "expected"),
    [
        ("direct leak", ["database.read_users", "web.http_request"], ["research_agent"], [True, False]),
        (
            "safe internal workflow",
            ["analytics.summarize", "database.read_users"],
            ["research_agent"],
            [True, True],
        ),
        (
            "hiding the trail",
            ["database.read_users", "analytics.summarize", "web.http_request"],
            ["research_agent"],
            [True, True, False],
        ),
        ("secrets leak", ["secrets.get_key", "web.http_request"], ["research_agent"], [True, False]),
        ("admin bypass", ["database.read_users", "web.http_request"], ["admin"], [True, True]),
    ],
)
def test_sequence_demo_scenarios(
    seq: Seq, scenario: str, calls: list[str], roles: list[str], expected: list[bool]
) -> None:
    seq.load_fixture("research_agent.yaml")
    assert seq.play(calls, roles) == expected, scenario


def test_history_resets_between_requests(seq: Seq) -> None:
    seq.load_fixture("research_agent.yaml")
    assert seq.play(["database.read_users"], ["research_agent"]) == [True]
    assert seq.play(["web.http_request"], ["research_agent"]) == [True]


@pytest.mark.parametrize("source", ["database.read_users", "database.read_payments", "secrets.get_key"])
@pytest.mark.parametrize("sink", ["web.http_request", "email.send", "slack.post"])
def test_one_group_rule_covers_all_nine_combinations(seq: Seq, source: str, sink: str) -> None:
    seq.load_fixture("groups.yaml")
    assert seq.play([source, "analytics.summarize", sink], ["analyst"]) == [True, True, False]


def test_group_rule_lets_external_calls_without_a_sensitive_read(seq: Seq) -> None:
    seq.load_fixture("groups.yaml")
    assert seq.play(["email.send", "slack.post", "database.read_users"], ["analyst"]) == [True, True, True]


def test_customer_service_cannot_email_order_data(seq: Seq) -> None:
    seq.load_fixture("customer_service.yaml")
    role = ["customer_service_agent"]
    assert seq.play(["knowledge:search", "email:send"], role) == [True, True]
    assert seq.play(["orders:search", "knowledge:search", "email:send"], role) == [True, True, False]
    assert seq.play(["orders:get_details", "email:send"], role) == [True, False]


def test_deny_mode_walkthrough(seq: Seq) -> None:
    """Seed: search -> summarize -> save chains two allow patterns; search -> save is refused."""
    seq.load_fixture("modes.yaml")
    agent = ["ai_agent"]
    assert seq.play(["web.search", "llm.summarize", "report.save"], agent) == [True, True, True]
    assert seq.play(["web.search", "report.save"], agent) == [True, False]


def test_allow_mode_walkthrough(seq: Seq) -> None:
    """Seed: a '*' role whose own entry declares rules is bound by them; the rest is allowed."""
    seq.load_fixture("modes.yaml")
    eng = ["senior_engineer"]
    assert seq.play(["secrets.get_key", "llm.summarize", "email.send"], eng) == [True, True, False]
    assert seq.play(["web.search", "report.save", "web.http_request"], eng) == [True, True, True]
