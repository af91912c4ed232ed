"""Attribute-bound operands are cached per user; concurrent users never see each other's operand."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest

import d2

POLICY = """
policies:
  - role: payer
    permissions:
      - tool: pay
        conditions:
          input:
            to: {in: {$attr: user.payees}}
"""


@pytest.fixture
def policy(write_policy) -> Path:  # type: ignore[no-untyped-def]
    path: Path = write_policy(POLICY)
    d2.configure_rbac_sync(path)
    return path


def test_two_users_racing_never_borrow_each_others_payees(policy: Path) -> None:
    @d2.d2_guard("pay", on_deny=None)
    def pay(to: str) -> str:
        return to

    leaks: list[tuple[str, str]] = []
    stop = threading.Event()

    def worker(user: str, own: str, other: str) -> None:
        with d2.run_as(user, ["payer"], attributes={"payees": [own]}):
            for _ in range(2000):
                if stop.is_set():
                    return
                # The other user's payee must always be refused for this user.
                if pay(other) is not None:
                    leaks.append((user, other))
                    stop.set()
                pay(own)

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [
            threading.Thread(target=worker, args=("alice", "acct-alice", "acct-bob")),
            threading.Thread(target=worker, args=("bob", "acct-bob", "acct-alice")),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(old)
    assert leaks == []
