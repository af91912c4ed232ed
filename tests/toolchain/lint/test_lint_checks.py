"""Lint-only checks: expiry, grants made pointless by '*', dead sequence rules, checks against the code."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from d2tools.lint import lint_file, lint_paths, scan_code

Marks = Callable[[Path], set[tuple[str, int, int]]]

POLICY = """\
metadata:
  expires: "2030-06-15T12:00:00Z"
policies:
  - role: viewer
    permissions: [billing.read]
"""
EXPIRES = datetime(2030, 6, 15, 12, tzinfo=timezone.utc)


def _codes(path: Path, **kw: object) -> list[tuple[str, int, int]]:
    return [(d.code, d.line, d.col) for d in lint_file(path, **kw).diagnostics]  # type: ignore[arg-type]


def test_expiry_within_a_week_warns(write_policy: Callable[[str], Path]) -> None:
    path = write_policy(POLICY)
    assert _codes(path, now=EXPIRES - timedelta(days=8)) == []
    assert _codes(path, now=EXPIRES - timedelta(days=6, hours=23)) == [("D2W701", 2, 12)]
    warning = lint_file(path, now=EXPIRES - timedelta(days=3)).diagnostics[0]
    assert "in 3 days" in warning.message and not warning.is_error


def test_expired_policy_is_an_error(write_policy: Callable[[str], Path]) -> None:
    path = write_policy(POLICY)
    assert _codes(path, now=EXPIRES) == [("D2E701", 2, 12)]
    assert lint_file(path, now=EXPIRES + timedelta(seconds=1)).diagnostics[0].is_error


def test_unreadable_file_is_a_diagnostic(tmp_path: Path) -> None:
    diags = lint_file(tmp_path / "absent.yaml").diagnostics
    assert [(d.code, d.line, d.col, d.is_error) for d in diags] == [("D2E700", 1, 1, True)]
    assert "absent.yaml" in diags[0].message


def test_oversized_file_is_a_diagnostic(
    write_policy: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_policy(POLICY)
    monkeypatch.setenv("D2_MAX_POLICY_BYTES", "10")
    diags = lint_file(path).diagnostics
    assert [d.code for d in diags] == ["D2E700"] and "limit" in diags[0].message


def test_shadowed_grant_needs_every_role_of_the_entry_to_hold_star(
    write_policy: Callable[[str], Path],
) -> None:
    path = write_policy(
        """\
policies:
  - role: admin
    permissions: ["*", weather.lookup]
  - roles: [admin, support]
    permissions: [billing.read]
  - role: admin
    permissions:
      - tool: users.delete
        allow: false
"""
    )
    assert _codes(path) == [("D2W702", 3, 24)]


def test_sequence_rule_that_can_never_fire(lint_fixtures: Path, marks: Marks) -> None:
    fixture = lint_fixtures / "codes" / "D2W703.yaml"
    assert set(_codes(fixture)) == marks(fixture)


def test_lint_only_check_does_not_repeat_a_compiler_warning(write_policy: Callable[[str], Path]) -> None:
    path = write_policy(
        """\
policies:
  - role: analyst
    permissions: [db.read, web.post]
    sequence:
      - deny: [db.read, web.psot]
"""
    )
    assert [c for c, _, _ in _codes(path)] == ["D2W202"]


@pytest.fixture
def billing(tmp_path: Path, lint_fixtures: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    target = tmp_path / "billing"
    shutil.copytree(lint_fixtures / "projects" / "billing", target)
    monkeypatch.chdir(target)
    return target


def test_code_checks_at_exact_positions(billing: Path, marks: Marks) -> None:
    index = scan_code([Path("app")])
    diags = lint_file(Path("policy.yaml"), code=index).diagnostics
    assert {(d.code, d.line, d.col) for d in diags} == marks(billing / "policy.yaml")
    unknown = next(d for d in diags if d.code == "D2E702")
    assert unknown.is_error and unknown.hint == "did you mean 'amount'?"
    assert "refund(account, amount, note) at app/billing.py:14" in unknown.message
    stale = next(d for d in diags if d.code == "D2E711")
    assert "legacy.export" in stale.message and "D2S003" in (stale.hint or "")


def test_var_keyword_parameters_accept_any_condition(billing: Path) -> None:
    index = scan_code([Path("app")])
    assert index.tools["billing.read"][0].has_var_keyword
    messages = [d.message for d in lint_file(Path("policy.yaml"), code=index).diagnostics]
    assert not any("anything" in m for m in messages)


def test_group_members_count_as_named_and_are_checked(billing: Path) -> None:
    Path("policy.yaml").write_text(
        """\
metadata:
  tool_groups:
    money: [billing.refund, billing.gone]
policies:
  - role: support
    permissions:
      - tool: "@money"
        conditions:
          input:
            account: {maxLength: 20}
            cents: {max: 5}
""",
        encoding="utf-8",
    )
    found = {
        (d.code, d.line, d.col)
        for d in lint_file(Path("policy.yaml"), code=scan_code([Path("app")])).diagnostics
    }
    assert found == {("D2E711", 3, 29), ("D2E702", 11, 13)}


def test_scan_findings_join_the_run_and_ignore_drops_codes(billing: Path) -> None:
    index = scan_code([Path("app")])
    run = lint_paths([Path("policy.yaml")], code=index)
    assert "D2S003" in {d.code for d in run.diagnostics}
    quiet = lint_paths([Path("policy.yaml")], code=index, ignore=["D2S003", "D2E711"])
    assert {d.code for d in quiet.diagnostics} == {"D2E702"}
