"""Every row of the seeds' input-guardrail tables, through the real decorator and the seeds policy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import d2

SEEDS = Path(__file__).parents[2] / "fixtures" / "policies" / "guardrails" / "seeds.yaml"


@pytest.fixture(autouse=True)
def _policy() -> None:
    d2.configure_rbac_sync(SEEDS)


@d2.d2_guard("reports.generate")
def generate(table: str, row_limit: int, format: str) -> str:
    return f"{table}:{row_limit}:{format}"


@d2.d2_guard("database:read_users")
def read_users(limit: int, offset: int = 0) -> list[dict[str, Any]]:
    return [{"id": i} for i in range(offset, offset + min(limit, 3))]


@d2.d2_guard("auth:create_user")
def create_user(username: str, email: str) -> dict[str, str]:
    return {"username": username, "email": email}


@d2.d2_guard("orders:search")
def search_orders(limit: int) -> list[int]:
    return list(range(limit))


@d2.d2_guard("email:send")
def send_email(to: str, body: str = "") -> str:
    return f"sent to {to}"


def _denied(call: Any) -> d2.PermissionDeniedError:
    with pytest.raises(d2.PermissionDeniedError) as info:
        call()
    assert info.value.reason == "input_validation"
    return info.value


# 002 "Input rules": reports.generate


def test_generate_allowed_row() -> None:
    with d2.set_user_context("ana", ["analyst"]):
        assert (
            generate(table="analytics", row_limit=500, format="weekly_summary")
            == "analytics:500:weekly_summary"
        )


@pytest.mark.parametrize(
    ("kwargs", "target", "operator"),
    [
        ({"table": "engineering", "row_limit": 500, "format": "daily"}, "table", "in"),
        ({"table": "analytics", "row_limit": 5000, "format": "daily"}, "row_limit", "max"),
        ({"table": "analytics", "row_limit": 100, "format": "Ad-Hoc"}, "format", "matches"),
    ],
    ids=["table not in list", "row_limit > 1000", "format has uppercase"],
)
def test_generate_blocked_rows(kwargs: dict[str, Any], target: str, operator: str) -> None:
    with d2.set_user_context("ana", ["analyst"]):
        exc = _denied(lambda: generate(**kwargs))
    assert f"parameter '{target}' failed '{operator}'" in str(exc)
    assert str(SEEDS) in (exc.location or "")


# 003 "Input validation": read_users(limit, offset=0)


def test_read_users_within_range() -> None:
    with d2.set_user_context("ana", ["analyst"]):
        assert read_users(limit=50) == [{"id": 0}, {"id": 1}, {"id": 2}]


def test_read_users_exceeds_maximum() -> None:
    with d2.set_user_context("ana", ["analyst"]):
        exc = _denied(lambda: read_users(limit=500))
    assert "'max'" in str(exc) and "100" in str(exc)


def test_read_users_required_limit_missing() -> None:
    with d2.set_user_context("ana", ["analyst"]):
        exc = _denied(lambda: read_users())  # type: ignore[call-arg]
    assert "limit" in str(exc)


def test_read_users_wrong_type() -> None:
    with d2.set_user_context("ana", ["analyst"]):
        exc = _denied(lambda: read_users(limit="all"))  # type: ignore[arg-type]
    assert "parameter 'limit' failed 'type'" in str(exc)


def test_read_users_default_offset_is_validated_too() -> None:
    with d2.set_user_context("ana", ["analyst"]):
        assert read_users(10, 9_999) == [{"id": 9_999}, {"id": 10_000}, {"id": 10_001}]
        exc = _denied(lambda: read_users(10, 10_001))
    assert "parameter 'offset' failed 'max'" in str(exc)


# 003 "String validation": create_user(username, email)


def test_create_user_valid_format() -> None:
    with d2.set_user_context("root", ["admin"]):
        assert create_user("john_doe", "john@example.com")["username"] == "john_doe"


@pytest.mark.parametrize(
    ("args", "target", "operator"),
    [
        (("ab", "test@example.com"), "username", "minLength"),
        (("admin", "test@example.com"), "username", "not_matches"),
        (("john", "not-an-email"), "email", "matches"),
    ],
    ids=["username too short", "reserved name", "invalid email"],
)
def test_create_user_blocked_rows(args: tuple[str, str], target: str, operator: str) -> None:
    with d2.set_user_context("root", ["admin"]):
        exc = _denied(lambda: create_user(*args))
    assert (exc.detail or "").startswith(f"parameter '{target}' failed '{operator}'")


# 003 "Customer service" use case


def test_orders_search_limit() -> None:
    with d2.set_user_context("cs", ["customer_service_agent"]):
        assert search_orders(50) == list(range(50))
        _denied(lambda: search_orders(51))


def test_email_only_to_customers() -> None:
    with d2.set_user_context("cs", ["customer_service_agent"]):
        assert send_email("bob@customer.com") == "sent to bob@customer.com"
        _denied(lambda: send_email("eve@evil.example"))
        _denied(lambda: send_email("bob@customer.com.evil.example"))
