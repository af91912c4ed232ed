"""Export the screenshots of docs/tui.md with Textual (run from the repository root).

Usage: ``python docs/tui/screenshots.py``. Each SVG is the real app, built by the same factory as
``d2 tui``, on the test fixtures (tests/fixtures/tui), at 130x40, with fixed decision timestamps.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from textual._doc import take_svg_screenshot

from d2tools.tui import TuiOptions, make_tui
from d2tools.tui.live.feed import DecisionRecord

OUT = Path("docs/tui")
FIX = Path("tests/fixtures/tui")
NOW = datetime(2026, 6, 1, tzinfo=timezone.utc)
SIZE = (130, 40)


def _records() -> list[DecisionRecord]:
    tools = ("billing.read", "users.delete", "http.post", "billing.refund", "database.read_users")
    out = []
    for i in range(300):
        tool = tools[i % 5]
        refused = tool == "users.delete" or (tool == "http.post" and i % 3 == 0)
        reason = ("explicit_deny" if tool == "users.delete" else "sequence_violation") if refused else None
        where = {"users.delete": ":22:9", "http.post": ":36:9"}.get(tool, "") if refused else ""
        out.append(
            DecisionRecord(
                1_767_225_600 + i * 0.2,
                f"{i // 4:012x}",
                ("ana", "bo", "sam")[i % 3],
                (("support",), ("analyst",), ("support",))[i % 3],
                tool,
                not refused,
                reason,
                f"{FIX / 'policy.yaml'}{where}" if where else None,
                2.0 + (i % 7) * 0.4,
            )
        )
    return out


async def _explain(pilot: Any) -> None:
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


async def _live(pilot: Any) -> None:
    await pilot.press("3")
    pilot.app.session.feed.ingest(_records())
    pilot.app.query_one("#live-pane").refresh_feed()
    await pilot.pause()


async def _restrictions(pilot: Any) -> None:
    tree = pilot.app.query_one("#policy-tree")
    section = next(n for n in tree.root.children if str(n.label).startswith("restrictions"))
    tree.move_cursor(section)
    await pilot.press("enter")
    tree.move_cursor(section.children[3])  # analyst: narrow a request
    await pilot.press("enter", "down", "down")
    await pilot.pause()


async def _palette(pilot: Any) -> None:
    await pilot.press("ctrl+p")
    for key in "go to tool":
        await pilot.press("space" if key == " " else key)
    await pilot.pause(0.5)


SHOTS: list[tuple[str, dict[str, Any], list[str], Callable[[Any], Awaitable[None]] | None]] = [
    (
        "policy",
        {"path": FIX / "policy.yaml", "coverage": FIX / "coverage.json"},
        ["down", "down", "enter", "down", "down", "down"],
        None,
    ),
    ("restrictions", {"path": FIX / "policy.yaml"}, [], _restrictions),
    ("explain", {"path": FIX / "policy.yaml"}, [], _explain),
    ("live", {"path": FIX / "policy.yaml"}, [], _live),
    ("bundles", {"state": True, "state_path": FIX / "bundles-state.json"}, ["4", "down", "d"], None),
    ("palette", {"path": FIX / "policy.yaml"}, [], _palette),
]


def main() -> None:
    for name, options, press, before in SHOTS:
        app = make_tui(TuiOptions(now=NOW, **options), start_sources=False)
        svg = take_svg_screenshot(app=app, press=press, terminal_size=SIZE, run_before=before)
        (OUT / f"{name}.svg").write_text(svg, encoding="utf-8")
        print(f"wrote {OUT / name}.svg")


if __name__ == "__main__":
    main()
