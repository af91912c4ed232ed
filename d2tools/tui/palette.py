"""Command palette entries: switch views, filter, toggle overlays, and go to any role or tool."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from textual.command import DiscoveryHit, Hit, Hits, Provider

__all__ = ["D2Commands"]


class D2Commands(Provider):
    """Fixed commands, then one "go to" command per role and tool of the loaded policy."""

    def _commands(self) -> list[tuple[str, Callable[[], object], str]]:
        app: Any = self.app  # the D2Tui (not imported: the app imports this module)
        fixed: list[tuple[str, Callable[[], object], str]] = [
            ("Show policy", partial(app.action_show, "policy"), "roles, tools, groups, sequences, data flow"),
            ("Show explain", partial(app.action_show, "explain"), "decide one call with the real engine"),
            ("Show live decisions", partial(app.action_show, "live"), "decision log and live stream"),
            ("Show bundles", partial(app.action_show, "bundles"), "metadata, signature, diff"),
            ("Live: refused only", partial(app.live_filter, "refused"), "filter the live view"),
            ("Live: clear filter", partial(app.live_filter, ""), "show every decision"),
            ("Live: pause or resume", app.action_live_pause, "freeze the table; counters keep counting"),
            ("Toggle coverage overlay", app.action_coverage, "mark rules no scenario exercised"),
            ("Jump to rule", app.action_jump, "the rule behind the explained or selected decision"),
            ("Help", app.action_help, "every key"),
        ]
        index = app.session.policy
        roles = sorted(index.policy.roles) if index.policy is not None else []
        tools = sorted(index.policy.known_tools) if index.policy is not None else []
        fixed += [(f"Go to role {r}", partial(app.goto, r), "policy view") for r in roles]
        fixed += [(f"Go to tool {t}", partial(app.goto, t), "policy view") for t in tools]
        return fixed

    async def discover(self) -> Hits:
        for name, callback, help_text in self._commands()[:10]:
            yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, callback, help_text in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text)
