"""Sequence rules at run time: per-request progress advanced per call, never a rescan of history.

For every rule the request keeps ``k``, the length of the longest prefix of the rule's pattern that
occurs as a subsequence of the calls so far. The greedy leftmost match maximises that prefix, also
with set-valued (``@group``) steps, so one comparison per rule keeps it exact: a recorded call ``t``
advances ``k`` when ``t`` is in step ``k``. A call completes a pattern iff ``k`` is at the last step
and the call is in it. Rules are indexed by tool at load time, so a call touches only the rules that
mention it, whatever the history length.

Which rules *bind* a call depends on the acting user's roles; progress does not: the history belongs
to the request, so every rule advances on every allowed call, whoever made it.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from d2._base.diagnostics import Location
from d2._core.model import Violation
from d2.exceptions import Reason

if TYPE_CHECKING:
    from d2._core.state import RequestLog

__all__ = ["RoleRules", "SeqRule", "SequenceProgram", "Workflow"]

# RequestLog.progress maps a rule's *content key* -> matched prefix length, plus one stamp: under the
# recording program's own negative key (its *mark*), how many calls the request had made when that
# program last recorded. One lookup of its own mark tells a program both that it recorded last and
# that it missed no call. Content keys come from the rule's kind and steps, shared by every program
# holding the same rule, so a re-install (reload, bundle renewal, key rotation) keeps a started
# pattern. On a stamp mismatch only the rules the last program did not keep current are rebuilt from
# the history; when that history is truncated a deny rule's progress cannot be known, and it is taken
# as complete (its last step is refused).
_MARKS = itertools.count(-3, -1)  # not -1 or -2: hash(-1) == hash(-2) in CPython
_KEYS: dict[tuple[str, tuple[frozenset[str], ...]], int] = {}
_KEYS_LOCK = threading.Lock()
# mark -> the content keys a program keeps current. Kept after the program itself is gone (a reload
# frees the old policy at once), bounded: a request that outlives 4096 compilations is rebuilt instead.
_PROGRAM_KEYS: dict[int, frozenset[int]] = {}
_PROGRAM_KEYS_LIMIT = 4096


def content_key(kind: str, steps: tuple[frozenset[str], ...]) -> int:
    """A small positive int naming a rule's content, the same for every program that holds it."""
    key = _KEYS.get((kind, steps))
    if key is None:
        with _KEYS_LOCK:
            key = _KEYS.setdefault((kind, steps), len(_KEYS) + 1)
    return key


def _calls(log: RequestLog) -> int:
    """Calls the request has made (the history keeps only the latest ``HISTORY_LIMIT``)."""
    n = len(log.history)
    calls = log.calls
    return calls if calls > n else n


_VIEW_CACHE_LIMIT = 4096
_NAMES_SHOWN = 6
# A refusal names the calls that matched; it looks this far back, so a refusal stays cheap.
TRAIL_WINDOW = 512


@dataclass(frozen=True, slots=True, eq=False)
class SeqRule:
    """One compiled pattern: the tools each step accepts, as written, and who it binds."""

    index: int
    kind: str  # "deny" or "allow"
    steps: tuple[frozenset[str], ...]
    refs: tuple[str, ...]
    reason: str | None
    location: Location
    roles: frozenset[str]
    last: int  # index of the final step
    key: int = field(init=False, default=0, compare=False)  # see content_key

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", content_key(self.kind, self.steps))

    @property
    def pattern(self) -> str:
        """Render the pattern as written, e.g. ``[@sensitive → web.http_request]``."""
        return "[" + " → ".join(self.refs) + "]"


@dataclass(frozen=True, slots=True, eq=False)
class Workflow:
    """A deny-mode role's allowed steps: starts, edges between consecutive steps, and free tools."""

    roles: tuple[str, ...]
    rules: tuple[SeqRule, ...]
    starts: tuple[frozenset[str], ...]
    anywhere: frozenset[str]
    edges: Mapping[str, tuple[frozenset[str], ...]]
    location: Location

    def permits(self, previous: str | None, tool: str) -> bool:
        """True when ``tool`` may follow ``previous`` (None: the request's first guarded call)."""
        if tool in self.anywhere:
            return True
        if previous is None:
            return any(tool in step for step in self.starts)
        return any(tool in step for step in self.edges.get(previous, ()))

    def next_refs(self, previous: str | None) -> list[str]:
        """Name what may come after ``previous``, as written in the policy (for refusal messages)."""
        refs: list[str] = []
        for rule in self.rules:
            if rule.last == 0:
                refs.append(rule.refs[0])
            elif previous is None:
                refs.append(rule.refs[0])
            else:
                refs.extend(rule.refs[i + 1] for i in range(rule.last) if previous in rule.steps[i])
        return list(dict.fromkeys(refs))


