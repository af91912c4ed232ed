"""The help screen: every key of every view, and the filter syntax, generated from the bindings."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

__all__ = ["HelpScreen"]

_NOTES = (
    "Filters: policy view — any text (role, tool, @group, sequence element); live view — words are"
    " ANDed: user:NAME tool:NAME role:NAME reason:CODE, refused, allowed, or any text.",
    "No mouse needed: tab / shift+tab move between panes, arrows move, enter selects,"
    " escape leaves a filter or the explain form.",
    "Colours follow NO_COLOR (https://no-color.org): set it to any value for a monochrome UI.",
)


def _rows(title: str, bindings: Iterable[BindingType]) -> list[tuple[str, str, str]]:
    out = []
    for b in bindings:
        if isinstance(b, Binding) and b.description:
            out.append((title, b.key.replace("question_mark", "?").replace("slash", "/"), b.description))
    return out


class HelpScreen(ModalScreen[None]):
    """A modal list of keys; escape, q or ? closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss", "Close", id="help-close"),
        Binding("q", "dismiss", "Close", show=False),
        Binding("question_mark", "dismiss", "Close", show=False),
    ]

    def __init__(self, sections: list[tuple[str, Iterable[BindingType]]]) -> None:
        super().__init__()
        self.sections = sections

    def compose(self) -> ComposeResult:
        rows = [row for title, bindings in self.sections for row in _rows(title, bindings)]
        rows.append(("everywhere", "ctrl+p", "command palette: views, filters, go to role or tool"))
        text = Text("d2 tui keys\n\n", style="bold")
        text.append(f"{'view':<12}{'key':<10}does\n", style="bold")
        for view, key, does in rows:
            text.append(f"{view:<12}")
            text.append(f"{key:<10}", style="bold")
            text.append(does + "\n")
        with VerticalScroll(id="help-body"):
            yield Static(text, id="help-keys")
            yield Static(Text("\n".join(f"• {n}" for n in _NOTES), style="dim"))

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
