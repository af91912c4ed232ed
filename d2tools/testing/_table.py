"""Table-driven cases: a case with a ``where`` table is a template, and each row makes one case.

A value that is exactly ``"{column}"`` becomes the row's value with its type (a list stays a list);
``{column}`` inside longer text is replaced by the value's text. ``{{`` and ``}}`` are literal braces.
Each expanded case remembers where its values came from, so a problem in a row is reported at that
row's cell in the file, not at the template.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from d2._toolkit import Diagnostic, JsonPath, Severity, SourceDoc

__all__ = ["Expanded", "expand_cases"]

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_TOKEN = re.compile(r"\{\{|\}\}|\{(" + _NAME + r")\}")
_WHOLE = re.compile(r"\{(" + _NAME + r")\}")
_ID_LIMIT = 80


@dataclass(frozen=True, slots=True)
class Expanded:
    """One case ready to convert: its data, its index in the file, and where its values were written."""

    data: Mapping[str, Any]
    case_index: int
    row: int | None = None
    row_path: JsonPath | None = None
    origins: Mapping[JsonPath, JsonPath] = field(default_factory=dict)

    def doc_path(self, sub: JsonPath) -> JsonPath:
        """Map a path inside this case to the path in the file that wrote it (row cell or template)."""
        if self.origins:
            for n in range(len(sub), -1, -1):
                origin = self.origins.get(sub[:n])
                if origin is not None:
                    return (*origin, *sub[n:])
        return ("cases", self.case_index, *sub)


def expand_cases(doc: SourceDoc) -> tuple[list[Expanded], list[Diagnostic]]:
    """Expand every template case of a schema-valid document; report unknown columns and short rows."""
    out: list[Expanded] = []
    problems: list[Diagnostic] = []
    for i, case in enumerate(doc.data["cases"]):
        if "where" not in case:
            out.append(Expanded(case, i))
            continue
        out.extend(_expand_one(doc, case, i, problems))
    return out, problems


def _expand_one(
    doc: SourceDoc, case: Mapping[str, Any], i: int, problems: list[Diagnostic]
) -> list[Expanded]:
    template = {k: v for k, v in case.items() if k != "where"}
    used = dict(_placeholders(template, ("cases", i)))
    rows = list(_rows(doc, case["where"], ("cases", i, "where"), problems))
    if not rows or not _columns_known(doc, case, used, rows, problems):
        return []
    named = bool(_TOKEN.search(str(template.get("name", ""))))
    out: list[Expanded] = []
    for n, (row_path, row, cells) in enumerate(rows, start=1):
        origins: dict[JsonPath, JsonPath] = {}
        data = _fill(template, (), ("cases", i), row, cells, origins)
        if not named:
            data["name"] = f"{template.get('name')} [{_row_id(row, n)}]"
        out.append(Expanded(data, i, n, row_path, origins))
    return out


def _columns_known(
    doc: SourceDoc,
    case: Mapping[str, Any],
    used: Mapping[str, JsonPath],
    rows: list[tuple[JsonPath, dict[str, Any], dict[str, JsonPath]]],
    problems: list[Diagnostic],
) -> bool:
    """Report placeholders a row has no value for (once per template when columns are declared)."""
    ok = True
    for n, (row_path, row, _cells) in enumerate(rows, start=1):
        missing = sorted(set(used) - set(row))
        if not missing:
            continue
        ok = False
        names = ", ".join("{" + m + "}" for m in missing)
        if isinstance(case["where"], dict):
            message = f"case '{case.get('name')}' uses {names}, which is not a column of its table"
            where = used[missing[0]]
            problems.append(_diag("D2T101", message, doc.loc(where), where, f"columns are: {', '.join(row)}"))
            break
        message = f"row {n} of case '{case.get('name')}' has no value for {names}"
        hint = f"the template uses: {', '.join(sorted(used))}"
        problems.append(_diag("D2T101", message, doc.loc(row_path), row_path, hint))
    return ok


def _rows(
    doc: SourceDoc, where: Any, path: JsonPath, problems: list[Diagnostic]
) -> Iterator[tuple[JsonPath, dict[str, Any], dict[str, JsonPath]]]:
    if isinstance(where, list):
        for r, row in enumerate(where):
            yield (*path, r), dict(row), {k: (*path, r, k) for k in row}
        return
    columns: list[str] = where["columns"]
    for r, row in enumerate(where["rows"]):
        row_path: JsonPath = (*path, "rows", r)
        if len(row) != len(columns):
            problems.append(
                _diag(
                    "D2T102",
                    f"row {r + 1} has {len(row)} values for {len(columns)} columns ({', '.join(columns)})",
                    doc.loc(row_path),
                    row_path,
                    "give every row one value per column, in order",
                )
            )
            continue
        yield (
            row_path,
            dict(zip(columns, row, strict=True)),
            {c: (*row_path, j) for j, c in enumerate(columns)},
        )


def _placeholders(node: Any, path: JsonPath) -> Iterator[tuple[str, JsonPath]]:
    if isinstance(node, str):
        for m in _TOKEN.finditer(node):
            if m.group(1):
                yield m.group(1), path
    elif isinstance(node, dict):
        for k, v in node.items():
            yield from _placeholders(k, path)
            yield from _placeholders(v, (*path, k))
    elif isinstance(node, list):
        for n, v in enumerate(node):
            yield from _placeholders(v, (*path, n))


def _fill(
    node: Any,
    path: JsonPath,
    base: JsonPath,
    row: Mapping[str, Any],
    cells: Mapping[str, JsonPath],
    origins: dict[JsonPath, JsonPath],
) -> Any:
    if isinstance(node, str):
        whole = _WHOLE.fullmatch(node)
        if whole:
            origins[path] = cells[whole.group(1)]
            return row[whole.group(1)]
        return _text(node, row) if "{" in node or "}" in node else node
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for k, v in node.items():
            key = _text(k, row) if "{" in k or "}" in k else k
            child: JsonPath = (*path, key)
            if key != k:
                origins[child] = (*base, *path, k)
            out[key] = _fill(v, child, base, row, cells, origins)
        return out
    if isinstance(node, list):
        return [_fill(v, (*path, n), base, row, cells, origins) for n, v in enumerate(node)]
    return node


def _text(text: str, row: Mapping[str, Any]) -> str:
    def sub(m: re.Match[str]) -> str:
        name = m.group(1)
        if name is None:
            return m.group(0)[0]
        value = row[name]
        return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)

    return _TOKEN.sub(sub, text)


def _row_id(row: Mapping[str, Any], n: int) -> str:
    parts: list[str] = []
    for value in row.values():
        if isinstance(value, list) and all(isinstance(v, (str, int, float)) for v in value):
            parts.append("+".join(str(v) for v in value))
        elif isinstance(value, (str, int, float)) and not isinstance(value, bool):
            parts.append(str(value))
        else:
            parts.append(json.dumps(value, ensure_ascii=False, sort_keys=True, default=str))
    text = "-".join(parts)
    return text if 0 < len(text) <= _ID_LIMIT else f"row {n}"


def _diag(code: str, message: str, where: Any, path: JsonPath, hint: str | None = None) -> Diagnostic:
    return Diagnostic(code, message, Severity.ERROR, where.file, where.line, where.col, path, hint)