@dataclass(frozen=True, slots=True)
class RoleRules:
    """The merged sequence rules of one role (all its entries add up)."""

    mode: str  # "allow" or "deny"
    denies: tuple[int, ...]
    allows: tuple[int, ...]
    location: Location


@dataclass(frozen=True, slots=True, eq=False)
class _View:
    """The rules that bind one set of roles, indexed by the tool that completes them."""

    deny_last: Mapping[str, tuple[SeqRule, ...]]
    allow_last: Mapping[str, tuple[SeqRule, ...]]
    strict_roles: frozenset[str]
    workflows: tuple[Workflow, ...]


class SequenceProgram:
    """All sequence rules of a policy, ready for :func:`d2._engine.decide.authorize` (check, then record)."""

    __slots__ = (
        "__weakref__",
        "_views",
        "advance",
        "bound_rules",
        "keys",
        "mark",
        "role_rules",
        "rules",
        "watched",
        "workflows",
    )

    def __init__(
        self,
        rules: tuple[SeqRule, ...],
        role_rules: Mapping[str, RoleRules],
        workflows: Mapping[str, Workflow],
    ) -> None:
        self.rules = rules
        self.role_rules = dict(role_rules)
        self.workflows = dict(workflows)
        self.mark = next(_MARKS)
        used = {i for rr in self.role_rules.values() for i in (*rr.denies, *rr.allows)}
        # Only rules that bind some role need progress; the rest never decide anything.
        self.bound_rules = tuple(r for r in rules if r.index in used)
        self.keys = frozenset(r.key for r in self.bound_rules)
        # One rule per content key: rules with the same steps share (and must advance once) one progress.
        self.advance = _index(_distinct(self.bound_rules), lambda rule: rule.steps[: rule.last])
        # Tools that may need a verdict from :meth:`check` (a superset of every roles view's
        # ``deny_last``), or None when some role has a workflow, which judges every call.
        deny_lasts = (rules[i].steps[-1] for rr in self.role_rules.values() for i in rr.denies)
        self.watched = None if self.workflows else frozenset(t for last in deny_lasts for t in last)
        self._views: dict[frozenset[str], _View] = {}
        with _KEYS_LOCK:
            if len(_PROGRAM_KEYS) >= _PROGRAM_KEYS_LIMIT:
                _PROGRAM_KEYS.pop(next(iter(_PROGRAM_KEYS)), None)
            _PROGRAM_KEYS[self.mark] = self.keys

    # -- the two calls the engine makes, under the request's lock --------------------------------

    def check(self, log: RequestLog, tool: str, roles: frozenset[str]) -> Violation | None:
        """Refuse ``tool`` when it completes a forbidden pattern or leaves a deny-mode workflow."""
        progress = log.progress
        if progress.get(self.mark) != _calls(log):
            self.sync(log)
        view = self._views.get(roles) or self._view(roles)
        denies = view.deny_last.get(tool)
        if denies is not None:
            for rule in denies:
                if progress.get(rule.key, 0) == rule.last:
                    violation = self._decide(view, denies, log, tool, roles)
                    if violation is not None:
                        return violation
                    break
        if view.workflows:
            previous = log.last_tool
            for workflow in view.workflows:
                if not workflow.permits(previous, tool):
                    return _workflow_violation(workflow, previous, tool)
        return None

    def record(self, log: RequestLog, tool: str) -> None:
        """Advance every rule that mentions ``tool`` (the engine appended it to the history already)."""
        progress = log.progress
        if self.mark not in progress:
            self.sync(log)
            return
        for rule in self.advance.get(tool, ()):
            k = progress.get(rule.key, 0)
            if k < rule.last and tool in rule.steps[k]:
                progress[rule.key] = k + 1
        progress[self.mark] = _calls(log)

    def step(self, log: RequestLog, tool: str, roles: frozenset[str]) -> Violation | None:
        """``check``; when allowed, append the call to the history and ``record`` it: one pass.

        The engine's path when sequence rules are the only request-dependent check (the caller holds
        the request's lock). A call that is the last step of no deny pattern, in a policy without
        workflows, needs no verdict: only its progress moves.
        """
        progress = log.progress
        history = log.history
        n, calls = len(history), log.calls
        if progress.get(self.mark) != (calls if calls > n else n):
            self.sync(log)
        watched = self.watched
        if watched is None or tool in watched:
            violation = self.check(log, tool, roles)
            if violation is not None:
                return violation
        history.append(tool)
        log.calls = calls = log.calls + 1
        rules = self.advance.get(tool)
        if rules is not None:
            for rule in rules:
                k = progress.get(rule.key, 0)
                if k < rule.last and tool in rule.steps[k]:
                    progress[rule.key] = k + 1
        n = len(history)
        progress[self.mark] = calls if calls > n else n
        log.last_tool = tool
        return None

    # -- progress ---------------------------------------------------------------------------------

    def sync(self, log: RequestLog) -> None:
        """Bring the progress up to date after calls this program did not record (first call, reload,
        foreign calls): keep what the last recording program kept current, rebuild the rest."""
        progress = log.progress
        calls = _calls(log)
        if calls == 0:  # a fresh request: nothing to keep and nothing to replay
            progress.clear()
            progress[self.mark] = 0
            return
        last = next((k for k in progress if k < 0), None)  # the one stamp: who recorded last
        current: frozenset[int] = frozenset()
        if last is not None and progress[last] == calls:  # no call was missed since it recorded
            previous = _PROGRAM_KEYS.get(last)
            if previous is not None:
                current = previous & self.keys
        kept = {k: v for k, v in progress.items() if k in current}
        progress.clear()
        progress.update(kept)
        stale = [r for r in self.bound_rules if r.key not in current]
        if stale:
            # A full history may have lost calls even when ``calls`` says otherwise: the plain-grant
            # path counts without the lock, so racing threads can under-count. Take it as truncated.
            history = log.history
            truncated = calls > len(history) or len(history) == history.maxlen
            _rebuild(progress, stale, history, truncated=truncated)
        progress[self.mark] = calls

    def completed_by(self, log: RequestLog, tool: str) -> tuple[SeqRule, ...]:
        """Every binding rule (of any role) that ``tool`` would complete now; for explanations and tests."""
        progress = log.progress
        if progress.get(self.mark) != _calls(log):
            self.sync(log)
        return tuple(
            r for r in self.bound_rules if tool in r.steps[r.last] and progress.get(r.key, 0) == r.last
        )

    # -- decisions --------------------------------------------------------------------------------

    def _decide(
        self, view: _View, denies: tuple[SeqRule, ...], log: RequestLog, tool: str, roles: frozenset[str]
    ) -> Violation | None:
        """Some deny pattern is complete: refuse unless, for each bound role, an own allow overrides it.

        When several patterns refuse, the longest explains best ("through analytics" over "then").
        """
        progress = log.progress
        covered: frozenset[str] | None = None
        worst: tuple[SeqRule, frozenset[str]] | None = None
        for rule in denies:
            if progress.get(rule.key, 0) != rule.last or (worst is not None and rule.last <= worst[0].last):
                continue
            bound = rule.roles & roles
            refusing = bound & view.strict_roles
            if not refusing:
                if covered is None:
                    covered = _covered(view, progress, tool)
                refusing = bound - covered
            if refusing:
                worst = (rule, refusing)
        return None if worst is None else _deny_violation(worst[0], log, tool, worst[1])

    def _view(self, roles: frozenset[str]) -> _View:
        bound = [r for r in sorted(roles) if r in self.role_rules]
        denies = {i for r in bound for i in self.role_rules[r].denies}
        allows = {i for r in bound for i in self.role_rules[r].allows}
        strict = frozenset(r for r in bound if self.role_rules[r].mode == "deny")
        flows = {id(w): w for r in sorted(strict) if (w := self.workflows.get(r)) is not None}
        view = _View(
            _index([self.rules[i] for i in sorted(denies)], lambda rule: rule.steps[-1:]),
            _index([self.rules[i] for i in sorted(allows)], lambda rule: rule.steps[-1:]),
            strict,
            tuple(flows.values()),
        )
        if len(self._views) >= _VIEW_CACHE_LIMIT:
            self._views.clear()
        self._views[roles] = view
        return view


