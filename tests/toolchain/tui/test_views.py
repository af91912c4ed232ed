"""Pilot tests: drive every view with keys, as a user without a mouse would."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable, Input, Static, Tree

from d2tools.tui.help import HelpScreen
from d2tools.tui.live.decision_list import DecisionList
from d2tools.tui.live.view import LivePane
from d2tools.tui.policy.view import PolicyPane

from .conftest import FIXTURES, SIZE, record


def _text(app: Any, selector: str) -> str:
    return str(app.query_one(selector, Static).render())


async def _type(pilot: Any, text: str) -> None:
    for ch in text:
        await pilot.press("full_stop" if ch == "." else "space" if ch == " " else ch)


async def test_policy_filter_as_you_type_and_source(make_app: Callable[..., Any]) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        assert app.focused is app.query_one("#policy-tree")
        await pilot.press("slash")
        assert app.focused is app.query_one("#policy-filter")
        await _type(pilot, "refund")
        await pilot.pause(0.3)  # the filter waits for a short pause in typing
        tree = app.query_one("#policy-tree", Tree)
        roles = tree.root.children[0]
        assert [str(n.label) for n in roles.children] == ["support  (5 grants)"]
        assert [str(n.label) for n in roles.children[0].children] == ["billing.refund  ← @billing"]
        await pilot.press("enter")  # leaves the filter for the tree
        assert app.focused is tree
        await pilot.press("down", "down")
        assert "via group @billing defined at line 5" in _text(app, "#policy-detail")
        assert "▶ 19 │" in _text(app, "#policy-source")


async def test_policy_sections_and_inline_diagnostics(make_app: Callable[..., Any]) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        tree = app.query_one("#policy-tree", Tree)
        names = [str(n.label).split()[0] for n in tree.root.children]
        assert names == ["roles", "tools", "groups", "sequences", "data", "restrictions", "diagnostics"]
        diagnostics = tree.root.children[-1]
        tree.move_cursor(diagnostics.children[0])
        await pilot.pause()
        source = _text(app, "#policy-source")
        assert "▶ 21 │" in source and "^ D2W004" in source


async def test_jump_opens_the_entry_at_a_line(make_app: Callable[..., Any]) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(PolicyPane)
        pane.jump(36)
        await pilot.pause()
        tree = app.query_one("#policy-tree", Tree)
        assert tree.cursor_node is not None and tree.cursor_node.data.kind == "sequence"
        pane.jump(30)  # a condition's line: the grant that holds it
        await pilot.pause()
        assert tree.cursor_node.data.label.startswith("database.read_users")
        assert "▶ 30 │" in _text(app, "#policy-source")


async def test_explain_decides_and_jumps_to_the_rule(make_app: Callable[..., Any]) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        assert app.focused is app.query_one("#explain-user")
        await _type(pilot, "sam")
        await pilot.press("tab")
        await _type(pilot, "support")
        await pilot.press("tab", "tab")
        await _type(pilot, "users.delete")
        await pilot.press("enter")
        verdict = _text(app, "#explain-verdict")
        assert "REFUSED  reason explicit_deny" in verdict
        assert "policy.yaml:22:9" in verdict
        await pilot.press("ctrl+g")
        assert app.query_one("#views").active == "policy"
        assert app.query_one(PolicyPane).current_line == 22


async def test_explain_shows_the_sanitized_result_side_by_side(make_app: Callable[..., Any]) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        pane = app.query_one("#explain-pane")
        pane.fill(
            user="bo",
            roles="analyst",
            tool="database.read_users",
            args='{"limit": 5}',
            returned='[{"name": "Ada", "email": "a@x.test", "ssn": "1"}]',
        )
        await pilot.press("ctrl+r")
        assert "ALLOWED" in _text(app, "#explain-verdict")
        assert '"ssn": "1"' in _text(app, "#explain-raw")
        clean = _text(app, "#explain-clean")
        assert "[REDACTED]" in clean and "ssn" not in clean


async def test_explain_form_errors_name_the_field(make_app: Callable[..., Any]) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        app.query_one("#explain-pane").fill(tool="billing.read", args="{oops")
        await pilot.press("ctrl+r")
        assert "args: not JSON" in _text(app, "#explain-verdict")


async def test_live_filter_pause_jump_and_explain(make_app: Callable[..., Any]) -> None:
    app = make_app()
    feed = app.session.feed
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        pane = app.query_one(LivePane)
        feed.ingest(
            [
                record(0),
                record(
                    1,
                    tool="users.delete",
                    allowed=False,
                    reason="explicit_deny",
                    location=f"{FIXTURES / 'policy.yaml'}:22:9",
                ),
                record(2, user="bo", tool="http.post", roles=("analyst",)),
            ]
        )
        pane.refresh_feed()
        table = app.query_one("#live-table", DecisionList)
        assert table.row_count == 3
        await pilot.press("slash")
        await _type(pilot, "refused")
        await pilot.pause()
        assert table.row_count == 1
        await pilot.press("enter")  # back to the table
        assert app.focused is table
        await pilot.press("p")
        feed.ingest([record(3, allowed=False)])
        pane.refresh_feed()
        assert table.row_count == 1 and "PAUSED" in _text(app, "#live-stats")
        assert "4 decisions" in _text(app, "#live-stats")  # counters keep counting while paused
        await pilot.press("p")
        pane.refresh_feed()
        assert table.row_count == 2
        await pilot.press("home", "enter")
        assert app.query_one("#views").active == "policy"
        assert app.query_one(PolicyPane).current_line == 22


async def test_live_allowed_decision_jumps_to_its_grant_and_explains(make_app: Callable[..., Any]) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        app.session.feed.ingest([record(0, user="bo", tool="http.post", roles=("analyst",))])
        app.query_one(LivePane).refresh_feed()
        app.query_one("#live-table").focus()
        await pilot.press("ctrl+g")
        assert app.query_one(PolicyPane).current_line == 34  # the @egress grant
        await pilot.press("3", "e")
        assert app.query_one("#views").active == "explain"
        assert app.query_one("#explain-tool", Input).value == "http.post"
        assert app.query_one("#explain-roles", Input).value == "analyst"


async def test_live_follows_a_decision_log(make_app: Callable[..., Any], tmp_path: Path) -> None:
    log = tmp_path / "decisions.jsonl"
    log.write_text("")
    app = make_app(logs=(log,), start_sources=True)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        await pilot.pause()
        with log.open("a") as fh:
            for i in range(5):
                fh.write(
                    json.dumps(
                        {
                            "tool_id": "billing.read",
                            "allowed": i % 2 == 0,
                            "reason": None if i % 2 == 0 else "rbac",
                            "roles": ["support"],
                            "user_id": "ana",
                            "timestamp": 1.0 + i,
                        }
                    )
                    + "\n"
                )
        for _ in range(50):
            await pilot.pause(0.1)
            if app.query_one("#live-table", DecisionList).row_count == 5:
                break
        assert app.query_one("#live-table", DecisionList).row_count == 5
        assert "5 decisions" in _text(app, "#live-stats") and "2 refused" in _text(app, "#live-stats")


async def test_bundles_view_diff_and_open(make_app: Callable[..., Any]) -> None:
    app = make_app(state=True, state_path=FIXTURES / "bundles-state.json")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4")
        assert app.query_one("#bundle-list", DataTable).row_count == 2
        meta = _text(app, "#bundle-meta")
        assert "✓ verified" in meta and "version 2" in meta
        await pilot.press("down")
        assert "version 1" in _text(app, "#bundle-meta")
        await pilot.press("d")
        assert "+ sequence deny [database.read_users -> http.post]" in _text(app, "#bundle-diff")
        await pilot.press("o")
        assert app.query_one("#views").active == "policy"
        assert app.session.policy.file == "bundle:shop@v1"
        assert "bundle:shop@v1" in _text(app, "#banner")


async def test_unverified_bundle_is_flagged(make_app: Callable[..., Any]) -> None:
    app = make_app(path=FIXTURES / "bundle-v2.jws", jwks=FIXTURES / "wrong-jwks.json")
    async with app.run_test(size=SIZE):
        assert "UNVERIFIED bundle" in _text(app, "#banner")


async def test_coverage_overlay_toggles(make_app: Callable[..., Any]) -> None:
    app = make_app(coverage=FIXTURES / "coverage.json")
    async with app.run_test(size=SIZE) as pilot:
        assert "coverage 27%" in _text(app, "#banner")
        tree = app.query_one("#policy-tree", Tree)
        support = tree.root.children[0].children[1]
        support.expand()
        await pilot.pause()
        labels = [str(n.label) for n in support.children]
        assert "users.delete  DENY  ○ uncovered" in labels and "billing.read  ← @billing" in labels
        await pilot.press("c")
        assert not app.query_one(PolicyPane).show_coverage


async def test_command_palette_goes_to_a_tool(make_app: Callable[..., Any]) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+p")
        await _type(pilot, "go to tool http.post")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await pilot.pause(0.3)
        assert app.query_one("#policy-filter", Input).value == "http.post"


async def test_help_lists_every_key(make_app: Callable[..., Any]) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        shown = str(app.screen.query_one("#help-keys", Static).render())
        for view, key, does in (
            ("live", "p", "Pause"),
            ("bundles", "d", "Diff"),
            ("policy", "c", "Coverage"),
            ("everywhere", "ctrl+g", "Jump to rule"),
            ("explain", "ctrl+r", "Decide"),
        ):
            assert f"{view:<12}{key:<10}{does}" in shown
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_no_color_is_respected(make_app: Callable[..., Any], monkeypatch: pytest.MonkeyPatch) -> None:
    import re

    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app(coverage=FIXTURES / "coverage.json")
    async with app.run_test(size=SIZE) as pilot:
        assert app.no_color
        await pilot.press("3")
        app.session.feed.ingest([record(0), record(1, allowed=False)])
        app.query_one(LivePane).refresh_feed()
        await pilot.pause()
        svg = app.export_screenshot()
    colours = set(re.findall(r"fill: #([0-9a-f]{6})", svg)) - {"c5c8c6"}  # the SVG exporter's own default
    assert colours and all(c[0:2] == c[2:4] == c[4:6] for c in colours), "a colour survived NO_COLOR"
    assert "REFUSED" in svg  # meaning never rides on colour alone


async def test_demo_runs_an_agent_and_signs_bundles(make_app: Callable[..., Any]) -> None:
    app = make_app(demo=True, start_sources=True)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        for _ in range(100):
            await pilot.pause(0.1)
            snap = app.session.feed.snapshot()
            if snap.total > 20 and 0 < snap.refused < snap.total:
                break
        assert 0 < snap.refused < snap.total
        assert app.query_one("#live-table", DecisionList).row_count > 0
        assert app.query_one("#bundle-list", DataTable).row_count == 2
    await asyncio.sleep(0)
