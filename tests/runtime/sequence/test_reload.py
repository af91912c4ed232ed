"""Progress survives what bypasses one program: a reload mid-request, a second policy instance, restrictions."""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

import pytest

import d2

if TYPE_CHECKING:
    from pathlib import Path

    from conftest import Seq

OPEN = """
policies:
  - role: analyst
    permissions: [db.read, web.post, other.step]
"""

GUARDED = """
policies:
  - role: analyst
    permissions: [db.read, web.post, other.step]
    sequence:
      - deny: [db.read, web.post]
"""


def test_reload_mid_request_rebuilds_progress_from_the_history(seq: Seq, write_policy: Path) -> None:
    path = seq.load(OPEN)
    manager = d2.get_policy_manager()
    with d2.set_user_context("u", ["analyst"]):
        assert seq.call("db.read") and seq.call("other.step")
        path.write_text(textwrap.dedent(GUARDED), encoding="utf-8")
        assert manager.reload()
        assert not seq.call("web.post")


def test_reload_to_a_new_program_forgets_nothing(seq: Seq) -> None:
    path = seq.load(GUARDED)
    manager = d2.get_policy_manager()
    with d2.set_user_context("u", ["analyst"]):
        assert seq.call("db.read")
        path.write_text(textwrap.dedent(GUARDED) + "\n# touched\n", encoding="utf-8")
        assert manager.reload()
        assert not seq.call("web.post")


def test_call_guarded_by_another_policy_instance_counts(seq: Seq, write_policy: Path) -> None:
    seq.load(GUARDED)
    other_path = write_policy(textwrap.dedent(OPEN), name="other.yaml")
    d2.configure_rbac_sync(other_path, instance_name="other")
    read_elsewhere = d2.d2_guard("db.read", instance_name="other")(lambda: "rows")
    with d2.set_user_context("u", ["analyst"]):
        assert seq.call("other.step")  # this program has seen the request...
        assert read_elsewhere() == "rows"  # ...but not this call, which only the history holds
        assert not seq.call("web.post")


def test_restriction_sequence_rules_use_the_same_matcher(seq: Seq) -> None:
    seq.load(OPEN)
    with d2.set_user_context("u", ["analyst"]):
        assert seq.call("db.read")  # before the restriction: not part of its own progress
        with d2.restrict(sequence=[{"deny": ["other.step", "web.post"]}]):
            assert seq.call("web.post")
            assert seq.call("other.step")
            assert not seq.call("web.post")
        assert seq.last_error.reason == "restriction"
        assert seq.call("web.post")


def test_restriction_in_deny_mode(seq: Seq) -> None:
    seq.load(OPEN)
    with d2.set_user_context("u", ["analyst"]):
        with d2.restrict(sequence={"mode": "deny", "rules": [{"allow": ["db.read", "other.step"]}]}):
            assert not seq.call("other.step")
            assert seq.call("db.read") and seq.call("other.step")
            assert not seq.call("web.post")


def test_restriction_sequence_errors_name_the_fragment_path(seq: Seq) -> None:
    seq.load(OPEN)
    with (
        d2.set_user_context("u", ["analyst"]),
        pytest.raises(d2.ConfigurationError, match="undefined tool group"),
    ):
        d2.restrict(sequence=[{"deny": ["@nope", "web.post"]}])
