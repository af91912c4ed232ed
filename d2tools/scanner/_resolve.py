"""Decide from scope metadata what an expression refers to: the d2 guard, a string, or a function.

Every answer comes from LibCST's scope analysis (``Scope.get_qualified_names_for``, the assignments
recorded for a name), never from the text: ``d2_guard`` counts only when it is bound by an import
from ``d2``, and a name counts as a constant only when it is bound exactly once, to a string.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import libcst as cst
from libcst.metadata import Assignment, BaseAssignment, ImportAssignment, QualifiedNameSource, Scope

from ._model import IdSource
from ._visitor import FunctionInfo

__all__ = ["FIX_HINT", "GUARD_NAMES", "GuardUse", "IdValue", "Resolver", "absolute_name"]

# Fully qualified names under which the runtime exports the guard decorator.
GUARD_NAMES = frozenset({"d2.d2_guard", "d2.d2"})
# Built-in decorators that turn a function into a non-function object the guard refuses.
DESCRIPTORS = frozenset({"builtins.staticmethod", "builtins.classmethod", "builtins.property"})
_MAX_HOPS = 8
FIX_HINT = "pass a string literal, or a module-level name bound once to a string literal"


@dataclass(frozen=True, slots=True)
class GuardUse:
    """An expression that evaluates to the guard: a bare reference, or a call with the id arguments."""

    call: cst.Call | None


@dataclass(frozen=True, slots=True)
class IdValue:
    """What the scanner knows about a tool id expression."""

    value: str | None
    source: IdSource
    reason: str | None = None  # why it cannot be known statically (source UNRESOLVED)
    ref: str | None = None  # absolute dotted name of an imported constant, resolved across files


class Resolver:
    """Answer questions about expressions of one module from its scope metadata."""

    def __init__(
        self,
        scopes: Mapping[cst.CSTNode, Scope | None],
        values: Mapping[cst.CSTNode, cst.BaseExpression],
        functions: Mapping[cst.CSTNode, FunctionInfo],
        *,
        module: str,
        is_package: bool,
    ) -> None:
        self._scopes = scopes
        self._values = values
        self._functions = functions
        self._module = module
        self._is_package = is_package

    def guard_use(self, expr: cst.BaseExpression, hops: int = 0) -> GuardUse | None:
        """Return how ``expr`` evaluates to the d2 guard, or ``None`` when it does not."""
        if self.is_guard(expr, hops):
            return GuardUse(call=None)
        if isinstance(expr, cst.Call) and self.is_guard(expr.func, hops):
            return GuardUse(call=expr)
        value = self._single_value(expr) if hops < _MAX_HOPS else None
        return None if value is None else self.guard_use(value, hops + 1)

    def is_guard(self, expr: cst.BaseExpression, hops: int = 0) -> bool:
        """True when ``expr`` names ``d2.d2_guard``/``d2.d2`` through an import (or an alias of one)."""
        if not isinstance(expr, (cst.Name, cst.Attribute)):
            return False
        if self._qualified(expr, QualifiedNameSource.IMPORT) & GUARD_NAMES:
            return True
        value = self._single_value(expr) if hops < _MAX_HOPS else None
        return value is not None and self.is_guard(value, hops + 1)

    def is_descriptor(self, expr: cst.BaseExpression) -> bool:
        """True for the built-in ``staticmethod``/``classmethod``/``property`` decorators."""
        return bool(self._qualified(expr, QualifiedNameSource.BUILTIN) & DESCRIPTORS)

    def function(
        self, expr: cst.BaseExpression, *, rebinding: cst.CSTNode | None = None
    ) -> FunctionInfo | None:
        """Return the def or lambda that ``expr`` names, when exactly one binding in scope is a candidate.

        ``rebinding`` is the call being examined: in ``f = d2_guard(f)`` the assignment of its own
        result to ``f`` is not a definition of the function it receives.
        """
        if isinstance(expr, cst.Lambda):
            return self._functions.get(expr)
        found = self._assignments(expr)
        if found is None:
            return None
        candidates = [a for a in found if self._value_of(a) is not rebinding or rebinding is None]
        if len(candidates) != 1 or type(candidates[0]) is not Assignment:
            return None
        node = candidates[0].node
        if node in self._functions:
            return self._functions[node]
        value = self._values.get(node)
        return self._functions.get(value) if isinstance(value, cst.Lambda) else None

    def _value_of(self, assignment: object) -> cst.BaseExpression | None:
        return self._values.get(assignment.node) if isinstance(assignment, Assignment) else None

    def string(self, expr: cst.BaseExpression, hops: int = 0) -> IdValue:
        """Evaluate a tool id expression statically, or say why it cannot be done."""
        source = IdSource.EXPLICIT if hops == 0 else IdSource.CONSTANT
        if isinstance(expr, (cst.SimpleString, cst.ConcatenatedString)):
            value = expr.evaluated_value
            if isinstance(value, str):
                return IdValue(value, source)
            return _unresolved("is a bytes literal or contains an f-string, so it is not a constant string")
        if isinstance(expr, cst.Name) and expr.value == "None":
            return IdValue(None, IdSource.AUTO)
        if isinstance(expr, (cst.Name, cst.Attribute)):
            return self._named_string(expr, hops)
        return _unresolved(f"is {_describe(expr)}, computed at run time")

    def _named_string(self, expr: cst.Name | cst.Attribute, hops: int) -> IdValue:
        imported = self._qualified(expr, QualifiedNameSource.IMPORT)
        if len(imported) == 1 and self._only_imports(expr):
            name = absolute_name(next(iter(imported)), self._module, self._is_package)
            if name is not None:
                return IdValue(None, IdSource.CONSTANT, ref=name)
        shown = cst.Module([]).code_for_node(expr)
        if isinstance(expr, cst.Attribute):
            return _unresolved(f"'{shown}' is an attribute, looked up at run time")
        count = self._assignment_count(expr)
        if count != 1:
            where = "is never assigned in this module" if count == 0 else f"is assigned {count} times"
            return _unresolved(f"'{shown}' {where}, so its value at decoration time is unknown")
        assignment = self._single_assignment(expr)
        if assignment is not None and isinstance(assignment.node, cst.Param):
            return _unresolved(f"'{shown}' is a parameter, known only when the function is called")
        value = self._single_value(expr)
        if value is None or hops >= _MAX_HOPS:
            return _unresolved(f"'{shown}' is not bound by a plain assignment to a string")
        inner = self.string(value, hops + 1)
        if inner.source is IdSource.UNRESOLVED:
            return _unresolved(f"'{shown}' is not bound to a string literal")
        return inner

    def _qualified(self, expr: cst.BaseExpression, source: QualifiedNameSource) -> set[str]:
        scope = self._scopes.get(expr)
        if scope is None:
            return set()
        return {q.name for q in scope.get_qualified_names_for(expr) if q.source is source}

    def _assignments(self, expr: cst.BaseExpression) -> set[BaseAssignment] | None:
        scope = self._scopes.get(expr)
        if scope is None or not isinstance(expr, cst.Name):
            return None
        return set(scope[expr.value])

    def _assignment_count(self, expr: cst.BaseExpression) -> int:
        found = self._assignments(expr)
        return 0 if found is None else len(found)

    def _only_imports(self, expr: cst.Name | cst.Attribute) -> bool:
        """True when the root name of ``expr`` is bound only by import statements."""
        root: cst.BaseExpression = expr
        while isinstance(root, cst.Attribute):
            root = root.value
        scope = self._scopes.get(root)
        if scope is None or not isinstance(root, cst.Name):
            return False
        found = scope[root.value]
        return bool(found) and all(isinstance(a, ImportAssignment) for a in found)

    def _single_assignment(self, expr: cst.BaseExpression) -> Assignment | None:
        found = self._assignments(expr)
        if found is None or len(found) != 1:
            return None
        (only,) = found
        return only if type(only) is Assignment else None

    def _single_value(self, expr: cst.BaseExpression) -> cst.BaseExpression | None:
        """Return the value a name is bound to, when one plain assignment binds it."""
        assignment = self._single_assignment(expr)
        return None if assignment is None else self._values.get(assignment.node)


def absolute_name(name: str, module: str, is_package: bool) -> str | None:
    """Turn a qualified name from a relative import (``..ids.TOOL``) into an absolute one."""
    rest = name.lstrip(".")
    dots = len(name) - len(rest)
    if dots == 0:
        return name
    package = module.split(".") if is_package else module.split(".")[:-1]
    if dots - 1 >= len(package):
        return None
    return ".".join([*package[: len(package) - (dots - 1)], *([rest] if rest else [])])


def _unresolved(reason: str) -> IdValue:
    return IdValue(None, IdSource.UNRESOLVED, reason=reason)


def _describe(expr: cst.BaseExpression) -> str:
    if isinstance(expr, cst.FormattedString):
        return "an f-string"
    if isinstance(expr, cst.Call):
        return "a call result"
    if isinstance(expr, cst.Subscript):
        return "a subscript"
    if isinstance(expr, (cst.BinaryOperation, cst.UnaryOperation, cst.BooleanOperation, cst.IfExp)):
        return "an expression"
    return f"a {type(expr).__name__} expression"
