"""SVG snapshots of every view (layout only; behaviour is in test_views.py).

Deterministic by construction: a fixed terminal size, paths relative to the repository, fixed
decision timestamps, fixture bundles signed at a fixed time, no clock in the header. Update with
``pytest tests/toolchain/tui/test_snapshots.py --snapshot-update`` and review the SVGs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .conftest import SIZE, record

REPO = Path(__file__).resolve().parents[3]
REL = Path("tests/fixtures/tui")


@pytest.fixture(autouse=True)
def _repo_cwd(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    monkeypatch.delenv("NO_COLOR", raising=False)


def _app(make_app: Callable[..., Any], **options: Any) -> Any:
    options.setdefault("path", REL / "policy.yaml")
    return make_app(**options)


def test_policy_view(snap_compare: Any, make_app: Callable[..., Any]) -> None:
    app = _app(make_app, coverage=REL / "coverage.json")
    assert snap_compare(app, press=["down", "down", "enter", "down", "down", "down"], terminal_size=SIZE)


def test_policy_view_filtered(snap_compare: Any, make_app: Callable[..., Any]) -> None:
    async def run_before(pilot: Any) -> None:
        pilot.app.query_one("#policy-filter").value = "egress"
        await pilot.pause(0.3)

    assert snap_compare(_app(make_app), terminal_size=SIZE, run_before=run_before)


def test_policy_restrictions(snap_compare: Any, make_app: Callable[..., Any]) -> None:
    """A derived d2.restrict() example selected: what it leaves, its YAML and Python text."""

    async def run_before(pilot: Any) -> None:
        tree = pilot.app.query_one("#policy-tree")
        section = next(n for n in tree.root.children if str(n.label).startswith("restrictions"))
        tree.move_cursor(section)
        await pilot.press("enter")
        tree.move_cursor(section.children[3])  # analyst: narrow a request
        await pilot.press("enter", "down", "down", "down")
        await pilot.pause()

    assert snap_compare(_app(make_app), terminal_size=SIZE, run_before=run_before)


def test_explain_view(snap_compare: Any, make_app: Callable[..., Any]) -> None:
    async def run_before(pilot: Any) -> None:
        await pilot.press("2")
        pilot.app.query_one("#explain-pane").fill(
            user="bo",
            roles="analyst",
            tool="database.read_users",
            args='{"limit": 5}',
            returned='[{"name": "Ada", "email": "ada@example.com", "ssn": "000-11-2222"}]',
        )
        await pilot.press("ctrl+r")
        await pilot.wait_for_scheduled_animations()

    assert snap_compare(_app(make_app), terminal_size=SIZE, run_before=run_before)


def test_live_view(snap_compare: Any, make_app: Callable[..., Any]) -> None:
    app = _app(make_app)
    rows = []
    for i in range(40):
        refused = i % 3 == 0
        rows.append(
            record(
                i,
                tool=("users.delete", "billing.read", "http.post", "billing.refund")[i % 4],
                allowed=not refused,
                user=("ana", "bo", "sam")[i % 3],
                reason="explicit_deny" if refused else None,
                location=f"{REL / 'policy.yaml'}:22:9" if refused else None,
                latency_us=2.0 + i % 5,
            )
        )
    app.session.feed.ingest(rows)

    async def run_before(pilot: Any) -> None:
        await pilot.press("3")
        pilot.app.query_one("#live-pane").refresh_feed()
        await pilot.pause()
        await pilot.wait_for_scheduled_animations()
        await pilot.pause()  # the list scrolls to its tail once laid out

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_bundles_view(snap_compare: Any, make_app: Callable[..., Any]) -> None:
    app = make_app(state=True, state_path=REL / "bundles-state.json")
    assert snap_compare(app, press=["4", "down", "d"], terminal_size=SIZE)


def test_help_screen(snap_compare: Any, make_app: Callable[..., Any]) -> None:
    assert snap_compare(_app(make_app), press=["question_mark"], terminal_size=SIZE)
