"""The quickstart: three users call four guarded tools; d2 allows or refuses each call.

Run it with ``python examples/quickstart/app.py`` (after ``pip install -e .``).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import d2

POLICY = Path(__file__).with_name("policy.yaml")


@d2.d2_guard("billing.read")
def read_billing(account: str) -> dict[str, object]:
    return {"account": account, "balance": 1200, "currency": "EUR"}


@d2.d2_guard("billing.refund")
async def refund(account: str, amount: int) -> str:
    await asyncio.sleep(0)
    return f"refunded {amount} to {account}"


@d2.d2_guard("users.delete")
def delete_user(user_id: str) -> str:
    return f"deleted {user_id}"


@d2.d2_guard("weather.lookup")
def weather(city: str) -> str:
    return f"sunny in {city}"


def attempt(label: str, call: object) -> None:
    try:
        result = asyncio.run(call) if asyncio.iscoroutine(call) else call()  # type: ignore[operator]
        print(f"  ALLOW  {label:<28} -> {result}")
    except d2.PermissionDeniedError as exc:
        if asyncio.iscoroutine(call):
            call.close()
        print(f"  DENY   {label:<28} -> {exc.reason}: {exc.detail or exc}")


def main() -> None:
    d2.configure_rbac_sync(POLICY)
    for user, roles in (("alice", ["viewer"]), ("sam", ["support"]), ("root", ["admin"])):
        print(f"{user} {roles}")
        with d2.set_user_context(user, roles):
            attempt("read_billing('acme')", lambda: read_billing("acme"))
            attempt("refund('acme', 50)", refund("acme", 50))
            attempt("delete_user('u-7')", lambda: delete_user("u-7"))
            attempt("weather('Oslo')", lambda: weather("Oslo"))
    print("no user")
    attempt("weather('Oslo')", lambda: weather("Oslo"))
    d2.shutdown_rbac()


if __name__ == "__main__":
    main()