def _rebuild(
    progress: dict[int, int], rules: list[SeqRule], history: Iterable[str], *, truncated: bool
) -> None:
    """Replay the history for ``rules``; with a truncated history a deny rule is taken as started.

    Progress read from the retained calls is a lower bound: for an allow rule (which only ever
    overrides a refusal) that is the safe side; for a deny rule it is not, so the rule is put at its
    last step and the call that would complete it is refused.
    """
    advance = _index(_distinct(rules), lambda rule: rule.steps[: rule.last])
    for rule in rules:
        progress.pop(rule.key, None)
    for tool in history:
        for rule in advance.get(tool, ()):
            k = progress.get(rule.key, 0)
            if k < rule.last and tool in rule.steps[k]:
                progress[rule.key] = k + 1
    if truncated:
        for rule in rules:
            if rule.kind == "deny":
                progress[rule.key] = rule.last


def _distinct(rules: Iterable[SeqRule]) -> list[SeqRule]:
    return list({rule.key: rule for rule in rules}.values())


def _index(
    rules: Iterable[SeqRule], steps_of: Callable[[SeqRule], tuple[frozenset[str], ...]]
) -> dict[str, tuple[SeqRule, ...]]:
    """Map each tool to the rules whose selected steps contain it (each rule once per tool)."""
    out: dict[str, list[SeqRule]] = {}
    for rule in rules:
        seen: set[str] = set()
        for step in steps_of(rule):
            for tool in step:
                if tool not in seen:
                    seen.add(tool)
                    out.setdefault(tool, []).append(rule)
    return {tool: tuple(found) for tool, found in out.items()}


