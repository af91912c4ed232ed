"""Cut a module down to the lines that can hold a guard, so LibCST only analyses those.

LibCST's parser and scope analysis cost time in proportion to the whole file, yet guards live in a
few places: imports, decorators, module and class bodies, and the few function bodies that define
functions or reach the guard. Python's own parser (``ast``, written in C and ~20x faster) is used
only to find the other function bodies; their lines are removed, a ``...`` keeps each block valid,
and single-line parameter annotations are blanked to ``_`` padded with spaces, so every column is
unchanged. What a decorator refers to is still decided by LibCST's scope analysis of what remains.

A body is removed only when nothing in it can matter: no nested ``def``/``class``/``lambda``, no
``import``, ``global`` or ``nonlocal``, and no name that may be bound to the d2 guard (names
imported from ``d2``, and every name assigned from an expression that mentions one). Such a body
only binds names local to itself, so removing it changes no name resolution outside it.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TypeAlias

from ._model import Parameter
from ._signature import from_ast

__all__ = ["Skeleton", "d2_aliases", "skeleton"]

_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
_RELEVANT = (*_FUNCTIONS, ast.ClassDef, ast.Lambda, ast.Import, ast.ImportFrom, ast.Global, ast.Nonlocal)
_Function: TypeAlias = ast.FunctionDef | ast.AsyncFunctionDef
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")
_MAX_ALIAS_PASSES = 4


@dataclass(frozen=True, slots=True)
class Skeleton:
    """The kept source, and for each of its lines the line number it had in the original file."""

    text: str
    origin: tuple[int, ...]
    signatures: dict[int, tuple[Parameter, ...]]  # def line (original) -> parameters

    def line(self, line: int) -> int:
        """Map a 1-based line of the skeleton to the original file's line."""
        return self.origin[line - 1] if 0 < line <= len(self.origin) else line


def skeleton(text: str, tree: ast.Module, aliases: frozenset[str]) -> Skeleton:
    """Return ``text`` without the bodies of functions that cannot matter to the scan.

    ``aliases`` comes from :func:`d2_aliases`. The parameters of every function whose header is
    kept are read here, because the skeleton blanks the parameter lists of stubbed functions.
    """
    source = _LINE.findall(text)  # columns from ``ast`` (UTF-8 bytes) are converted on these
    lines = list(source)
    dropped: set[int] = set()  # 0-based indexes of removed lines
    signatures: dict[int, tuple[Parameter, ...]] = {}
    for fn, relevant in _functions(tree.body, aliases, dropped):
        signatures[fn.lineno] = from_ast(fn.args)
        blanked = (
            not relevant and _stub_body(lines, source, fn, dropped) and _blank_parameters(lines, source, fn)
        )
        _blank_annotations(lines, source, fn, parameters=not blanked)
    kept = [i for i in range(len(lines)) if i not in dropped]
    return Skeleton("".join(lines[i] for i in kept), tuple(i + 1 for i in kept), signatures)


def _functions(
    body: list[ast.stmt], aliases: frozenset[str], dropped: set[int]
) -> Iterator[tuple[_Function, bool]]:
    """Yield (function, body is relevant) for every header that stays, entering only kept bodies.

    Blank and comment lines between two statements of a kept block are dropped on the way: they
    lie outside every statement, so no string literal spans them.
    """
    previous_end = 0
    for node in body:
        start = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", ()))])
        if previous_end:
            dropped.update(range(previous_end, start - 1))
        previous_end = node.end_lineno or node.lineno
        if isinstance(node, _FUNCTIONS):
            relevant = _is_relevant(node, aliases)
            yield node, relevant
            if relevant:
                yield from _functions(node.body, aliases, dropped)
        else:
            for block in _blocks(node):
                yield from _functions(block, aliases, dropped)


def _blocks(node: ast.stmt) -> Iterator[list[ast.stmt]]:
    """Yield the statement lists nested in a class or compound statement."""
    for attr in ("body", "orelse", "finalbody"):
        block = getattr(node, attr, None)
        if isinstance(block, list):
            yield block
    for part in getattr(node, "handlers", ()):
        yield part.body
    for case in getattr(node, "cases", ()):
        yield case.body


def _is_relevant(fn: _Function, aliases: frozenset[str]) -> bool:
    for stmt in fn.body:
        for node in ast.walk(stmt):
            if isinstance(node, _RELEVANT) or (isinstance(node, ast.Name) and node.id in aliases):
                return True
    return False


def _stub_body(lines: list[str], source: list[str], fn: _Function, dropped: set[int]) -> bool:
    """Replace an indented body by ``...`` on its first line and drop its other lines."""
    first, last = fn.body[0], fn.body[-1]
    start = first.lineno - 1
    line = lines[start]
    indent = _char_col(source[start], first.col_offset)
    if line[:indent].strip():  # the body shares a line with the header: too small to matter
        return False
    ending = line[len(line.rstrip("\r\n")) :] or "\n"
    lines[start] = line[:indent] + "..." + ending
    dropped.update(range(start + 1, (last.end_lineno or last.lineno)))
    return True


