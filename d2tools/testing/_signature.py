"""Tool parameter lists: declared in a scenario file, or read from the code with the scanner.

The guard binds a call's arguments to the function's signature (defaults applied) before input
conditions see them. Replaying a call without the function needs the same list, so positional
arguments land on the right names and a default value is validated exactly as at run time.
"""

from __future__ import annotations

import ast
import inspect
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ._model import UNKNOWN_DEFAULT, ToolSignature

__all__ = ["SignatureError", "from_declaration", "from_scan"]

_P = inspect.Parameter


class SignatureError(ValueError):
    """A parameter list that is not valid Python (the message says why)."""


def from_declaration(tool: str, raw: Any, origin: str) -> ToolSignature:
    """Build a signature from ``"(a, b=0, *, c)"`` or ``[a, {b: 0}]``; raise SignatureError if invalid."""
    if isinstance(raw, str):
        return ToolSignature(tool, _parse_text(raw), origin)
    if isinstance(raw, list):
        return ToolSignature(tool, _from_list(raw), origin)
    raise SignatureError("a parameter list is a string such as '(limit, offset=0)' or a list of names")


def _parse_text(text: str) -> inspect.Signature:
    body = text.strip()
    if not (body.startswith("(") and body.endswith(")")):
        body = f"({body})"
    try:
        tree = ast.parse(f"def _tool{body}: pass", mode="exec")
    except SyntaxError as exc:
        raise SignatureError(f"not a Python parameter list: {text!r} ({exc.msg})") from None
    fn = tree.body[0]
    assert isinstance(fn, ast.FunctionDef)
    return _from_ast(fn.args, literal_only=True)


def _from_list(items: list[Any]) -> inspect.Signature:
    params: list[inspect.Parameter] = []
    for item in items:
        if isinstance(item, str):
            name, default = item, _P.empty
        elif isinstance(item, dict) and len(item) == 1:
            ((name, default),) = item.items()
        else:
            raise SignatureError(f"a parameter is a name or {{name: default}}, got {item!r}")
        if not str(name).isidentifier():
            raise SignatureError(f"{name!r} is not a Python parameter name")
        params.append(_P(str(name), _P.POSITIONAL_OR_KEYWORD, default=default))
    return _signature(params)


def _signature(params: list[inspect.Parameter]) -> inspect.Signature:
    try:
        return inspect.Signature(params)
    except ValueError as exc:
        raise SignatureError(str(exc)) from None


def _from_ast(args: ast.arguments, *, literal_only: bool) -> inspect.Signature:
    """Turn ``ast`` arguments into a Signature; defaults that are not literals become UNKNOWN_DEFAULT."""
    positional = [*args.posonlyargs, *args.args]
    first_default = len(positional) - len(args.defaults)
    params: list[inspect.Parameter] = []
    for i, arg in enumerate(positional):
        kind = _P.POSITIONAL_ONLY if i < len(args.posonlyargs) else _P.POSITIONAL_OR_KEYWORD
        default = _default(args.defaults[i - first_default], literal_only) if i >= first_default else _P.empty
        params.append(_P(arg.arg, kind, default=default))
    if args.vararg is not None:
        params.append(_P(args.vararg.arg, _P.VAR_POSITIONAL))
    for arg, node in zip(args.kwonlyargs, args.kw_defaults, strict=True):
        default = _default(node, literal_only) if node is not None else _P.empty
        params.append(_P(arg.arg, _P.KEYWORD_ONLY, default=default))
    if args.kwarg is not None:
        params.append(_P(args.kwarg.arg, _P.VAR_KEYWORD))
    return _signature(params)


def _default(node: ast.expr, literal_only: bool) -> Any:
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        if literal_only:
            raise SignatureError(
                f"default {ast.unparse(node)!r} is not a literal; write its value (a number, a string, ...)"
            ) from None
        return UNKNOWN_DEFAULT


def from_scan(paths: Iterable[Path]) -> tuple[dict[str, ToolSignature], list[str]]:
    """Scan ``paths`` for guarded functions; return their signatures by tool id, and scanner findings.

    The scanner reports which parameters have defaults; the values are read from the same source
    with ``ast`` (literals only; anything else is UNKNOWN_DEFAULT, which a step must then pass).
    An id guarding several functions with different parameter lists is left out (and reported).
    """
    from d2tools.scanner import scan

    roots = [Path(p) for p in paths]
    result = scan(roots)
    found: dict[str, ToolSignature] = {}
    notes = [f.render() for f in result.findings]
    trees: dict[Path, ast.Module | None] = {}
    for tool_id, tools in result.tools_by_id().items():
        sigs = {}
        for tool in tools:
            if tool.parameters is None:
                continue
            source = _source_path(tool.file, roots)
            sig = _read_signature(source, tool.def_line, trees) if source is not None else None
            if sig is None:
                sig = _from_scanner(tool.parameters)
            sigs[str(sig)] = ToolSignature(tool_id, sig, tool.location)
        if len(sigs) == 1:
            found[tool_id] = next(iter(sigs.values()))
        elif len(sigs) > 1:
            notes.append(
                f"tool {tool_id!r} guards functions with different parameters; declare it in `tools:`"
            )
    return found, notes


def _source_path(display: str, roots: list[Path]) -> Path | None:
    candidate = Path(display)
    if candidate.is_file():
        return candidate
    for root in roots:
        base = root if root.is_dir() else root.parent
        if (base / display).is_file():
            return base / display
    return None


def _read_signature(
    path: Path, def_line: int | None, trees: dict[Path, ast.Module | None]
) -> inspect.Signature | None:
    if def_line is None:
        return None
    if path not in trees:
        try:
            trees[path] = ast.parse(path.read_text(encoding="utf-8"))
        except (OSError, SyntaxError, ValueError, UnicodeDecodeError):
            trees[path] = None
    tree = trees[path]
    if tree is None:
        return None
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and def_line in _lines(node):
            try:
                return _from_ast(node.args, literal_only=False)
            except SignatureError:
                return None
    return None


def _lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> tuple[int, ...]:
    """The lines a scanner may report for a definition: the ``def`` or its first decorator."""
    first = node.decorator_list[0].lineno if node.decorator_list else node.lineno
    return (node.lineno, first)


def _from_scanner(parameters: Iterable[Any]) -> inspect.Signature:
    kinds: Mapping[str, Any] = {
        "positional_only": _P.POSITIONAL_ONLY,
        "positional_or_keyword": _P.POSITIONAL_OR_KEYWORD,
        "var_positional": _P.VAR_POSITIONAL,
        "keyword_only": _P.KEYWORD_ONLY,
        "var_keyword": _P.VAR_KEYWORD,
    }
    params = [
        _P(p.name, kinds[str(p.kind)], default=UNKNOWN_DEFAULT if p.has_default else _P.empty)
        for p in parameters
    ]
    return _signature(params)
