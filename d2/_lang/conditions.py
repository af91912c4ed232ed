"""Input conditions: check a call's bound arguments against the grant's constraints before it runs.

The guard binds arguments to the signature with defaults applied (so a default is validated too) and
calls :meth:`InputConditions.check`. Each parameter's operators were compiled at load; a call runs a
loop over closures. ``params`` lets the guard refuse, when it first meets the policy, a condition that
names a parameter the function does not have: a typo must not turn into a silent pass.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from d2._base.diagnostics import Location
from d2._core.callkeys import CALL, CHECKED
from d2._core.model import Violation
from d2._lang.constraint import compile_constraint, report
from d2._lang.each import item_failure, list_hint
from d2._lang.inspection import Opaque, snapshot
from d2._lang.operators import Constraint, Test
from d2.exceptions import Reason

if TYPE_CHECKING:
    from d2._core.state import RequestState
    from d2._lang.compile_context import CompileContext
    from d2._lang.source import JsonPath

__all__ = ["CALL", "CHECKED", "InputConditions", "compile_input_conditions"]

_MISSING: Any = object()
_EXACT = frozenset({str, int, float, bool, type(None)})


@dataclass(frozen=True, slots=True)
class _Param:
    name: str
    constraint: Constraint


class InputConditions:
    """The compiled ``conditions.input`` of one grant (implements the ``InputCheck`` protocol)."""

    __slots__ = ("_fields", "check", "location", "params")

    def __init__(self, params: tuple[_Param, ...], location: Location) -> None:
        self.params: frozenset[str] = frozenset(p.name for p in params)
        self.location = location
        self._fields = tuple((p.name, p.constraint.passes, p) for p in params)
        # The passing path, unrolled; anything else (a failure, a missing or non-plain value) is
        # decided again, from the start, by check_all.
        self.check: Check = _passing_path(
            tuple((p.name, p.constraint.passes) for p in params), self.check_all
        )

    def __repr__(self) -> str:
        return f"<InputConditions {sorted(self.params)} at {self.location}>"

    def check_all(self, args: Mapping[str, Any], state: RequestState) -> Violation | None:
        """Return the first failed condition (parameter, operator, rule location), or None.

        A value that is not a plain ``str``/``int``/``float``/``bool``/``None`` is checked as its
        :func:`snapshot` (exact built-in types, containers copied); when ``args`` is the guard's dict
        of bound arguments, the snapshot replaces the value there and the dict is handed back to the
        call (see :func:`_take_snapshot`), so the tool receives exactly what was checked.
        """
        for name, passes, param in self._fields:
            value = args.get(name, _MISSING)
            if value.__class__ in _EXACT:  # the common case: a plain value, checked as it is
                ok = passes(value, state)
            elif value is _MISSING:
                if param.constraint.required:
                    return self._missing(param)
                continue
            else:
                try:
                    value = _take_snapshot(args, name, value)
                    ok = passes(value, state)
                except Opaque as exc:
                    return _opaque(param, self.location, exc)
            if not ok:
                try:
                    return _failure(param, value, state)
                except Opaque as exc:
                    return _opaque(param, self.location, exc)
        return None

    def _missing(self, param: _Param) -> Violation:
        return Violation(
            Reason.INPUT_VALIDATION,
            param.name,
            "required",
            param.constraint.required_location or self.location,
            f"parameter '{param.name}' is required but was not passed",
        )


Check = Callable[[Mapping[str, Any], Any], Violation | None]


def _passing_path(fields: tuple[tuple[str, Test], ...], check_all: Check) -> Check:
    """``check`` for the common call: every value present, plain, and passing (one closure, no loop).

    A plain ``str``/``int``/``float``/``bool``/``None`` is immutable, so deciding it twice (here, then
    in ``check_all`` when something is off) cannot see two different values; ``check_all`` alone
    handles missing parameters, snapshots and the refusal message.
    """
    exact = _EXACT
    missing = _MISSING
    if len(fields) == 1:
        ((a, pa),) = fields

        def check1(args: Mapping[str, Any], state: Any) -> Violation | None:
            v = args.get(a, missing)
            if v.__class__ in exact and pa(v, state):
                return None
            return check_all(args, state)

        return check1
    if len(fields) == 2:
        (a, pa), (b, pb) = fields

        def check2(args: Mapping[str, Any], state: Any) -> Violation | None:
            get = args.get
            v = get(a, missing)
            if v.__class__ in exact and pa(v, state):
                v = get(b, missing)
                if v.__class__ in exact and pb(v, state):
                    return None
            return check_all(args, state)

        return check2
    if len(fields) == 3:
        (a, pa), (b, pb), (c, pc) = fields

        def check3(args: Mapping[str, Any], state: Any) -> Violation | None:
            get = args.get
            v = get(a, missing)
            if v.__class__ in exact and pa(v, state):
                v = get(b, missing)
                if v.__class__ in exact and pb(v, state):
                    v = get(c, missing)
                    if v.__class__ in exact and pc(v, state):
                        return None
            return check_all(args, state)

        return check3

    def check(args: Mapping[str, Any], state: Any) -> Violation | None:
        get = args.get
        for name, passes in fields:
            v = get(name, missing)
            if v.__class__ not in exact or not passes(v, state):
                return check_all(args, state)
        return None

    return check


def _take_snapshot(args: Mapping[str, Any], name: str, value: Any) -> Any:
    """Check the snapshot; put it in the bound arguments and hand those to the call being decided.

    The guard's bound arguments carry the call's own keyword dict under :data:`CALL`; the bound
    dict is put there under :data:`CHECKED`, where the guard finds it before it calls the tool.
    """
    copy = snapshot(value)
    if copy is not value and isinstance(args, dict):
        args[name] = copy
        call = args.pop(CALL, None)
        if call is not None:
            call[CHECKED] = args
    return copy


def _opaque(param: _Param, where: Location, exc: Opaque) -> Violation:
    return Violation(
        Reason.INPUT_VALIDATION, param.name, "inspect", where, f"parameter '{param.name}' {exc.message}"
    )


def _failure(param: _Param, value: Any, state: Any) -> Violation:
    """Name the operator a value failed (the fused predicate only says that one did)."""
    check = param.constraint.first_failure(value, state)
    assert check is not None
    item, check, failed = item_failure(check, value, state)
    message = f"parameter '{param.name}'{' item ' + item if item else ''} failed '{check.op}': {check.expect}"
    message += list_hint(check, failed)
    return Violation(Reason.INPUT_VALIDATION, param.name, check.op, check.location, message, value)


def compile_input_conditions(node: Any, path: JsonPath, ctx: CompileContext) -> InputConditions | None:
    """Compile ``conditions.input`` of one grant; report every problem; None when empty or invalid."""
    if not isinstance(node, dict):
        return None  # the shape check reports it
    params: list[_Param] = []
    ok = True
    for name, rule in node.items():
        rule_path = (*path, name)
        if not name.isidentifier():
            report(
                ctx,
                "D2E105",
                f"input condition names {name!r}, which cannot be a Python parameter name",
                rule_path,
                "input conditions name top-level parameters; validate nested data with output rules "
                "or a dict-typed parameter",
                key=True,
            )
            ok = False
            continue
        if not isinstance(rule, dict):
            ok = False
            continue
        constraint = compile_constraint(rule, rule_path, ctx)
        if constraint is None:
            ok = False
            continue
        if not constraint.checks and not constraint.required:
            ctx.warning("D2W101", f"the condition on '{name}' checks nothing", rule_path, key=True)
        params.append(_Param(name, constraint))
    if not ok or not params:
        return None
    return InputConditions(tuple(params), ctx.loc(path, key=True))
