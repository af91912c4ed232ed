"""Collect, in one pass over a (pruned) module, everything the resolver needs to find guards.

The collector records facts, not conclusions: every function and lambda with its ``__qualname__``,
every decorator, every call that might apply a guard, and the value bound by each simple
assignment. Whether a decorator is the d2 guard is decided later from scope metadata.
"""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst

__all__ = ["Collector", "FunctionInfo"]

FunctionNode = cst.FunctionDef | cst.Lambda | cst.ClassDef


@dataclass(frozen=True, slots=True)
class FunctionInfo:
    """A function, lambda or class as the runtime names it (a guard can wrap any of them)."""

    node: FunctionNode
    qualname: str
    is_async: bool


class Collector(cst.CSTVisitor):
    """Record functions and classes (with qualnames), decorators, candidate calls and assignments."""

    def __init__(self) -> None:
        super().__init__()
        self.functions: dict[cst.CSTNode, FunctionInfo] = {}
        self.values: dict[cst.CSTNode, cst.BaseExpression] = {}
        self.decorated: list[tuple[cst.FunctionDef | cst.ClassDef, tuple[cst.Decorator, ...]]] = []
        self.calls: list[cst.Call] = []
        self.has_main_guard = False
        self._prefix: list[str] = []
        self._decorator_calls: set[int] = set()

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        qualname = ".".join([*self._prefix, node.name.value])
        is_async = node.asynchronous is not None
        self.functions[node] = FunctionInfo(node, qualname, is_async)
        self._note_decorators(node)
        self._prefix.extend((node.name.value, "<locals>"))

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        del self._prefix[-2:]

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.functions[node] = FunctionInfo(node, ".".join([*self._prefix, node.name.value]), False)
        self._note_decorators(node)
        self._prefix.append(node.name.value)

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self._prefix.pop()

    def visit_Lambda(self, node: cst.Lambda) -> None:
        qualname = ".".join([*self._prefix, "<lambda>"])
        self.functions[node] = FunctionInfo(node, qualname, False)
        self._prefix.extend(("<lambda>", "<locals>"))

    def leave_Lambda(self, original_node: cst.Lambda) -> None:
        del self._prefix[-2:]

    def visit_Call(self, node: cst.Call) -> None:
        if id(node) not in self._decorator_calls and isinstance(
            node.func, (cst.Name, cst.Attribute, cst.Call)
        ):
            self.calls.append(node)

    def visit_Assign(self, node: cst.Assign) -> None:
        for target in node.targets:
            if isinstance(target.target, cst.Name):
                self.values[target.target] = node.value

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if node.value is not None and isinstance(node.target, cst.Name):
            self.values[node.target] = node.value

    def visit_If(self, node: cst.If) -> None:
        if not self._prefix and _is_main_test(node.test):
            self.has_main_guard = True

    def _note_decorators(self, node: cst.FunctionDef | cst.ClassDef) -> None:
        if node.decorators:
            self.decorated.append((node, tuple(node.decorators)))
            self._decorator_calls.update(id(d.decorator) for d in node.decorators)


def _is_main_test(test: cst.BaseExpression) -> bool:
    """Recognise ``__name__ == "__main__"`` (either side)."""
    if not isinstance(test, cst.Comparison) or len(test.comparisons) != 1:
        return False
    target = test.comparisons[0]
    if not isinstance(target.operator, cst.Equal):
        return False
    sides = (test.left, target.comparator)
    names = [s.value for s in sides if isinstance(s, cst.Name)]
    strings = [s.evaluated_value for s in sides if isinstance(s, cst.SimpleString)]
    return names == ["__name__"] and strings == ["__main__"]
