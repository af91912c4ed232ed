"""The live pane: decisions as they arrive, filtered, with per-tool counters and a refusals sparkline.

A timer drains the feed a few times a second and applies the batch in one go (table rows, counters,
sparkline): the UI work per second is bounded by the tick rate and the table cap, not by how many
decisions arrive, so 10,000 decisions per second never freeze the app.
"""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Input, Sparkline, Static

from .decision_list import DecisionList
from .feed import DecisionFeed, DecisionRecord

__all__ = ["TABLE_ROWS", "LivePane"]

TABLE_ROWS = 2_000
TICK = 0.25


class LivePane(Vertical):
    """Filter with ``user:ana tool:billing reason:rbac refused``; p pauses; enter jumps to the rule."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("p", "pause", "Pause", id="live-pause"),
        Binding("slash", "focus_filter", "Filter", id="live-filter"),
        Binding("e", "explain", "Explain", id="live-explain"),
        Binding("escape", "focus_table", "Table", show=False, id="live-table"),
    ]

    class JumpTo(Message):
        """Show the rule behind a decision (the app resolves allowed decisions to their grant)."""

        def __init__(self, record: DecisionRecord) -> None:
            super().__init__()
            self.record = record

    class ExplainThis(Message):
        """Open the explain view on this decision's user, roles and tool."""

        def __init__(self, record: DecisionRecord) -> None:
            super().__init__()
            self.record = record

    def __init__(self, feed: DecisionFeed, *, id: str | None = None, tick: float = TICK) -> None:
        super().__init__(id=id)
        self.feed = feed
        self.tick = tick
        self.paused = False
        self.filter_text = ""
        self.ticks = 0

    def compose(self) -> ComposeResult:
        yield Input(
            placeholder="filter: user:NAME tool:NAME reason:CODE refused|allowed ( / )", id="live-filter"
        )
        with Horizontal(id="live-body"):
            yield DecisionList(TABLE_ROWS, id="live-table")
            with Vertical(id="live-side"):
                yield Static(id="live-stats")
                yield Static("refusals per second (last 60 s)", classes="caption")
                yield Sparkline([], id="live-spark", summary_function=max)
                yield Static(id="live-tools")
                yield Static(id="live-sources")

    def on_mount(self) -> None:
        for field in self.query(Input):  # steady cursor when headless: screenshots must not depend on time
            field.cursor_blink = not self.app.is_headless
        self.refresh_feed()
        self.set_interval(self.tick, self.refresh_feed)

    # -- the batch ----------------------------------------------------------------------------------
    def refresh_feed(self) -> None:
        """Apply everything that arrived since the last tick (called by the timer; tests call it too)."""
        self.ticks += 1
        if not self.paused:
            batch = self.feed.drain()
            if batch:
                self._append([r for r in batch if self._keep(r)])
        self._side()

    def _keep(self, record: DecisionRecord) -> bool:
        return not self.filter_text or record.matches(self.filter_text)

    def _append(self, rows: list[DecisionRecord]) -> None:
        self.query_one(DecisionList).extend(rows)

    def _side(self) -> None:
        snap = self.feed.snapshot()
        stats = Text()
        stats.append(f"{snap.total:,} decisions", style="bold")
        stats.append(f"   {snap.refused:,} refused", style="red" if snap.refused else "")
        if self.paused:
            stats.append("   PAUSED (p)", style="bold yellow")
        if snap.lost:
            stats.append(f"\n{snap.lost:,} lost by the stream (reader too slow)", style="yellow")
        if snap.malformed:
            stats.append(f"\n{snap.malformed:,} lines were not decisions", style="yellow")
        self.query_one("#live-stats", Static).update(stats)
        self.query_one("#live-spark", Sparkline).data = list(snap.refusals_per_second) or [0]
        tools = Table("tool", "allowed", "refused", box=None, pad_edge=False, expand=True)
        ranked = sorted(snap.per_tool.items(), key=lambda kv: (-(kv[1][0] + kv[1][1]), kv[0]))
        for tool, (ok, refused) in ranked[:15]:
            tools.add_row(tool, f"{ok:,}", Text(f"{refused:,}", style="red" if refused else ""))
        if len(ranked) > 15:
            tools.add_row(f"… {len(ranked) - 15} more", "", "")
        self.query_one("#live-tools", Static).update(tools)
        self.query_one("#live-sources", Static).update(Text("\n".join(snap.sources), style="dim"))

    def set_filter(self, text: str) -> None:
        """Re-filter the kept rows now (typing calls this too)."""
        self.filter_text = text.strip()
        kept = [r for r in self.feed.rows if self._keep(r)]
        self.query_one(DecisionList).replace(kept[-TABLE_ROWS:])

    def selected(self) -> DecisionRecord | None:
        return self.query_one(DecisionList).selected()

    # -- events -------------------------------------------------------------------------------------
    @on(Input.Changed, "#live-filter")
    def _typed(self, event: Input.Changed) -> None:
        self.set_filter(event.value)

    @on(Input.Submitted, "#live-filter")
    def _submitted(self) -> None:
        self.query_one(DecisionList).focus()

    @on(DecisionList.Selected)
    def _chosen(self, event: DecisionList.Selected) -> None:
        self.post_message(self.JumpTo(event.record))

    def action_pause(self) -> None:
        self.paused = not self.paused
        self._side()

    def action_focus_filter(self) -> None:
        self.query_one("#live-filter", Input).focus()

    def action_focus_table(self) -> None:
        self.query_one(DecisionList).focus()

    def action_explain(self) -> None:
        record = self.selected()
        if record is not None:
            self.post_message(self.ExplainThis(record))
