"""The ``d2 tui`` application: four views in tabs, app-wide keys, the command palette and help.

The App only switches views and routes messages between them (jump to a rule, explain a decision,
open a bundle); each view lives in its own folder. :func:`make_tui` is the one factory the command
and the tests build the app with.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.css.query import NoMatches
from textual.lazy import Lazy
from textual.widgets import Footer, Header, Static, TabbedContent, TabPane

from .bundles.view import BundlesPane
from .explain.decide import Decision, split_location
from .explain.view import ExplainPane
from .help import HelpScreen
from .live.feed import DecisionRecord
from .live.view import LivePane
from .loaded import LoadedPolicy, finish_lint
from .palette import D2Commands
from .policy.view import PolicyPane
from .session import Session, TuiOptions, open_session

__all__ = ["VIEWS", "D2Tui", "make_tui"]

VIEWS = ("policy", "explain", "live", "bundles")
# Policies larger than this are linted and indexed by a worker after the first frame (the policy
# view shows "linting and indexing…" meanwhile); smaller ones take a few milliseconds, done at once.
BACKGROUND_BYTES = 64 * 1024


class D2Tui(App[None]):
    """Inspect a policy, explain calls, watch decisions, check bundles."""

    CSS_PATH = "d2.tcss"
    TITLE = "d2 tui"
    COMMANDS = App.COMMANDS | {D2Commands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("1", "show('policy')", "Policy", id="view-policy"),
        Binding("2", "show('explain')", "Explain", id="view-explain"),
        Binding("3", "show('live')", "Live", id="view-live"),
        Binding("4", "show('bundles')", "Bundles", id="view-bundles"),
        Binding("ctrl+g", "jump", "Jump to rule", id="jump"),
        Binding("question_mark", "help", "Help", id="help"),
        Binding("q", "quit", "Quit", id="quit"),
    ]

    def __init__(self, session: Session, *, start_sources: bool = True) -> None:
        super().__init__()
        self.session = session
        self.background = len(session.policy.text) > BACKGROUND_BYTES
        if not self.background and not session.policy.linted:
            session.policy = finish_lint(session.policy)  # a few milliseconds: before the first frame
        self.start_sources = start_sources
        self.last_decision: Decision | None = None
        self._d2_sources: list[Any] = []

    # -- layout -------------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        session = self.session
        yield Header(show_clock=False, icon="d2")
        yield Static(self._banner(), id="banner")
        with TabbedContent(id="views", initial="policy"):
            with TabPane("1 Policy", id="policy"):
                yield PolicyPane(
                    session.policy,
                    uncovered=self._uncovered(),
                    background=self.background,
                    id="policy-pane",
                )
            # Hidden views mount right after the first frame, so a large policy shows sooner.
            with TabPane("2 Explain", id="explain"):
                yield Lazy(ExplainPane(session.policy.policy, id="explain-pane"))
            with TabPane("3 Live", id="live"):
                yield Lazy(LivePane(session.feed, id="live-pane"))
            with TabPane("4 Bundles", id="bundles"):
                yield Lazy(BundlesPane(session.bundles, session.policy, session.diff, id="bundles-pane"))
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = self.session.policy.title
        self.query_one("#policy-tree").focus()
        if self.start_sources:
            self._start_sources()

    def on_unmount(self) -> None:
        for source in reversed(self._d2_sources):
            source.stop()
        self._d2_sources.clear()

    def _banner(self) -> Text:
        session = self.session
        text = Text()
        loaded = session.policy
        errors = sum(1 for d in loaded.diagnostics if d.is_error)
        if loaded.policy is None:
            text.append(
                f"✗ {loaded.file} would not load ({errors} errors): every call would be refused", "bold red"
            )
        else:
            text.append(f"✓ {loaded.file}", "green")
            text.append(f"  {len(loaded.policy.roles)} roles, {len(loaded.policy.known_tools)} tools")
            if not loaded.linted:
                text.append(", linting…", "dim")
            elif loaded.diagnostics:
                text.append(f", {len(loaded.diagnostics)} lint findings", "yellow")
        if loaded.bundle is not None and not loaded.bundle.verified:
            text.append("  UNVERIFIED bundle: " + loaded.bundle.why, "bold red")
        if session.coverage is not None:
            cov = session.coverage
            text.append(
                f"  coverage {cov.percent:.0f}% ({len(cov.uncovered)} rules unexercised; c toggles)", "cyan"
            )
        for note in session.notes:
            text.append("\n" + note, "yellow")
        return text

    def _uncovered(self) -> frozenset[int]:
        cov = self.session.coverage
        return cov.lines if cov is not None else frozenset()

    def _start_sources(self) -> None:
        feed = self.session.feed
        options = self.session.options
        if options.logs:
            from .live.follow import LogFollower

            for path in options.logs:
                self._d2_sources.append(LogFollower(path, feed).start())
        if options.streams:
            from .live.stream import StreamClient

            for address in options.streams:
                self._d2_sources.append(StreamClient(address, feed).start())
        if options.demo:
            from .demo.agent import DemoAgent

            self._d2_sources.append(DemoAgent(feed).start())

    # -- actions ------------------------------------------------------------------------------------
    def action_show(self, view: str) -> None:
        self.query_one("#views", TabbedContent).active = view
        self._focus(view)

    def _focus(self, view: str, tries: int = 20) -> None:
        """Focus the view's main widget; a lazily mounted view may need a frame or two first."""
        target = {
            "policy": "#policy-tree",
            "explain": "#explain-user",
            "live": "#live-table",
            "bundles": "#bundle-list",
        }
        try:
            self.query_one(target[view]).focus()
        except NoMatches:
            if tries:
                self.call_after_refresh(self._focus, view, tries - 1)

    def action_help(self) -> None:
        sections: list[tuple[str, Any]] = [
            ("everywhere", self.BINDINGS),
            ("policy", PolicyPane.BINDINGS),
            ("explain", ExplainPane.BINDINGS),
            ("live", LivePane.BINDINGS),
            ("bundles", BundlesPane.BINDINGS),
        ]
        self.push_screen(HelpScreen(sections))

    def action_jump(self) -> None:
        """Go to the rule behind the decision in view: the live row selected, else the last explained."""
        active = self.query_one("#views", TabbedContent).active
        if active == "live":
            record = self.query_one(LivePane).selected()
            if record is not None:
                self._jump_record(record)
                return
        if self.last_decision is not None and self.last_decision.location:
            self.jump_to(self.last_decision.location)
        else:
            self.notify(
                "nothing to jump to: explain a call or select a live decision first", severity="warning"
            )

    def action_coverage(self) -> None:
        self.action_show("policy")
        self.query_one(PolicyPane).action_toggle_coverage()

    def action_live_pause(self) -> None:
        self.query_one(LivePane).action_pause()

    def live_filter(self, text: str) -> None:
        self.action_show("live")
        pane = self.query_one(LivePane)
        pane.query_one("#live-filter").value = text  # type: ignore[attr-defined]
        pane.set_filter(text)

    def goto(self, name: str) -> None:
        """Show the policy view filtered to ``name`` (a role or a tool)."""
        self.action_show("policy")
        pane = self.query_one(PolicyPane)
        pane.query_one("#policy-filter").value = name  # type: ignore[attr-defined]
        pane.set_filter(name)

    def jump_to(self, location: str) -> None:
        """Show ``file:line`` in the policy view when it is the policy on screen."""
        file, line = split_location(location)
        loaded = self.session.policy
        if file is not None and not _same_file(file, loaded.file):
            self.notify(
                f"the rule is in {file}, not in the policy on screen ({loaded.file})", severity="warning"
            )
            return
        self.action_show("policy")
        self.query_one(PolicyPane).jump(line or 1)

    def _jump_record(self, record: DecisionRecord) -> None:
        location = record.location
        policy = self.session.policy.policy
        if record.allowed and policy is not None:
            grants = policy.access(record.tool_id, frozenset(record.roles)).grants
            location = str(grants[0].location) if grants else location
        if location:
            self.jump_to(location)
        else:
            self.notify(f"no rule location recorded for this {record.tool_id} decision", severity="warning")

    # -- messages from the views ----------------------------------------------------------------------
    @on(ExplainPane.Decided)
    def _decided(self, event: ExplainPane.Decided) -> None:
        self.last_decision = event.decision

    @on(PolicyPane.Ready)
    def _policy_ready(self, event: PolicyPane.Ready) -> None:
        """The background lint finished: the banner and the other views get its diagnostics."""
        self.session.policy = event.loaded
        self.query_one("#banner", Static).update(self._banner())
        try:
            self.query_one(BundlesPane).current = event.loaded
        except NoMatches:
            pass  # not mounted yet: it is built from session.policy

    @on(LivePane.JumpTo)
    def _live_jump(self, event: LivePane.JumpTo) -> None:
        self._jump_record(event.record)

    @on(LivePane.ExplainThis)
    def _live_explain(self, event: LivePane.ExplainThis) -> None:
        record = event.record
        self.action_show("explain")
        pane = self.query_one(ExplainPane)
        pane.fill(user=record.user_id or "", roles=",".join(record.roles), tool=record.tool_id)

    @on(BundlesPane.OpenPolicy)
    def _open(self, event: BundlesPane.OpenPolicy) -> None:
        self.open_policy(event.loaded)

    def open_policy(self, loaded: LoadedPolicy) -> None:
        self.session.policy = loaded
        self.query_one(PolicyPane).load(loaded)
        self.query_one(ExplainPane).policy = loaded.policy
        self.query_one(BundlesPane).current = loaded
        self.query_one("#banner", Static).update(self._banner())
        self.sub_title = loaded.title
        self.action_show("policy")


def _same_file(a: str, b: str) -> bool:
    from pathlib import Path

    if a == b:
        return True
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return False


def make_tui(options: TuiOptions | None = None, *, start_sources: bool = True) -> D2Tui:
    """Build the app for ``options`` (the one factory the command and the tests share)."""
    # The app runs the lint checks itself: at once, or after the first frame (see BACKGROUND_BYTES).
    return D2Tui(open_session(options or TuiOptions(), lint=False), start_sources=start_sources)
