"""``d2 inspect``: the policy tree (conditions included), filters, JSON, and ``--explain`` via the engine."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

POLICY = """\
metadata:
  name: shop
  tool_groups:
    billing: [billing.read, billing.refund]
    exfil: [web.post]
  data_flow:
    labels:
      db.read: [pii]
    blocks:
      pii: ["@exfil"]
policies:
  - role: admin
    permissions: ["*"]
  - role: support
    permissions:
      - billing.read
      - tool: billing.refund
        conditions:
          input:
            amount: {type: int, min: 1, max: 100}
            currency: {in: [EUR, USD]}
          output:
            card: {action: redact}
      - db.read
      - web.post
      - tool: users.delete
        allow: false
    sequence:
      - deny: [billing.read, web.post]
        reason: no billing data to the web
"""


@pytest.fixture
def policy(write_policy) -> Path:
    return write_policy(POLICY)  # type: ignore[no-any-return]


def test_tree_shows_roles_tools_conditions_sequences_and_flow(cli, policy: Path) -> None:
    result = cli("inspect", "--policy", policy)
    assert result.code == 0, result.err
    out = result.out
    for text in (
        "role admin",
        "* every tool",
        "role support",
        "billing.refund  line 17",
        "amount  type: int, min: 1, max: 100",
        'currency  in: ["EUR", "USD"]',
        "card  action: redact",
        "users.delete  DENY",
        "sequence deny [billing.read → web.post]",
        "no billing data to the web",
        "db.read adds labels pii",
        "label pii blocks @exfil",
        "@billing: billing.read, billing.refund",
    ):
        assert text in out, text


def test_filters_by_role_and_tool(cli, policy: Path) -> None:
    out = cli("inspect", "-p", policy, "--role", "support", "--tool", "web.post").out
    assert "role admin" not in out and "billing.refund" not in out
    assert "web.post" in out and "sequence deny [billing.read → web.post]" in out
    assert cli("inspect", "-p", policy, "--role", "suport").code == 2


def test_json_view_keeps_conditions_verbatim(cli, policy: Path) -> None:
    doc = json.loads(cli("inspect", "-p", policy, "--format", "json").out)
    support = next(r for r in doc["roles"] if r["role"] == "support")
    refund = next(t for t in support["tools"] if t["tool"] == "billing.refund")
    assert refund["conditions"]["input"]["amount"] == {"type": "int", "min": 1, "max": 100}
    assert refund["conditions"]["output"] == {"card": {"action": "redact"}}
    assert support["sequence"][0]["pattern"] == ["billing.read", "web.post"]
    assert doc["data_flow"]["blocks"] == {"pii": ["@exfil"]}


def test_conditions_of_any_valid_shape_render(cli, write_policy) -> None:
    path = write_policy(
        """\
policies:
  - role: r
    permissions:
      - tool: t
        conditions:
          input:
            q: {matches: "[a-z]+", not_in: [1, 2.5, true, null], required: true}
          output:
            max_bytes: 1000
            deny_if_patterns: ["secret"]
            require_fields_absent: [password]
            "items.*.ssn": {action: redact, matches: "\\\\d+"}
"""
    )
    result = cli("inspect", "-p", path)
    assert result.code == 0, result.err
    assert "q  matches: [a-z]+, not_in: [1, 2.5, true, null], required: true" in result.out
    assert "max_bytes  1000" in result.out and "items.*.ssn  action: redact" in result.out


def test_explain_allowed_names_the_grant(cli, policy: Path) -> None:
    result = cli(
        "inspect",
        "-p",
        policy,
        "--explain",
        "support",
        "billing.refund",
        "--arg",
        "amount=50",
        "--arg",
        "currency=EUR",
    )
    assert result.code == 0
    assert f"ALLOWED by the grant at {policy}:17:9" in result.out
    assert f"output rules at {policy}:" in result.out


def test_explain_input_violation_names_the_condition(cli, policy: Path) -> None:
    result = cli(
        "inspect",
        "-p",
        policy,
        "--explain",
        "support",
        "billing.refund",
        "-a",
        "amount=500",
        "-a",
        "currency=EUR",
        "-f",
        "json",
    )
    assert result.code == 1
    doc = json.loads(result.out)
    assert doc["allowed"] is False and doc["reason"] == "input_validation"
    assert doc["location"] == f"{policy}:20:41"  # the max: 100 operator
    assert doc["args"] == {"amount": 500, "currency": "EUR"}
    assert doc["grants"][0]["passed"] is False


@pytest.mark.parametrize(
    ("role", "tool", "reason"),
    [
        ("support", "users.delete", "explicit_deny"),
        ("support", "weather.lookup", "unknown_tool"),
        ("support", "web.post", "data_flow"),
    ],
)
def test_explain_denials_carry_reason_and_location(
    cli, policy: Path, role: str, tool: str, reason: str
) -> None:
    args = ["--history", "db.read"] if reason == "data_flow" else []
    result = cli("inspect", "-p", policy, "--explain", role, tool, *args, "-f", "json")
    doc = json.loads(result.out)
    assert result.code == 1 and doc["reason"] == reason and doc["location"]


def test_explain_sequence_with_history(cli, policy: Path) -> None:
    result = cli("inspect", "-p", policy, "--explain", "support", "web.post", "--history", "billing.read")
    assert result.code == 1
    assert "DENIED (sequence_violation)" in result.out and "after: billing.read" in result.out
    assert (
        cli("inspect", "-p", policy, "--explain", "admin", "web.post", "--history", "billing.read").code == 0
    )


def test_explain_expired_policy_denies(cli, write_policy) -> None:
    path = write_policy(POLICY.replace("  name: shop\n", '  name: shop\n  expires: "2001-01-01T00:00:00Z"\n'))
    result = cli("inspect", "-p", path, "--explain", "admin", "anything", "-f", "json")
    assert result.code == 1 and json.loads(result.out)["reason"] == "policy_expired"


def test_explain_usage_errors(cli, policy: Path) -> None:
    assert cli("inspect", "-p", policy, "--explain", "nobody", "x").code == 2
    assert cli("inspect", "-p", policy, "--explain", "support", "x", "--arg", "novalue").code == 2


def test_invalid_policy_fails_with_its_diagnostics(cli, write_policy) -> None:
    path = write_policy("policies:\n  - role: a\n    permissions: [x]\n    extra: 1\n")
    result = cli("inspect", "-p", path)
    assert result.code == 1 and "D2E002" in result.err and "role a" in result.out
    assert cli("inspect", "-p", write_policy("a: [", "bad.yaml")).code == 1


def test_explain_a_condition_on_a_missing_attribute_refuses_instead_of_crashing(cli, tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(
        "policies:\n  - role: payer\n    permissions:\n      - tool: pay\n"
        "        conditions:\n          input:\n            to: {in: {$attr: user.payees}}\n"
    )
    result = cli("inspect", "-p", path, "--explain", "payer", "pay", "-a", "to=x", "-f", "json")
    assert result.code == 1, result.out
    assert json.loads(result.out)["reason"] == "missing_attribute"
