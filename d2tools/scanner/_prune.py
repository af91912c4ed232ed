"""Shrink a module to the parts that can hold a guard, so scope analysis stays fast on large trees.

Scope and position analysis cost time in proportion to the whole tree, yet guards live in a few
places: decorators, module and class bodies, and the few function bodies that define functions or
import things. A function body is replaced by ``...`` padded with blank lines (so every later node
keeps its line and column) when nothing in it can matter to the scan: no nested ``def``/``class``/
``lambda``, no ``import``, ``global`` or ``nonlocal``, and no name that may refer to the d2 guard.
Such a body only binds names local to itself, so removing it changes no name resolution outside
it. The test is deliberately conservative (any matching word keeps the body; false matches only
cost time). It is a performance filter, never the resolution itself: what a decorator refers to
is decided afterwards by LibCST's scope analysis on the pruned tree.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from functools import lru_cache

import libcst as cst

__all__ = ["prune"]

# Words whose presence in a function body means the body must be analysed.
_KEEP_WORDS = frozenset({"def", "class", "lambda", "import", "global", "nonlocal", "__import__", "d2", "d2_guard"})
_NEWLINE = re.compile(r"\r\n?|\n")
_MAX_ALIAS_PASSES = 4


def prune(module: cst.Module) -> cst.Module:
    """Return ``module`` with irrelevant function bodies stubbed out, positions unchanged."""
    aliases = _aliases(_small_statements(module.body), module, _KEEP_WORDS)
    pruned = module.visit(_Pruner(module, aliases))
    return pruned


class _Pruner(cst.CSTTransformer):
    """Stub out function bodies that cannot contain or reach a guard."""

    def __init__(self, module: cst.Module, aliases: frozenset[str]) -> None:
        super().__init__()
        self._module = module
        self._aliases: list[frozenset[str]] = [aliases]
        self._stubbed: list[int | None] = []

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> bool:
        return False

    def visit_Decorator(self, node: cst.Decorator) -> bool:
        return False

    def visit_Parameters(self, node: cst.Parameters) -> bool:
        return False

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        body = node.body
        if not isinstance(body, cst.IndentedBlock):
            self._stubbed.append(None)
            self._aliases.append(self._aliases[-1])
            return False
        code = self._module.code_for_node(body)
        words = self._aliases[-1]
        if _pattern(words).search(code) is None:
            self._stubbed.append(len(_NEWLINE.findall(code)))
            self._aliases.append(words)
            return False
        self._stubbed.append(None)
        self._aliases.append(_aliases(_small_statements(body.body), self._module, words))
        return True

    def leave_FunctionDef(self, original_node: cst.FunctionDef, updated_node: cst.FunctionDef) -> cst.FunctionDef:
        self._aliases.pop()
        lines = self._stubbed.pop()
        if lines is None or not isinstance(original_node.body, cst.IndentedBlock):
            return updated_node
        return updated_node.with_changes(body=self._stub(original_node.body, lines))

    def _stub(self, block: cst.IndentedBlock, lines: int) -> cst.IndentedBlock:
        """Replace the block's statements by ``...`` preceded by enough blank lines to keep its height."""
        stub = block.with_changes(body=[cst.SimpleStatementLine([cst.Expr(cst.Ellipsis())])])
        missing = lines - len(_NEWLINE.findall(self._module.code_for_node(stub)))
        if missing <= 0:
            return stub
        padding = [cst.EmptyLine(indent=False)] * missing
        return block.with_changes(body=[cst.SimpleStatementLine([cst.Expr(cst.Ellipsis())], leading_lines=padding)])


@lru_cache(maxsize=256)
def _pattern(words: frozenset[str]) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(re.escape(w) for w in sorted(words)) + r")\b")


def _aliases(smalls: list[cst.BaseSmallStatement], module: cst.Module, known: frozenset[str]) -> frozenset[str]:
    """Add the names these statements bind to d2 imports, or to values mentioning a known alias."""
    found = set(known)
    for _ in range(_MAX_ALIAS_PASSES):
        before = len(found)
        for small in smalls:
            found.update(_bound_names(small, module, found))
        if len(found) == before:
            break
    return frozenset(found)


def _bound_names(small: cst.BaseSmallStatement, module: cst.Module, known: set[str]) -> Iterator[str]:
    if isinstance(small, cst.Import):
        for alias in small.names:
            if _dotted(alias.name).split(".")[0] == "d2":
                yield _bound_name(alias)
    elif isinstance(small, cst.ImportFrom):
        if small.relative or small.module is None or _dotted(small.module).split(".")[0] != "d2":
            return
        if not isinstance(small.names, cst.ImportStar):
            yield from (_bound_name(alias) for alias in small.names)
    elif isinstance(small, (cst.Assign, cst.AnnAssign)) and small.value is not None:
        if _pattern(frozenset(known)).search(module.code_for_node(small.value)) is not None:
            targets = [t.target for t in small.targets] if isinstance(small, cst.Assign) else [small.target]
            for target in targets:
                yield from _names_in_target(target)


def _bound_name(alias: cst.ImportAlias) -> str:
    if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
        return alias.asname.name.value
    return _dotted(alias.name).split(".")[0]


def _names_in_target(target: cst.BaseExpression) -> Iterator[str]:
    if isinstance(target, cst.Name):
        yield target.value
    elif isinstance(target, (cst.Tuple, cst.List)):
        for element in target.elements:
            yield from _names_in_target(element.value)


def _dotted(node: cst.BaseExpression) -> str:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        return f"{_dotted(node.value)}.{node.attr.value}"
    return ""


def _small_statements(body: Sequence[cst.CSTNode]) -> list[cst.BaseSmallStatement]:
    """Flatten the simple statements of a body, entering if/try/with/for/while but not def/class."""
    out: list[cst.BaseSmallStatement] = []
    for stmt in body:
        if isinstance(stmt, (cst.SimpleStatementLine, cst.SimpleStatementSuite)):
            out.extend(stmt.body)
        elif not isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
            for suite in _suites(stmt):
                out.extend(_small_statements([suite] if isinstance(suite, cst.SimpleStatementSuite) else suite.body))
    return out


def _suites(node: cst.CSTNode) -> Iterator[cst.BaseSuite]:
    """Yield the bodies of a compound statement and of its else/except/finally/case parts."""
    for attr in ("body", "orelse", "finalbody"):
        part = getattr(node, attr, None)
        if isinstance(part, cst.BaseSuite):
            yield part
        elif isinstance(part, (cst.If, cst.Else, cst.Finally)):
            yield from _suites(part)
    for handler in getattr(node, "handlers", ()):
        yield handler.body
    for case in getattr(node, "cases", ()):
        yield case.body
