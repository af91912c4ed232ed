"""Input conditions: check a call's bound arguments against the grant's constraints before it runs.

The guard binds arguments to the signature with defaults applied (so a default is validated too) and
calls :meth:`InputConditions.check`. Each parameter's operators were compiled at load; a passing call
runs one generated function with the operators' tests inline (see :func:`_passing_path`). ``params``
lets the guard refuse, when it first meets the policy, a condition that names a parameter the function
does not have: a typo must not turn into a silent pass.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from d2._base.diagnostics import Location
from d2._core.callkeys import CALL, CHECKED, Unseen
from d2._core.model import Violation
from d2._lang.constraint import compile_constraint, report
from d2._lang.each import item_failure, list_hint
from d2._lang.fuse import EXACT as _EXACT
from d2._lang.fuse import plain_expression
from d2._lang.inspection import Opaque, snapshot
from d2._lang.operators import Constraint
from d2.exceptions import Reason

if TYPE_CHECKING:
    from d2._core.state import RequestState
    from d2._lang.compile_context import CompileContext
    from d2._lang.source import JsonPath

__all__ = ["CALL", "CHECKED", "InputConditions", "compile_input_conditions"]

_MISSING: Any = object()


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
        # The passing path, generated on the first call (a large policy loads without generating one
        # per grant); anything else (a failure, a missing or non-plain value) is decided again, from
        # the start, by check_all.
        self.check: Check = self._first_check

    def __repr__(self) -> str:
        return f"<InputConditions {sorted(self.params)} at {self.location}>"

    def _first_check(self, args: Mapping[str, Any], state: RequestState) -> Violation | None:
        """Generate the passing path, keep it as ``check``, and decide this call with it."""
        check = self.check = _passing_path(
            tuple(param for _name, _passes, param in self._fields), self.check_all
        )
        return check(args, state)

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
            elif value.__class__ is Unseen:
                return self._unseen(param, value)
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

    def _unseen(self, param: _Param, value: Unseen) -> Violation:
        return Violation(
            Reason.INPUT_VALIDATION,
            param.name,
            "inspect",
            self.location,
            f"parameter '{param.name}' {value.why}",
        )

    def _missing(self, param: _Param) -> Violation:
        return Violation(
            Reason.INPUT_VALIDATION,
            param.name,
            "required",
            param.constraint.required_location or self.location,
            f"parameter '{param.name}' is required but was not passed",
        )


Check = Callable[[Mapping[str, Any], Any], Violation | None]


def _passing_path(params: tuple[_Param, ...], check_all: Check) -> Check:
    """``check`` for the common call: every value present, plain, and passing (one function, inline tests).

    Generated once per shape of grant: for each parameter, one read and one boolean expression
    (:func:`plain_expression`) that is true only for a plain ``str``/``int``/``float``/``bool``/``None``
    that passes every operator. A plain value is immutable, so deciding it twice (here, then in
    ``check_all`` when something is off) cannot see two different values; ``check_all`` alone handles
    missing parameters, snapshots and the refusal message.
    """
    env: dict[str, Any] = {"check_all": check_all}
    lines = []
    for i, param in enumerate(params):
        expr, names = plain_expression(param.constraint.checks, param.constraint.passes, f"k{i}_")
        env.update(names)
        env[f"n{i}"] = param.name
        lines += [
            "try:",
            f"    v = args[n{i}]",
            "except KeyError:",  # missing: check_all says whether it is required
            "    return check_all(args, s)",
            f"if not {expr}:",
            "    return check_all(args, s)",
        ]
    # Only a plain dict is read by subscript (a mapping's own __getitem__ or __missing__ may differ from get).
    head = ["if args.__class__ is not dict:", "    return check_all(args, s)"]
    body = "\n".join("        " + line for line in [*head, *lines, "return None"])
    source = f"def make({', '.join(env)}):\n    def check(args, s):\n{body}\n    return check\n"
    make = _FACTORIES.get(source)
    if make is None:
        make = _compile_factory(source)
        if len(_FACTORIES) < _MAX_FACTORIES:  # restrictions compile at run time: keep the cache bounded
            _FACTORIES[source] = make
    check: Check = make(**env)
    return check


# Generated factories by source text: a policy's grants share a few shapes, so a policy of thousands
# of conditioned grants compiles a handful of functions at load, not one per grant.
_FACTORIES: dict[str, Callable[..., Any]] = {}
_MAX_FACTORIES = 1024


_BUILTINS = {
    "__builtins__": {
        "len": len,
        "str": str,
        "int": int,
        "float": float,
        "bool": bool,
        "dict": dict,
        "KeyError": KeyError,
    }
}


def _compile_factory(source: str) -> Callable[..., Any]:
    """Compile a factory whose text holds only names made by :func:`_passing_path` (no policy text)."""
    namespace: dict[str, Any] = {}
    exec(compile(source, "<d2 input conditions>", "exec"), _BUILTINS, namespace)
    make: Callable[..., Any] = namespace["make"]
    return make


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
