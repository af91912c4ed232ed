"""A scrolling list of decisions that renders only the rows on screen (Textual's line API).

A ``DataTable`` re-indexes every row when one is removed, which makes a ring buffer quadratic; this
widget keeps the rows in a bounded deque and draws the visible window only, so appending a batch of
any size costs the same and the newest rows stay in view while the cursor follows the tail.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from .feed import DecisionRecord

__all__ = ["COLUMNS", "DecisionList", "cells"]

# Most telling first, so a narrow terminal still shows who, what and why; scroll right for the rest.
COLUMNS = (
    ("time", 12),
    ("user", 8),
    ("tool", 20),
    ("decision", 8),
    ("reason", 18),
    ("rule", 20),
    ("roles", 12),
    ("request", 6),
    ("µs", 5),
)
_WIDTH = sum(w + 1 for _, w in COLUMNS)
_ALLOWED = Style(color="green")
_REFUSED = Style(color="red", bold=True)
_HEADER = Style(bold=True)


def cells(r: DecisionRecord) -> tuple[str, ...]:
    """The text of each column for one decision (times in UTC, from the event, never the clock)."""
    stamp = time.strftime("%H:%M:%S", time.gmtime(r.timestamp)) + f".{int(r.timestamp * 1000) % 1000:03d}"
    location = r.location or ""
    return (
        stamp,
        r.user_id or "-",
        r.tool_id,
        "allowed" if r.allowed else "REFUSED",
        r.reason or "",
        location.rpartition("/")[2],
        ",".join(r.roles) or "-",
        (r.request_id or "-")[-6:],
        f"{r.latency_us:.0f}",
    )


def header() -> str:
    return " ".join(f"{name:<{width}}" for name, width in COLUMNS)


class DecisionList(ScrollView, can_focus=True):
    """Up/down/page keys move the cursor; enter selects; the cursor follows new rows at the tail."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "move(-1)", "Up", show=False),
        Binding("down", "move(1)", "Down", show=False),
        Binding("pageup", "move(-20)", "Page up", show=False),
        Binding("pagedown", "move(20)", "Page down", show=False),
        Binding("home", "move(-1000000)", "First", show=False),
        Binding("end", "move(1000000)", "Last", show=False),
        Binding("enter", "select", "Jump to rule", show=False),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {"decision-list--cursor"}
    DEFAULT_CSS = """
    DecisionList > .decision-list--cursor { background: $accent 40%; }
    DecisionList:focus > .decision-list--cursor { background: $accent; }
    """

    cursor: reactive[int] = reactive(-1)

    class Selected(Message):
        """Enter on a row."""

        def __init__(self, record: DecisionRecord) -> None:
            super().__init__()
            self.record = record

    def __init__(self, limit: int, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.rows: deque[DecisionRecord] = deque(maxlen=limit)
        self.limit = limit

    @property
    def row_count(self) -> int:
        return len(self.rows)

    def selected(self) -> DecisionRecord | None:
        return self.rows[self.cursor] if 0 <= self.cursor < len(self.rows) else None

    def replace(self, records: Iterable[DecisionRecord]) -> None:
        self.rows.clear()
        self.cursor = -1
        self.extend(records)

    def extend(self, records: Iterable[DecisionRecord]) -> None:
        """Append a batch; a cursor at the tail (or none yet) follows it, otherwise it stays on its row."""
        following = self.cursor < 0 or self.cursor >= len(self.rows) - 1
        before = len(self.rows)
        self.rows.extend(records)
        added = len(self.rows) - before
        shifted = max(0, before + added - self.limit) if added >= 0 else 0
        self.virtual_size = Size(_WIDTH, len(self.rows) + 1)  # + the sticky header line
        if following:
            self.cursor = len(self.rows) - 1
        else:
            self.cursor = max(0, self.cursor - shifted)
        self._show_cursor()
        self.call_after_refresh(self._show_cursor)  # the first batch may arrive before layout
        self.refresh()

    def _show_cursor(self) -> None:
        height = self.scrollable_content_region.height - 1  # below the header
        if self.cursor < 0 or height <= 0:
            return
        top = round(self.scroll_offset.y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + height:
            self.scroll_to(y=self.cursor - height + 1, animate=False, immediate=True)

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.scrollable_content_region.width
        if y == 0:  # the header stays put vertically and scrolls sideways with the rows
            head = Strip([Segment(header() + " ", self.rich_style + _HEADER)], _WIDTH)
            return head.crop_extend(scroll_x, scroll_x + width, self.rich_style)
        index = y - 1 + scroll_y
        if index >= len(self.rows):
            return Strip.blank(width, self.rich_style)
        record = self.rows[index]
        base = self.rich_style
        if index == self.cursor:
            base = base + self.get_component_rich_style("decision-list--cursor")
        segments = []
        for (name, size), text in zip(COLUMNS, cells(record), strict=True):
            style = base
            if name == "decision":
                style = base + (_ALLOWED if record.allowed else _REFUSED)
            segments.append(Segment(f"{text[:size]:<{size}} ", style))
        return Strip(segments, _WIDTH).crop_extend(scroll_x, scroll_x + width, base)

    def on_resize(self) -> None:
        self._show_cursor()

    def watch_cursor(self, old: int, new: int) -> None:
        self.refresh()

    def action_move(self, delta: int) -> None:
        if not self.rows:
            return
        self.cursor = min(max(0, self.cursor + delta), len(self.rows) - 1)
        self._show_cursor()

    def action_select(self) -> None:
        record = self.selected()
        if record is not None:
            self.post_message(self.Selected(record))
