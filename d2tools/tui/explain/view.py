"""The explain pane: a call described in a form, decided by the engine, shown beside its result."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Button, Input, Label, Static

from d2._toolkit import CompiledPolicy

from .decide import Decision, ExplainRequest, decide

__all__ = ["ExplainPane", "parse_form"]

_FIELDS = (
    ("user", "user id", "alice"),
    ("roles", "roles (comma-separated)", "support"),
    ("attributes", "attributes (JSON object)", "{}"),
    ("tool", "tool", "billing.read"),
    ("args", "arguments (JSON object)", "{}"),
    ("prior", "prior calls in the request (comma-separated, oldest first)", ""),
    ("returned", "return value (JSON, optional: applies output rules)", ""),
)


class FormError(ValueError):
    """A field of the form cannot be read; the message names the field and how to fix it."""


def parse_form(values: dict[str, str]) -> ExplainRequest:
    """Read the form into a request; JSON fields must be JSON (objects where an object is needed)."""

    def obj(name: str) -> dict[str, Any]:
        raw = values.get(name, "").strip() or "{}"
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise FormError(
                f'{name}: not JSON ({exc.msg} at column {exc.colno}); e.g. {{"amount": 50}}'
            ) from None
        if not isinstance(value, dict):
            raise FormError(f'{name}: must be a JSON object like {{"key": 1}}, got {type(value).__name__}')
        return value

    tool = values.get("tool", "").strip()
    if not tool:
        raise FormError("tool: name the tool to decide, e.g. billing.read")
    returned_raw = values.get("returned", "").strip()
    returned: Any = None
    if returned_raw:
        try:
            returned = json.loads(returned_raw)
        except json.JSONDecodeError as exc:
            raise FormError(
                f"return value: not JSON ({exc.msg}); leave it empty to skip output rules"
            ) from None
    return ExplainRequest(
        user_id=values.get("user", "").strip() or "explain",
        roles=tuple(r.strip() for r in values.get("roles", "").split(",") if r.strip()),
        tool=tool,
        args=obj("args"),
        attributes=obj("attributes"),
        prior=tuple(t.strip() for t in values.get("prior", "").replace("→", ",").split(",") if t.strip()),
        has_return=bool(returned_raw),
        returned=returned,
    )


class ExplainPane(Vertical):
    """Describe a call, press enter (or ctrl+r), read the verdict; ctrl+g jumps to the deciding rule."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+r", "decide", "Decide", id="explain-decide"),
        Binding("escape", "leave_form", "Leave form", show=False, id="explain-leave"),
    ]

    class Decided(Message):
        """Posted after each decision (the app keeps the rule location for ctrl+g)."""

        def __init__(self, decision: Decision) -> None:
            super().__init__()
            self.decision = decision

    def __init__(self, policy: CompiledPolicy | None, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.policy = policy
        self.decision: Decision | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(id="explain-body"):
            with VerticalScroll(id="explain-form"):
                for name, label, placeholder in _FIELDS:
                    yield Label(label)
                    yield Input(placeholder=placeholder, id=f"explain-{name}")
                yield Button("Decide (enter)", id="explain-run", variant="primary")
            with Vertical(id="explain-out"):
                yield Static("fill in the call and press enter", id="explain-verdict")
                with Horizontal(id="explain-values"):
                    yield Static(id="explain-raw")
                    yield Static(id="explain-clean")

    def on_mount(self) -> None:
        # A blinking cursor is a clock: headless runs (tests, screenshots) keep it steady.
        for field in self.query(Input):
            field.cursor_blink = not self.app.is_headless

    def values(self) -> dict[str, str]:
        return {name: self.query_one(f"#explain-{name}", Input).value for name, _, _ in _FIELDS}

    def fill(self, **values: str) -> None:
        """Set form fields (tests, and the live view's "explain this decision")."""
        for name, value in values.items():
            self.query_one(f"#explain-{name}", Input).value = value

    @on(Input.Submitted)
    @on(Button.Pressed, "#explain-run")
    def _submit(self) -> None:
        self.action_decide()

    def action_leave_form(self) -> None:
        """Move focus out of the fields so the app's keys (1-4, q, ?) work again."""
        self.query_one("#explain-run", Button).focus()

    def action_decide(self) -> None:
        verdict = self.query_one("#explain-verdict", Static)
        if self.policy is None:
            verdict.update(
                Text("the policy has errors and would not load: every call is refused", style="red")
            )
            return
        try:
            request = parse_form(self.values())
        except FormError as exc:
            verdict.update(Text(str(exc), style="bold red"))
            return
        self.decision = decide(self.policy, request)
        verdict.update(render_decision(request, self.decision))
        self._values(request, self.decision)
        self.post_message(self.Decided(self.decision))

    def _values(self, request: ExplainRequest, decision: Decision) -> None:
        left = self.query_one("#explain-raw", Static)
        right = self.query_one("#explain-clean", Static)
        if not request.has_return:
            left.update("")
            right.update("")
            return
        left.update(Text.assemble(("returned by the tool\n", "bold"), _pretty(request.returned)))
        if decision.allowed:
            right.update(Text.assemble(("what the caller gets\n", "bold"), _pretty(decision.sanitized)))
        else:
            right.update(Text.assemble(("what the caller gets\n", "bold"), ("nothing: refused", "red")))


def render_decision(request: ExplainRequest, decision: Decision) -> Text:
    """The verdict block: ALLOWED/REFUSED, reason, rule location, grants that allow it."""
    text = Text()
    roles = ", ".join(request.roles) or "no roles"
    text.append(f"{request.user_id} ({roles}) calls {request.tool}\n")
    if request.prior:
        text.append(f"after {' → '.join(request.prior)}\n", style="dim")
    if decision.allowed:
        text.append("ALLOWED", style="bold green")
    else:
        text.append("REFUSED", style="bold red")
        text.append(f"  reason {decision.reason}")
    text.append(f"  ({decision.stage})\n")
    if decision.detail:
        text.append(f"why: {decision.detail}\n")
    if decision.location:
        text.append("rule: ", style="bold")
        text.append(decision.location)
        text.append("   ctrl+g jumps to it\n", style="dim")
    for where in decision.allowing[1:]:
        text.append(f"also allowed by {where}\n", style="dim")
    for where in decision.output_rules:
        text.append(f"output rules at {where} apply to the result\n", style="dim")
    text.rstrip()
    return text


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)
