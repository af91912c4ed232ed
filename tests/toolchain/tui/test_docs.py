"""docs/tui.md stays true: its code runs, its key table matches the bindings, its screenshots exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import d2
from d2tools.tui.app import D2Tui
from d2tools.tui.bundles.view import BundlesPane
from d2tools.tui.explain.view import ExplainPane
from d2tools.tui.live.view import LivePane
from d2tools.tui.policy.view import PolicyPane

from .conftest import FIXTURES

ROOT = Path(__file__).resolve().parents[3]
DOC = ROOT / "docs" / "tui.md"


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)


def test_log_sink_example_writes_what_the_live_view_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, write_policy
) -> None:  # type: ignore[no-untyped-def]
    from d2tools.tui.live.feed import DecisionFeed
    from d2tools.tui.live.follow import LogFollower

    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    exec(compile(_blocks("python")[0], str(DOC), "exec"), namespace)
    try:
        d2.configure_rbac_sync(write_policy("policies:\n  - role: r\n    permissions: [doc.tool]\n"))
        tool = d2.d2_guard("doc.tool", on_deny=None)(lambda: "ok")
        with d2.set_user_context("ana", ["r"]):
            tool()
        with d2.set_user_context("bo", ["x"]):
            tool()
        assert d2.flush_events()
    finally:
        d2.remove_decision_sink(namespace["log_decision"])  # type: ignore[arg-type]
    feed = DecisionFeed()
    follower = LogFollower(tmp_path / "decisions.jsonl", feed)
    assert follower.poll(first=True) == 2
    follower.stop()
    assert [(r.user_id, r.allowed, r.reason) for r in feed.rows] == [
        ("ana", True, None),
        ("bo", False, "rbac"),
    ]


def test_stream_example_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    exec(compile(_blocks("python")[1], str(DOC), "exec"), {})
    assert capsys.readouterr().out.strip() == "unix:./app-d2.sock"
    assert not (tmp_path / "app-d2.sock").exists()


def test_key_table_lists_every_binding() -> None:
    table = {
        (view, key)
        for view, keys in re.findall(
            r"^\| (\w+) \| ((?:`[^`]+` ?)+) \|", DOC.read_text(encoding="utf-8"), flags=re.M
        )
        for key in re.findall(r"`([^`]+)`", keys)
    }
    shown = {"question_mark": "?", "slash": "/"}
    for view, bindings in (
        ("everywhere", D2Tui.BINDINGS),
        ("policy", PolicyPane.BINDINGS),
        ("explain", ExplainPane.BINDINGS),
        ("live", LivePane.BINDINGS),
        ("bundles", BundlesPane.BINDINGS),
    ):
        for binding in bindings:
            if getattr(binding, "show", True) and binding.description:  # type: ignore[union-attr]
                key = shown.get(binding.key, binding.key)  # type: ignore[union-attr]
                assert (view, key) in table, f"docs/tui.md does not list {view} key {key}"


def test_screenshots_exist_and_come_from_textual() -> None:
    images = re.findall(r"!\[[^\]]*\]\((tui/[^)]+\.svg)\)", DOC.read_text(encoding="utf-8"))
    assert len(images) == 6
    for image in images:
        svg = (ROOT / "docs" / image).read_text(encoding="utf-8")
        assert svg.startswith('<svg class="rich-terminal"') and "Generated with Rich" in svg
        assert "d2&#160;tui" in svg  # the app's header, not a placeholder


def test_readme_toolchain_table_lists_tui() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert re.search(r"^\| `d2 tui.*\| \[docs/tui.md\]\(docs/tui.md\) \|$", readme, flags=re.M)


def test_fixture_paths_used_by_the_docs_exist() -> None:
    for name in ("policy.yaml", "coverage.json", "bundles-state.json"):
        assert (FIXTURES / name).exists()
