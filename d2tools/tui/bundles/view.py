"""The bundles pane: every bundle opened, whether it verifies and why, and the diff to another version."""

from __future__ import annotations

import time
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Static

from ..loaded import LoadedPolicy
from .diff import PolicyDiff, diff_docs
from .read import BundleInfo, BundleRead

__all__ = ["BundlesPane", "render_info"]

_HINT = (
    "No bundle opened. Open one with:\n"
    "  d2 tui BUNDLE.jws --jwks jwks.json   a signed bundle file\n"
    "  d2 tui --state                       the bundles the SDK cached (D2_STATE_PATH)\n"
    "  d2 tui --server URL --app APP        the published bundle, with D2_TOKEN\n"
    "Compare versions with --diff OTHER (a policy or a bundle)."
)


def _when(stamp: int | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(stamp)) if stamp is not None else "-"


def render_info(info: BundleInfo) -> Text:
    """Metadata lines of one bundle; the verification verdict first, in colour."""
    text = Text()
    text.append("✓ " if info.verified else "✗ ", style="bold green" if info.verified else "bold red")
    text.append(info.why + "\n", style="green" if info.verified else "red")
    rows = (
        ("origin", info.origin),
        ("app", info.app or "-"),
        ("version", str(info.version) if info.version is not None else "-"),
        ("key id", info.kid or "-"),
        ("issued", _when(info.issued_at)),
        ("expires", _when(info.expires_at)),
        ("content sha256", info.content_sha256 or "-"),
        ("token sha256", info.token_sha256),
        ("etag", info.etag or "-"),
        ("saved", _when(info.saved_at) if info.saved_at else "-"),
    )
    for key, value in rows:
        text.append(f"{key:>14} ", style="bold")
        text.append(value + "\n")
    if info.revoked:
        text.append("REVOKED: the SDK refuses every call while this bundle is current\n", style="bold red")
    text.rstrip()
    return text


def render_diff(diff: PolicyDiff | None) -> Text:
    if diff is None:
        return Text("no diff: press d on a bundle, or start with --diff OTHER", style="dim")
    text = Text()
    for line in diff.lines():
        stripped = line.lstrip()
        style = "green" if stripped.startswith("+") else "red" if stripped.startswith("-") else "yellow"
        if line.startswith(("---", "+++")):
            style = "bold"
        text.append(line + "\n", style=style)
    text.rstrip()
    return text


class BundlesPane(Vertical):
    """Enter opens the selected bundle's policy; d diffs it against the policy on screen."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("d", "diff", "Diff", id="bundles-diff"),
        Binding("o", "open", "Open", id="bundles-open"),
    ]

    class OpenPolicy(Message):
        """Show this bundle's policy in the policy and explain views."""

        def __init__(self, loaded: LoadedPolicy) -> None:
            super().__init__()
            self.loaded = loaded

    def __init__(
        self,
        bundles: list[tuple[BundleRead, LoadedPolicy | None]],
        current: LoadedPolicy,
        diff: PolicyDiff | None,
        *,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.bundles = bundles
        self.current = current
        self.diff = diff

    def compose(self) -> ComposeResult:
        with Horizontal(id="bundles-body"):
            with Vertical(id="bundles-left"):
                yield DataTable(id="bundle-list", cursor_type="row")
                yield Static(id="bundle-meta")
            with VerticalScroll(id="bundles-right"):
                yield Static(id="bundle-diff")

    def on_mount(self) -> None:
        table: DataTable[str | Text] = self.query_one("#bundle-list", DataTable)
        table.add_columns("", "app", "version", "expires", "origin")
        for i, (read, _) in enumerate(self.bundles):
            info = read.info
            mark = Text("✓", style="green") if info.verified else Text("✗", style="red")
            version = str(info.version) if info.version is not None else "?"
            table.add_row(mark, info.app or "?", version, _when(info.expires_at), info.origin, key=str(i))
        self._show(0)
        self.query_one("#bundle-diff", Static).update(render_diff(self.diff))

    def _show(self, index: int) -> None:
        meta = self.query_one("#bundle-meta", Static)
        if not self.bundles:
            meta.update(Text(_HINT))
            return
        meta.update(render_info(self.bundles[index][0].info))

    def _selected(self) -> int | None:
        table: DataTable[str | Text] = self.query_one("#bundle-list", DataTable)
        if not self.bundles:
            return None
        return min(max(table.cursor_row, 0), len(self.bundles) - 1)

    @on(DataTable.RowHighlighted, "#bundle-list")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show(event.cursor_row)

    @on(DataTable.RowSelected, "#bundle-list")
    def _chosen(self) -> None:
        self.action_open()

    def action_open(self) -> None:
        index = self._selected()
        if index is None:
            return
        read, loaded = self.bundles[index]
        if loaded is None:
            self.notify(f"{read.info.label} carries no policy (revoked or unreadable)", severity="warning")
            return
        self.post_message(self.OpenPolicy(loaded))

    def action_diff(self) -> None:
        index = self._selected()
        if index is None:
            self.notify(
                "no bundle to diff: open one with --state, --server or a bundle file", severity="warning"
            )
            return
        loaded = self.bundles[index][1]
        if loaded is None or loaded.doc is None or self.current.doc is None:
            self.notify("cannot diff: one side has no policy that parses", severity="warning")
            return
        self.diff = diff_docs(loaded.doc, self.current.doc)
        self.query_one("#bundle-diff", Static).update(render_diff(self.diff))
