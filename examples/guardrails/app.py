"""Guardrails: the docs' input and output tables, decided by d2 from ``policy.yaml``.

Run it with ``python examples/guardrails/app.py``. Each line shows a call, whether d2 allowed it, and
what the caller received (or why it was refused: parameter or field, operator, policy line).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import d2

POLICY = Path(__file__).with_name("policy.yaml")
RETURNS: dict[str, Any] = {}


@d2.d2_guard("reports.generate")
def generate(table: str, row_limit: int, format: str) -> str:
    return f"report of {row_limit} {table} rows as {format}"


@d2.d2_guard("database.read_users")
def read_users(limit: int, offset: int = 0) -> list[dict[str, Any]]:
    users = [
        {"id": 1, "name": "Alice", "email": "alice@company.com", "ssn": "123-45-6789"},
        {"id": 2, "name": "Bob", "email": "bob@company.com", "ssn": "987-65-4321"},
    ]
    return users[offset : offset + limit]


@d2.d2_guard("auth.create_user")
def create_user(username: str, email: str) -> str:
    return f"created {username}"


@d2.d2_guard("api.get_config")
def get_config() -> Any:
    return RETURNS["config"]


@d2.d2_guard("crm.lookup_customer")
def lookup_customer(customer_id: str) -> dict[str, Any]:
    return RETURNS["customer"]


@d2.d2_guard("crm.export")
def export() -> dict[str, Any]:
    return {"customers": [{"name": "Alice", "ssn": "1"}], "audit": {"by": {"name": "Ops", "ssn": "2"}}}


@d2.d2_guard("crm.summary")
def summary(customer_id: str) -> str:
    record = lookup_customer(customer_id)  # the inner guard sanitizes before this function sees it
    return f"summary sees fields {sorted(record)}"


def attempt(label: str, call: Callable[[], Any]) -> None:
    try:
        print(f"  ALLOW  {label:<48} -> {call()}")
    except d2.PermissionDeniedError as exc:
        where = f" [{Path(exc.location).name}]" if exc.location else ""
        print(f"  DENY   {label:<48} -> {exc.reason}: {exc.detail}{where}")


def call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """Attempt ``fn(*args, **kwargs)``, labelled the way it is written."""
    shown = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()]
    attempt(f"{fn.__name__}({', '.join(shown)})", lambda: fn(*args, **kwargs))


def customer(notes: str) -> dict[str, Any]:
    return {
        "status": "found",
        "name": "Alice Smith",
        "ssn": "123-45-6789",
        "salary": 150000,
        "notes": notes,
        "items": [f"item{i}" for i in range(1, 151)],
        "card": "4111111111111111",
    }


def main() -> None:
    d2.configure_rbac_sync(POLICY)
    with d2.set_user_context("ana", ["analyst"]):
        print("Input rules: reports.generate")
        call(generate, "analytics", 500, "weekly_summary")
        call(generate, "engineering", 500, "daily")
        call(generate, "analytics", 5000, "daily")
        call(generate, "analytics", 100, "Ad-Hoc")
        print("Input validation and output sanitization: database.read_users")
        call(read_users, limit=50)
        call(read_users, limit=500)
        call(read_users)
        call(read_users, limit="all")
    with d2.set_user_context("root", ["admin"]):
        print("String validation: auth.create_user")
        call(create_user, "john_doe", "john@example.com")
        call(create_user, "ab", "test@example.com")
        call(create_user, "admin", "test@example.com")
        call(create_user, "john", "not-an-email")
    with d2.set_user_context("svc", ["service"]):
        print("Output validation: api.get_config")
        for config in (
            {"version": "1.2.3", "max_retries": 5},
            {"version": "1.2.3", "max_retries": 0},
            {"version": "1.2.3", "max_retries": 50},
            {"max_retries": 5},
        ):
            RETURNS["config"] = config
            attempt(f"get_config() returns {config}", get_config)
    with d2.set_user_context("sue", ["support"]):
        print("Output sanitization: crm.lookup_customer")
        for notes in ("VIP customer with SECRET clearance", "VIP customer"):
            RETURNS["customer"] = customer(notes)
            attempt(f"lookup_customer() with notes {notes!r}", lambda: _brief(lookup_customer("c-1")))
        print("Any depth and nested guards")
        call(export)
        call(summary, "c-1")
    d2.shutdown_rbac()


def _brief(record: dict[str, Any]) -> dict[str, Any]:
    """Show the 150-item list by its length, to keep the line short."""
    return {**record, "items": f"<{len(record['items'])} items>"}


if __name__ == "__main__":
    main()
