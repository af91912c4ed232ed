"""Replay cases through the engine the guard uses: ``authorize`` then ``apply_output``, one request per case.

There is no second evaluator. A case is one :class:`~d2._toolkit.RequestState`; its steps share the
request's history and facts, so sequence and data-flow rules see exactly what they would at run
time. Arguments are bound to the tool's parameter list (declared, or read from the code) with
defaults applied, as the guard binds them, and only when some grant has input conditions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from time import perf_counter
from typing import Any, Protocol

from d2._toolkit import (
    Binder,
    CompiledPolicy,
    Grant,
    RequestLog,
    RequestState,
    RequestValues,
    apply_output,
    authorize,
    compile_binder,
    compile_restriction,
    deny,
    origins_of,
    track_output,
)
from d2.exceptions import ConfigurationError, PermissionDeniedError, Reason

from ._check import check_step
from ._model import UNKNOWN_DEFAULT, Case, Step, ToolSignature, split_location
from ._result import CaseResult, Failure, Outcome, Status

__all__ = ["Observer", "Replayer", "ScenarioError"]


class ScenarioError(Exception):
    """The scenario cannot be replayed as written (e.g. positional arguments with no parameter list)."""


class Observer(Protocol):
    """Sees every replayed step (coverage uses this)."""

    def step(
        self, policy: CompiledPolicy, state: RequestState, step: Step, outcome: Outcome, bound: Any
    ) -> None: ...


class _Args:
    """The lazily bound arguments of one step; the engine asks only when an input condition needs them."""

    __slots__ = ("bound", "replayer", "state", "step")

    def __init__(self, replayer: Replayer, step: Step, state: RequestState) -> None:
        self.replayer = replayer
        self.step = step
        self.state = state
        self.bound: Mapping[str, Any] | None = None

    def __call__(self) -> Mapping[str, Any]:
        if self.bound is None:
            self.bound = self.replayer.bind(self.step, self.state)
        return self.bound


class Replayer:
    """Replays cases against one compiled policy with one set of tool parameter lists."""

    def __init__(
        self,
        policy: CompiledPolicy,
        signatures: Mapping[str, ToolSignature],
        *,
        policy_text: str = "",
        observer: Observer | None = None,
    ) -> None:
        self.policy = policy
        self.signatures = signatures
        self.lines = policy_text.splitlines()
        self.observer = observer
        self._verified: dict[str, str | None] = {}
        self._binders: dict[str, Binder] = {}

    def run_case(self, case: Case) -> CaseResult:
        """Replay ``case`` as one request; stop at the first step whose expectation is not met."""
        if case.skip is not None:
            return CaseResult(case, Status.SKIPPED, self.policy.source)
        started = perf_counter()
        state = RequestState(case.user, RequestLog())
        if case.request is not None:  # as d2.set_request_values(...) when the request starts
            origins_of(state.log).request = RequestValues.from_arguments(case.request)
        for n, step in enumerate(case.steps, start=1):
            try:
                if step.restrict is not None:
                    state, failure = self._restrict(step, state)
                else:
                    failure = self._run_step(step, state)
            except Exception as exc:  # a bug in the runner fails this case, never the whole run
                failure = Failure(
                    "error", "a replayable step", f"d2 test failed: {type(exc).__name__}: {exc}", step
                )
            if failure is not None:
                failure = self._with_name_hints(failure, step, state)
                return CaseResult(
                    case, Status.FAILED, self.policy.source, failure, n, perf_counter() - started
                )
        return CaseResult(
            case, Status.PASSED, self.policy.source, None, len(case.steps), perf_counter() - started
        )

    def _with_name_hints(self, failure: Failure, step: Step, state: RequestState) -> Failure:
        """Add a did-you-mean when the step names a tool or role the policy does not know."""
        from d2tools.inspect._eval import name_hints

        if step.call is None or failure.outcome is None or failure.outcome.allowed:
            return failure
        user = step.actor if step.actor is not None else state.user
        hints = name_hints(self.policy, step.call, tuple(sorted(user.roles)))
        if not hints:
            return failure
        return replace(failure, note="; ".join([*([failure.note] if failure.note else []), *hints]))

    def _restrict(self, step: Step, state: RequestState) -> tuple[RequestState, Failure | None]:
        """Narrow the rest of the request, as ``with d2.restrict(fragment):`` around the later steps."""
        assert step.restrict is not None
        try:
            restriction = compile_restriction(step.restrict, self.policy, name=f"step {step.index + 1}")
        except ConfigurationError as exc:
            return state, Failure("error", "a valid restriction", str(exc), step)
        narrowed = replace(state, restrictions=(*state.restrictions, restriction))
        outcome = Outcome(True, facts=frozenset(state.log.facts))
        return narrowed, check_step(step, outcome, None, self.source_line)

    def _run_step(self, step: Step, state: RequestState) -> Failure | None:
        if step.call is None:
            with state.log.lock:
                state.log.facts.update(step.record)
            outcome = Outcome(True, facts=frozenset(state.log.facts))
            return check_step(step, outcome, None, self.source_line)
        acting = state if step.actor is None else RequestState(step.actor, state.log, state.restrictions)
        args = _Args(self, step, acting)
        try:
            outcome = self._decide(step, acting, args)
        except ScenarioError as exc:
            return Failure("error", "a replayable step", str(exc), step)
        if self.observer is not None:
            self.observer.step(self.policy, acting, step, outcome, args)
        return check_step(step, outcome, lambda: self.allowed_by(acting, step, args), self.source_line)

    def _decide(self, step: Step, state: RequestState, args: _Args) -> Outcome:
        tool = step.call
        assert tool is not None
        try:
            grants = authorize(self.policy, state, tool, args)
            value, has_output = step.returns, step.has_returns
            if has_output and grants:
                value = apply_output(grants, value, state, tool)
            if has_output:
                track_output(self.policy, state, tool, value)
        except PermissionDeniedError as exc:
            return Outcome(False, str(exc.reason), exc.location, exc.detail, facts=frozenset(state.log.facts))
        except ScenarioError:
            raise
        except Exception as exc:
            # The guard refuses on an internal error; so does the replay, naming the error.
            detail = f"{type(exc).__name__} inside the guard: {exc}"
            return Outcome(False, Reason.INTERNAL_ERROR.value, None, detail, facts=frozenset(state.log.facts))
        return Outcome(True, has_output=has_output, output=value, facts=frozenset(state.log.facts))

    def bind(self, step: Step, state: RequestState) -> Mapping[str, Any]:
        """Bind a step's arguments as the guard binds a call's: to the signature, defaults applied."""
        tool = step.call
        assert tool is not None
        sig = self.signatures.get(tool)
        if sig is None:
            if step.args:
                raise ScenarioError(
                    f"step passes positional arguments to '{tool}', whose parameters are unknown; declare "
                    f'them under `tools:` (e.g. {tool}: "(a, b=0)") or run with --code DIR'
                )
            return dict(step.kwargs)
        self._verify(sig)
        binder = self._binders.get(tool)
        if binder is None:
            binder = self._binders[tool] = compile_binder(sig.signature)
        try:
            arguments = binder(step.args, step.kwargs)
        except TypeError as exc:
            deny(Reason.INPUT_VALIDATION, tool, state, detail=f"arguments do not match the signature: {exc}")
        for name, value in list(arguments.items()):
            if value is UNKNOWN_DEFAULT:
                if self._conditions_name(tool, name):
                    raise ScenarioError(
                        f"the default of parameter '{name}' of '{tool}' ({sig.origin}) is not a literal, so "
                        "its value is unknown without running the code; pass it in the step"
                    )
                del arguments[name]
        return arguments

    def _verify(self, sig: ToolSignature) -> None:
        """Refuse, as the decorator does, input conditions naming parameters the tool does not have."""
        tool = sig.tool
        if tool not in self._verified:
            self._verified[tool] = _mismatch(self.policy, sig)
        problem = self._verified[tool]
        if problem is not None:
            raise ScenarioError(problem)

    def _conditions_name(self, tool: str, name: str) -> bool:
        return any(
            g.input is not None and name in g.input.params
            for grants in self.policy.grants.get(tool, {}).values()
            for g in grants
        )

    def allowed_by(
        self, state: RequestState, step: Step, args: Callable[[], Mapping[str, Any]]
    ) -> Grant | None:
        """The grant that allowed a call: the first, in the engine's order, whose input conditions pass."""
        assert step.call is not None
        access = self.policy.access(step.call, state.user.roles)
        for grant in access.grants:
            if grant.input is None:
                return grant
            try:
                if grant.input.check(args(), state) is None:
                    return grant
            except Exception:
                continue
        return None

    def source_line(self, location: str | None) -> str | None:
        """The policy text at ``file:line[:col]``, shown under a failure's deciding rule."""
        if not location:
            return None
        _file, line, _col = split_location(location)
        if line is None or not 0 < line <= len(self.lines):
            return None
        return self.lines[line - 1].rstrip()


def _mismatch(policy: CompiledPolicy, sig: ToolSignature) -> str | None:
    if sig.accepts_any_keyword:
        return None
    names = sig.names
    for grants in policy.grants.get(sig.tool, {}).values():
        for grant in grants:
            if grant.input is None:
                continue
            for name in sorted(grant.input.params - names):
                return (
                    f"{grant.input.location}: input condition names parameter '{name}', but tool "
                    f"'{sig.tool}' has parameters {sig.signature} ({sig.origin}); the guard refuses this "
                    "policy when the function is decorated"
                )
    return None
