"""The policy pane: a filterable tree on the left, the selected entry's YAML source on the right.

On a large policy the pane is built in two steps so the first frame comes early: it mounts with a
"linting…" placeholder, and a worker thread runs the lint checks and builds the index; the tree is
filled when the worker is done (:class:`PolicyPane.Ready` tells the app the diagnostics).
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Input, Static, Tree
from textual.widgets.tree import TreeNode

from ..loaded import LoadedPolicy, finish_lint
from .index import Entry, PolicyIndex, Section, build_index
from .restrictions import Checked
from .source import render_source

__all__ = ["PolicyPane"]

_FILTER_DELAY = 0.12


class PolicyPane(Vertical):
    """Roles, tools, groups, sequences, data flow and diagnostics of the loaded policy."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "focus_filter", "Filter", id="policy-filter"),
        Binding("c", "toggle_coverage", "Coverage", id="policy-coverage"),
        Binding("escape", "focus_tree", "Tree", show=False, id="policy-tree"),
    ]

    class Ready(Message):
        """The lint checks and the index are done (posted only when they ran in the background)."""

        def __init__(self, loaded: LoadedPolicy) -> None:
            super().__init__()
            self.loaded = loaded

    def __init__(
        self,
        loaded: LoadedPolicy,
        *,
        uncovered: frozenset[int] = frozenset(),
        background: bool = False,
        id: str | None = None,
    ):
        super().__init__(id=id)
        self.background = background
        self.loaded = loaded if background else finish_lint(loaded)
        self.index: PolicyIndex = PolicyIndex(()) if background else build_index(self.loaded)
        self.ready = not background
        self.uncovered = uncovered
        self.show_coverage = bool(uncovered)
        self.current_line = 1
        self._filter_timer: Timer | None = None
        self._filter_text = ""
        self._pinned: tuple[TreeNode[Entry], int] | None = None

    def compose(self) -> ComposeResult:
        yield Input(placeholder="filter roles, tools, groups, rules… ( / )", id="policy-filter")
        with Horizontal(id="policy-body"):
            tree: Tree[Entry] = Tree("policy", id="policy-tree")
            tree.show_root = False
            tree.guide_depth = 3
            yield tree
            with VerticalScroll(id="policy-right"):
                yield Static(id="policy-detail")
                yield Static(id="policy-source")

    def on_mount(self) -> None:
        for field in self.query(Input):  # steady cursor when headless: screenshots must not depend on time
            field.cursor_blink = not self.app.is_headless
        if self.ready:
            self._fill(self.index.sections)
            self.show_line(self._first_line())
            return
        tree = self.query_one("#policy-tree", Tree)
        what = "linting and indexing" if not self.loaded.linted else "indexing"
        tree.root.add_leaf(Text(f"{what} {self.loaded.file}…", style="dim italic"))
        self.show_line(1, (f"{what}…",))
        # Started once the first frame is on screen, so the worker's thread does not delay it.
        self.call_after_refresh(self._start_worker)

    def _start_worker(self) -> None:
        self.run_worker(self._prepare, thread=True, group="policy-index", exit_on_error=False)

    def _prepare(self) -> None:
        """Worker thread: lint and index; the tree is filled on the app's thread."""
        try:
            loaded = finish_lint(self.loaded)
            index = build_index(loaded)
        except Exception as exc:  # a bug, not a policy problem: say so rather than "linting…" forever
            self.app.call_from_thread(self._failed, exc)
            return
        self.app.call_from_thread(self._prepared, loaded, index)

    def _failed(self, exc: Exception) -> None:
        tree = self.query_one("#policy-tree", Tree)
        tree.clear()
        tree.root.add_leaf(Text(f"indexing failed: {type(exc).__name__}: {exc}", style="bold red"))
        self.notify(f"the policy view could not be built: {exc}", severity="error")

    def _prepared(self, loaded: LoadedPolicy, index: PolicyIndex) -> None:
        if not self.background or loaded.file != self.loaded.file:
            return  # another policy was opened meanwhile
        self.background = False
        self.loaded, self.index, self.ready = loaded, index, True
        self._fill(self.index.filtered(self._filter_text))
        self.show_line(self._first_line())
        self.post_message(self.Ready(loaded))

    # -- public -------------------------------------------------------------------------------------
    def load(self, loaded: LoadedPolicy, *, uncovered: frozenset[int] = frozenset()) -> None:
        """Show another policy (a bundle opened from the bundles view)."""
        self.background = False
        self.ready = True
        self.loaded = finish_lint(loaded)
        self.index = build_index(self.loaded)
        self.uncovered = uncovered
        self.show_coverage = bool(uncovered)
        self._fill(self.index.filtered(self._filter_text))
        self.show_line(self._first_line())

    def show_line(self, line: int, detail: tuple[str, ...] = ()) -> None:
        """Render the source around ``line`` with its diagnostics; ``detail`` says what is selected."""
        self.current_line = max(1, line)
        header = Text()
        for i, text in enumerate(detail):
            header.append(text, style="bold" if i == 0 else "")
            header.append("\n")
        if self.show_coverage and self.current_line in self.uncovered:
            header.append("○ no d2 test scenario exercised this rule\n", style="yellow")
        self.query_one("#policy-detail", Static).update(header)
        self._show_policy_source()

    def show_restriction(self, entry: Entry) -> None:
        """A restriction example: what it does, its YAML and Python text, and the file it comes from."""
        checked: Checked = entry.payload
        example = checked.example
        header = Text()
        for i, text in enumerate(entry.detail):
            header.append(text, style="bold" if i == 0 else "")
            header.append("\n")
        if entry.kind == "restriction":
            if checked.error is not None:
                header.append("✗ d2.restrict() would refuse this fragment:\n", style="bold red")
                header.append(checked.error + "\n", style="red")
            else:
                header.append(
                    "✓ compiled by the runtime's restriction compiler against this policy\n", "green"
                )
            header.append("\nYAML (a d2 test `restrict:` step):\n", style="bold")
            header.append(checked.yaml)
            header.append("\nPython:\n", style="bold")
            header.append(checked.python)
        self.query_one("#policy-detail", Static).update(header)
        if example.lines is None:
            self.current_line = max(1, example.line)
            self._show_policy_source()
        else:
            source = render_source(example.lines, example.line, file=example.file)
            self.query_one("#policy-source", Static).update(source)

    def _show_policy_source(self) -> None:
        source = render_source(
            self.loaded.lines,
            self.current_line,
            file=self.loaded.file,
            diagnostics=self.loaded.diagnostics,
            uncovered=self.uncovered if self.show_coverage else frozenset(),
        )
        self.query_one("#policy-source", Static).update(source)

    def jump(self, line: int) -> None:
        """Select the tree entry written at ``line`` when there is one, and show the line."""
        tree = self.query_one("#policy-tree", Tree)
        node = self._find(tree.root, line)
        if node is not None:
            # The cursor move highlights the node after this returns; keep the exact line, not the entry's.
            # Expanding changed the tree's lines: move once they are laid out again.
            self._pinned = (node, line)
            tree.call_after_refresh(tree.move_cursor, node)
        self.show_line(line, node.data.detail if node is not None and node.data is not None else ())

    def set_filter(self, text: str) -> None:
        """Filter now (tests and the command palette); typing goes through a short debounce."""
        self._filter_text = text
        if self.ready:  # else the worker's result is shown filtered
            self._fill(self.index.filtered(text))

    # -- tree ---------------------------------------------------------------------------------------
    def _fill(self, sections: tuple[Section, ...]) -> None:
        tree: Tree[Entry] = self.query_one("#policy-tree", Tree)
        tree.clear()
        filtering = bool(self._filter_text.strip())
        for section in sections:
            if not section.entries and section.name != "roles":
                continue
            label = Text.assemble((section.name, "bold"), f"  {len(section.entries)}")
            # A section's entries become tree nodes only when it is opened: a 1,000-tool policy
            # starts with the roles, not with every tool.
            holder = Entry("section", section.name, 1, children=section.entries, key=section.name)
            expand = section.name in ("roles", "diagnostics") or filtering
            branch = tree.root.add(label, holder, expand=expand)
            if expand:
                self._populate(branch, expand_children=filtering)
        if tree.root.children:
            tree.move_cursor(tree.root.children[0])

    def _add(self, parent: TreeNode[Entry], entry: Entry, *, expand: bool = False) -> None:
        label = self._label(entry)
        if entry.has_children:
            node = parent.add(label, entry, expand=expand)
            if expand:
                self._populate(node)
        else:
            parent.add_leaf(label, entry)

    def _populate(self, node: TreeNode[Entry], *, expand_children: bool = False) -> None:
        entry = node.data
        if entry is None or node.children:
            return
        for child in entry.kids():
            self._add(node, child, expand=expand_children)

    def _label(self, entry: Entry) -> Text:
        style = {
            "role": "bold green",
            "group": "magenta",
            "diagnostic": "red",
            "sequence": "blue",
            "restriction": "cyan",
        }.get(entry.kind, "")
        text = Text(entry.label, style=style)
        if entry.label.startswith("✗"):
            text.stylize("red")
        if "DENY" in entry.label:
            text.stylize("red")
        if self.show_coverage and entry.line in self.uncovered and entry.kind != "role":
            text.append("  ○ uncovered", style="yellow")
        return text

    def _find(self, root: TreeNode[Entry], line: int) -> TreeNode[Entry] | None:
        """The entry written at ``line``, else the nearest grant or rule above it (a condition's grant)."""
        best: tuple[int, TreeNode[Entry], Entry, Entry | None] | None = None
        for section in root.children:
            holder = section.data
            if holder is None or holder.label == "restrictions":  # examples, not rules; some in other files
                continue
            for entry in holder.children:
                candidates: list[tuple[int, Entry | None]] = (
                    [(entry.line, None)] if not entry.children else []
                )
                candidates += [(c.line, c) for c in entry.children]
                for at, child in candidates:
                    if at <= line and (best is None or at > best[0]):
                        best = (at, section, entry, child)
                    if at == line:
                        return self._open(section, entry, child)
        return self._open(best[1], best[2], best[3]) if best is not None else None

    def _open(self, section: TreeNode[Entry], entry: Entry, child: Entry | None) -> TreeNode[Entry]:
        section.expand()
        self._populate(section)
        node = next(n for n in section.children if n.data is entry)
        if child is None:
            return node
        node.expand()
        self._populate(node)
        return next((c for c in node.children if c.data is child), node)

    def _first_line(self) -> int:
        for section in self.index.sections:
            if section.entries:
                return section.entries[0].line
        return 1

    # -- events -------------------------------------------------------------------------------------
    @on(Tree.NodeExpanded, "#policy-tree")
    def _expanded(self, event: Tree.NodeExpanded[Entry]) -> None:
        self._populate(event.node)

    @on(Tree.NodeHighlighted, "#policy-tree")
    def _highlighted(self, event: Tree.NodeHighlighted[Entry]) -> None:
        entry = event.node.data
        pinned, self._pinned = self._pinned, None
        if entry is not None and isinstance(entry.payload, Checked):
            self.show_restriction(entry)
        elif entry is not None and entry.kind != "section":
            line = pinned[1] if pinned is not None and pinned[0] is event.node else entry.line
            self.show_line(line, entry.detail)

    @on(Input.Changed, "#policy-filter")
    def _typed(self, event: Input.Changed) -> None:
        self._filter_text = event.value
        if self._filter_timer is not None:
            self._filter_timer.stop()
        self._filter_timer = self.set_timer(_FILTER_DELAY, lambda: self.set_filter(self._filter_text))

    @on(Input.Submitted, "#policy-filter")
    def _submitted(self, event: Input.Submitted) -> None:
        self.set_filter(event.value)
        self.query_one("#policy-tree", Tree).focus()

    def action_focus_filter(self) -> None:
        self.query_one("#policy-filter", Input).focus()

    def action_focus_tree(self) -> None:
        self.query_one("#policy-tree", Tree).focus()

    def action_toggle_coverage(self) -> None:
        if not self.uncovered:
            self.notify("no coverage report loaded: d2 tui --coverage report.json", severity="warning")
            return
        self.show_coverage = not self.show_coverage
        if self.ready:
            self._fill(self.index.filtered(self._filter_text))
        self.show_line(self.current_line)
