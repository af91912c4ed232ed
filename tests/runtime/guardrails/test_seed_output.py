"""Every row of the seeds' output-guardrail tables and examples, through the real decorator."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

import d2

SEEDS = Path(__file__).parents[2] / "fixtures" / "policies" / "guardrails" / "seeds.yaml"
RESULT: dict[str, Any] = {}


@pytest.fixture(autouse=True)
def _policy() -> None:
    d2.configure_rbac_sync(SEEDS)
    RESULT.clear()


def _returns(tool: str) -> Any:
    """A guarded tool that returns whatever the test put in RESULT['value']."""
    return d2.d2_guard(tool)(lambda **_: RESULT["value"])


def _call(tool: str, role: str, value: Any) -> Any:
    RESULT["value"] = value
    with d2.set_user_context("u", [role]):
        return _returns(tool)()


def _refused(tool: str, role: str, value: Any) -> d2.PermissionDeniedError:
    with pytest.raises(d2.PermissionDeniedError) as info:
        _call(tool, role, value)
    return info.value


def _customer(notes: str) -> dict[str, Any]:
    return {
        "status": "found",
        "name": "Alice Smith",
        "ssn": "123-45-6789",
        "salary": 150000,
        "notes": notes,
        "items": [f"item{i}" for i in range(1, 151)],
    }


# 002 "Output sanitization": crm.lookup_customer


def test_crm_blocked_when_notes_mention_secret() -> None:
    exc = _refused("crm.lookup_customer", "support", _customer("VIP customer with SECRET clearance"))
    assert exc.reason == "output_sanitization"
    assert "field 'notes'" in str(exc) and "SECRET clearance" not in str(exc)


def test_crm_sanitized_when_notes_are_clean() -> None:
    value = _customer("VIP customer")
    out = _call("crm.lookup_customer", "support", value)
    assert out["status"] == "found"
    assert out["name"] == "Alice Smith"
    assert "ssn" not in out
    assert out["salary"] == "[REDACTED]"
    assert out["items"] == [f"item{i}" for i in range(1, 101)]
    assert value == _customer("VIP customer"), "the tool's own object must not change"


def test_crm_salary_under_limit_is_kept() -> None:
    out = _call("crm.lookup_customer", "support", {**_customer("ok"), "salary": 90000})
    assert out["salary"] == 90000


def test_crm_status_validation_and_globals() -> None:
    assert _refused("crm.lookup_customer", "support", {**_customer("ok"), "status": "gone"}).reason == (
        "output_validation"
    )
    missing = {k: v for k, v in _customer("ok").items() if k != "status"}
    assert _refused("crm.lookup_customer", "support", missing).reason == "output_validation"
    flagged = {**_customer("ok"), "meta": {"internal_flag": True}}
    assert "internal_flag" in str(_refused("crm.lookup_customer", "support", flagged))
    huge = {**_customer("ok"), "name": "x" * 70000}
    assert "max_bytes" in str(_refused("crm.lookup_customer", "support", huge))


# 002 "Output validation": analytics.get_report


def test_report_validation() -> None:
    good = {"status": "success", "row_count": 10, "format": "csv"}
    assert _call("analytics.get_report", "analyst", good) == good
    for bad in (
        {"status": "done", "row_count": 10, "format": "csv"},
        {"status": "success", "row_count": 10001, "format": "csv"},
        {"status": "success", "row_count": 1, "format": "pdf"},
        {"row_count": 1, "format": "csv"},
    ):
        assert _refused("analytics.get_report", "analyst", bad).reason == "output_validation"


# 003 "Output sanitization" table: read_users with filter + redact


def test_read_users_table() -> None:
    rows = [
        {"id": 1, "name": "Alice", "email": "alice@company.com", "ssn": "123-45-6789"},
        {"id": 2, "name": "Bob", "email": "bob@company.com", "ssn": "987-65-4321"},
    ]
    before = copy.deepcopy(rows)
    out = _call("database:read_users", "pii_analyst", rows)
    assert out == [
        {"id": 1, "name": "Alice", "email": "[REDACTED]"},
        {"id": 2, "name": "Bob", "email": "[REDACTED]"},
    ]
    assert rows == before


def test_partial_redaction_and_truncate() -> None:
    out = _call(
        "payments:card",
        "pii_analyst",
        {"card_number": "4111111111111111", "api_key": "sk_live_0123456789abcdefghijklmnop"},
    )
    assert out == {"card_number": "[REDACTED]1111", "api_key": "sk_live_0123456789ab"}


# 003 "Output validation" table: api:get_config


@pytest.mark.parametrize(
    ("value", "allowed", "operator"),
    [
        ({"version": "1.2.3", "max_retries": 5}, True, None),
        ({"version": "1.2.3", "max_retries": 0}, False, "min"),
        ({"version": "1.2.3", "max_retries": 50}, False, "max"),
        ({"max_retries": 5}, False, "required"),
    ],
    ids=["all met", "below minimum", "exceeds maximum", "version missing"],
)
def test_get_config_table(value: dict[str, Any], allowed: bool, operator: str | None) -> None:
    if allowed:
        assert _call("api:get_config", "service", value) == value
        return
    exc = _refused("api:get_config", "service", value)
    assert exc.reason == "output_validation"
    assert f"'{operator}'" in str(exc) or (operator == "required" and "required" in str(exc))


# 002 "Field path conventions": examples 1-4


def test_path_example_simple_fields() -> None:
    assert _call("paths.simple", "paths", {"user_id": 42, "status": "active"})["user_id"] == 42
    assert _refused("paths.simple", "paths", {"user_id": 0, "status": "active"}).reason == "output_validation"


def test_path_example_nested_fields() -> None:
    value = {"user": {"email": "alice@example.com", "age": 30}}
    assert _call("paths.nested", "paths", value) == value
    exc = _refused("paths.nested", "paths", {"user": {"email": "alice@example.com", "age": 12}})
    assert "field 'user.age'" in str(exc)


def test_path_example_records_in_every_item() -> None:
    value = {
        "records": [
            {"name": "Alice", "ssn": "123-45-6789"},
            {"name": "Bob", "ssn": "987-65-4321"},
            {"name": "Carol", "ssn": "111-22-3333"},
        ]
    }
    assert _call("paths.records", "paths", value) == {
        "records": [{"name": "Alice"}, {"name": "Bob"}, {"name": "Carol"}]
    }


def test_path_example_deeply_nested() -> None:
    value = {"data": {"profile": {"settings": {"theme": "dark", "notifications": True}}}}
    assert _call("paths.deep", "paths", value) == value
    value["data"]["profile"]["settings"]["theme"] = "neon"
    exc = _refused("paths.deep", "paths", value)
    assert "data.profile.settings.theme" in str(exc)


# 002 "Multi-role policies" and 003 "Customer service"


@pytest.mark.parametrize("role", ["analyst", "senior_analyst", "lead_analyst"])
def test_multi_role_shared_sanitization(role: str) -> None:
    out = _call("database.read_users", role, [{"name": "A", "ssn": "1", "salary": 3}])
    assert out == [{"name": "A"}]


def test_order_details_payment_filtered() -> None:
    out = _call("orders:get_details", "customer_service_agent", {"id": 7, "payment": {"card": "4111"}})
    assert out == {"id": 7}