def _covered(view: _View, progress: Mapping[int, int], tool: str) -> frozenset[str]:
    """Roles that hold an allow pattern this call completes (each overrides only its own roles' denies)."""
    roles: set[str] = set()
    for rule in view.allow_last.get(tool, ()):
        if progress.get(rule.key, 0) == rule.last:
            roles |= rule.roles
    return frozenset(roles)


def matched_trail(rule: SeqRule, history: Sequence[str], window: int = TRAIL_WINDOW) -> list[tuple[int, str]]:
    """Name recent calls (1-based position, tool) matching the steps before the last, latest first found.

    Scans back at most ``window`` calls, so explaining a refusal never costs a pass over a long
    history; steps matched earlier than that are left out (the message says so).
    """
    found: list[tuple[int, str]] = []
    k = rule.last - 1
    position = len(history)
    for tool in itertools.islice(reversed(history), window):
        if k < 0:
            break
        if tool in rule.steps[k]:
            found.append((position, tool))
            k -= 1
        position -= 1
    found.reverse()
    return found


def _deny_violation(rule: SeqRule, log: RequestLog, tool: str, roles: frozenset[str]) -> Violation:
    trail = matched_trail(rule, log.history)
    parts = [f"{name} (call {position})" for position, name in trail]
    missing = rule.last - len(trail)
    if missing:
        parts.insert(0, f"{' → '.join(rule.refs[:missing])} (earlier)")
    parts.append(f"{tool} (this call)")
    who = ", ".join(sorted(roles))
    because = f": {rule.reason}" if rule.reason else ""
    message = f"sequence rule deny {rule.pattern} of role {who}{because}; matched {' → '.join(parts)}"
    return Violation(
        Reason.SEQUENCE_VIOLATION,
        tool,
        "deny",
        rule.location,
        message,
        (*(name for _, name in trail), tool),
    )


def _workflow_violation(workflow: Workflow, previous: str | None, tool: str) -> Violation:
    allowed = workflow.next_refs(previous)
    shown = ", ".join(allowed[:_NAMES_SHOWN]) + (", …" if len(allowed) > _NAMES_SHOWN else "")
    who = ", ".join(workflow.roles)
    if previous is None:
        what = f"'{tool}' cannot start a request"
        after = f"allowed first calls: {shown or 'none'}"
    else:
        what = f"no allowed step leads from '{previous}' to '{tool}'"
        after = f"allowed after '{previous}': {shown or 'nothing'}"
    message = f"role {who} uses sequence mode deny: {what} ({after})"
    return Violation(
        Reason.SEQUENCE_VIOLATION, tool, "workflow", workflow.location, message, (previous, tool)
    )