def _blank_parameters(lines: list[str], source: list[str], fn: _Function) -> bool:
    """Overwrite a stubbed function's parameter list with spaces: its names bind only in the stub.

    Defaults and annotations are evaluated outside the function, but only read names (unless they
    hold a walrus or a lambda, which are left alone), so blanking them changes no binding.
    """
    args = fn.args
    parts: list[ast.AST] = [*args.posonlyargs, *args.args, *args.kwonlyargs, *args.defaults]
    parts += [p for p in (args.vararg, args.kwarg, *args.kw_defaults) if p is not None]
    if not parts or getattr(fn, "type_params", None):
        return False
    if any(isinstance(n, (ast.NamedExpr, ast.Lambda)) for part in parts for n in ast.walk(part)):
        return False
    opening = _opening_paren(lines, source, fn)
    end = max((p.end_lineno or p.lineno, p.end_col_offset or p.col_offset) for p in parts)  # type: ignore[attr-defined]
    closing = _closing_paren(lines, end[0] - 1, _char_col(source[end[0] - 1], end[1]))
    if opening is None or closing is None:
        return False
    (row, col), (last_row, last_col) = opening, closing
    while row <= last_row:
        line = lines[row]
        stop = last_col if row == last_row else len(line.rstrip("\r\n"))
        lines[row] = line[: col + 1] + " " * (stop - col - 1) + line[stop:]
        row, col = row + 1, -1
    return True


def _opening_paren(lines: list[str], source: list[str], fn: _Function) -> tuple[int, int] | None:
    """Find the ``(`` after ``def name`` on the header's first line."""
    row = fn.lineno - 1
    line = lines[row]
    match = re.compile(r"(?:async\s+)?def\s+" + re.escape(fn.name) + r"\s*\(").match(
        line, _char_col(source[row], fn.col_offset)
    )
    return None if match is None else (row, match.end() - 1)


def _closing_paren(lines: list[str], row: int, col: int) -> tuple[int, int] | None:
    """Find the header's ``)`` after the last parameter.

    Between the last parameter and the ``->`` or ``:`` that follows the list there can only be
    commas, ``/``, whitespace, comments, line breaks and ``)``: the last ``)`` is the list's own,
    any before it close parentheses around the last default.
    """
    found: tuple[int, int] | None = None
    while row < len(lines):
        line = lines[row]
        while col < len(line):
            char = line[col]
            if char in "-:":
                return found
            if char == ")":
                found = (row, col)
            elif char == "#" or char in "\r\n":
                break
            elif char not in " \t\f,/\\":
                return None
            col += 1
        row, col = row + 1, 0
    return None


def _blank_annotations(lines: list[str], source: list[str], fn: _Function, *, parameters: bool) -> None:
    """Overwrite one-line return (and parameter) annotations with ``_`` and spaces (same width)."""
    args = fn.args
    params = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg] if parameters else []
    for annotation in [p.annotation for p in params if p is not None] + [fn.returns]:
        if annotation is None or annotation.lineno != annotation.end_lineno:
            continue
        if any(isinstance(n, (ast.NamedExpr, ast.Lambda)) for n in ast.walk(annotation)):
            continue
        index = annotation.lineno - 1
        line = lines[index]
        start = _char_col(source[index], annotation.col_offset)
        end = _char_col(source[index], annotation.end_col_offset or annotation.col_offset)
        if end - start > 1:
            lines[index] = line[:start] + "_" + " " * (end - start - 1) + line[end:]


def _char_col(line: str, byte_col: int) -> int:
    """Convert an ``ast`` column (UTF-8 bytes) to a str index."""
    if line.isascii():
        return byte_col
    return len(line.encode("utf-8")[:byte_col].decode("utf-8", errors="ignore"))


def d2_aliases(tree: ast.Module) -> frozenset[str] | None:
    """Names that may be bound to the guard, or ``None`` when the module never imports ``d2``.

    The names are those imports of ``d2`` bind, and every name assigned from an expression that
    uses one of them (``guard = d2_guard``, ``read = guard("billing.read")``), in any scope.
    """
    found = {"d2", "d2_guard"}
    imported = False
    assignments: list[tuple[list[str], set[str]]] = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = _d2_import_names(node)
            imported = imported or bool(names)
            found.update(names)
        elif (
            isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.NamedExpr))
            and node.value is not None
        ):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            bound = [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]
            used = {n.id for n in ast.walk(node.value) if isinstance(n, ast.Name)}
            assignments.append((bound, used))
    if not imported:
        return None
    for _ in range(_MAX_ALIAS_PASSES):
        before = len(found)
        for bound, used in assignments:
            if used & found:
                found.update(bound)
        if len(found) == before:
            break
    return frozenset(found)


def _d2_import_names(node: ast.Import | ast.ImportFrom) -> list[str]:
    """Names an import statement binds to ``d2`` or to something inside it."""
    if isinstance(node, ast.Import):
        return [a.asname or a.name.split(".")[0] for a in node.names if a.name.split(".")[0] == "d2"]
    if node.level or node.module is None or node.module.split(".")[0] != "d2":
        return []
    return [a.asname or a.name for a in node.names]
