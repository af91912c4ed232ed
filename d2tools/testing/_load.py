"""Read a scenario file: parse with positions, check its shape, expand tables, build typed cases.

Every problem is a diagnostic with file:line:col, all found at once; a malformed file never raises.
The shape check is the JSON Schema in ``schemas/scenario.schema.json``, run with the same code that
checks policies, so unknown keys get a did-you-mean and wrong types name what was expected.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast

from d2._toolkit import (
    Diagnostic,
    JsonPath,
    Location,
    Severity,
    SourceDoc,
    parse_policy_text,
    schema_diagnostics,
)
from d2.exceptions import ConfigurationError

from ._convert import Converter
from ._fastcheck import SCHEMA, certainly_valid_case
from ._model import ScenarioFile, ToolSignature
from ._signature import SignatureError, from_declaration
from ._table import Expanded, expand_cases

__all__ = ["SCHEMA", "LoadResult", "load_scenario_file", "load_scenario_text"]

MAX_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class LoadResult:
    """A loaded scenario file (None when any error was found) and every diagnostic about it."""

    scenario: ScenarioFile | None
    diagnostics: tuple[Diagnostic, ...]

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.is_error)


def load_scenario_file(path: str | Path, *, display: str | None = None) -> LoadResult:
    """Load a scenario file from disk; unreadable or non-UTF-8 files are diagnostics too."""
    p = Path(path)
    name = display or str(p)
    try:
        size = p.stat().st_size
        if size > MAX_BYTES:
            return _fail("D2T002", f"scenario file is {size} bytes, over the {MAX_BYTES}-byte limit", name)
        raw = p.read_bytes()
    except OSError as exc:
        return _fail("D2T001", f"cannot read scenario file: {exc.strerror or exc}", name)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return _fail("D2E001", f"file is not valid UTF-8 (byte {exc.start})", name)
    return load_scenario_text(text, name, base=p.resolve().parent)


def load_scenario_text(text: str, file: str = "<scenarios>", *, base: Path | None = None) -> LoadResult:
    """Load scenario text; ``base`` is the directory a relative ``policy:`` is resolved against."""
    try:
        doc = parse_policy_text(text, file)
    except ConfigurationError as exc:
        return LoadResult(None, exc.diagnostics or _fail("D2E001", str(exc), file).diagnostics)
    problems = schema_diagnostics(doc, SCHEMA)
    if any(d.is_error for d in problems):
        return LoadResult(None, tuple(problems))
    expanded, table_problems = expand_cases(doc)
    problems.extend(table_problems)
    if any(e.row is not None for e in expanded):
        problems.extend(_check_expanded(doc, expanded))
    if any(d.is_error for d in problems):
        return LoadResult(None, _sorted(problems))
    scenario = _build(doc, expanded, base or Path.cwd(), problems)
    problems_t = _sorted(problems)
    if any(d.is_error for d in problems_t):
        return LoadResult(None, problems_t)
    return LoadResult(scenario, problems_t)


def _build(doc: SourceDoc, expanded: list[Expanded], base: Path, problems: list[Diagnostic]) -> ScenarioFile:
    data: Mapping[str, Any] = doc.data
    policy, policy_line = None, None
    if "policy" in data:
        policy = (base / data["policy"]).resolve()
        where = doc.loc(("policy",))
        policy_line = where.line
        if not policy.is_file():
            problems.append(
                _diag(
                    "D2T105",
                    f"policy file '{data['policy']}' not found (looked for {policy})",
                    where,
                    ("policy",),
                    "the path is relative to this scenario file",
                )
            )
    tools = _tools(doc, data.get("tools") or {}, problems)
    converter = Converter(doc, data.get("defaults") or {}, problems)
    cases = tuple(c for e in expanded if (c := converter.case(e)) is not None)
    _check_names(doc, expanded, problems)
    return ScenarioFile(doc.file, policy, policy_line, tools, cases)


def _check_names(doc: SourceDoc, expanded: list[Expanded], problems: list[Diagnostic]) -> None:
    seen: dict[str, int] = {}
    for e in expanded:
        name = str(e.data.get("name"))
        where = doc.loc(e.row_path if e.row_path is not None else e.doc_path(()))
        first = seen.get(name)
        if first is None:
            seen[name] = where.line
        else:
            problems.append(
                _diag(
                    "D2T103",
                    f"case name '{name}' is used twice in this file (first at line {first})",
                    where,
                    e.doc_path(("name",)),
                    "give each case its own name; -k, JUnit and pytest select cases by name",
                )
            )


def _tools(doc: SourceDoc, raw: Mapping[str, Any], problems: list[Diagnostic]) -> dict[str, ToolSignature]:
    out: dict[str, ToolSignature] = {}
    for tool, decl in raw.items():
        where = doc.loc(("tools", tool))
        try:
            out[tool] = from_declaration(tool, decl, str(where))
        except SignatureError as exc:
            problems.append(
                _diag(
                    "D2T106",
                    f"parameters of '{tool}': {exc}",
                    where,
                    ("tools", tool),
                    "write them as in Python: '(limit, offset=0, *, dry_run=False)'",
                )
            )
    return out


class _ExpandedDoc:
    """The expanded template cases as one document, each position mapped back to the real file."""

    def __init__(self, doc: SourceDoc, expanded: Sequence[Expanded]) -> None:
        self.file = doc.file
        self.data = {"cases": [e.data for e in expanded]}
        self._doc = doc
        self._expanded = expanded

    def loc(self, path: Sequence[str | int], *, key: bool = False) -> Location:
        p = tuple(path)
        if len(p) >= 2 and p[0] == "cases" and isinstance(p[1], int) and p[1] < len(self._expanded):
            return self._doc.loc(self._expanded[p[1]].doc_path(p[2:]), key=key)
        return self._doc.loc(p, key=key)


_CASE_INDEX = re.compile(r"'cases\[(\d+)\]")


def _check_expanded(doc: SourceDoc, expanded: list[Expanded]) -> list[Diagnostic]:
    """Check the shape of cases made from table rows; name the template case and the row."""
    rows = [e for e in expanded if e.row is not None and not certainly_valid_case(e.data)]
    if not rows:
        return []
    view = _ExpandedDoc(doc, rows)
    out: list[Diagnostic] = []
    for diag in schema_diagnostics(cast(SourceDoc, view), SCHEMA):
        index = diag.path[1] if len(diag.path) > 1 and isinstance(diag.path[1], int) else None
        if index is None:
            out.append(diag)
            continue
        row = rows[index]
        message = _CASE_INDEX.sub(f"'cases[{row.case_index}]", diag.message)
        note = f"in row {row.row} of the table"
        out.append(
            replace(
                diag,
                message=message,
                path=("cases", row.case_index, *diag.path[2:]),
                hint=f"{diag.hint}; {note}" if diag.hint else note,
            )
        )
    return out


def _sorted(problems: list[Diagnostic]) -> tuple[Diagnostic, ...]:
    unique = list(dict.fromkeys(problems))
    return tuple(sorted(unique, key=lambda d: (d.file, d.line, d.col, d.code)))


def _diag(code: str, message: str, where: Location, path: JsonPath, hint: str | None = None) -> Diagnostic:
    return Diagnostic(code, message, Severity.ERROR, where.file, where.line, where.col, path, hint)


def _fail(code: str, message: str, file: str) -> LoadResult:
    return LoadResult(None, (Diagnostic(code, message, Severity.ERROR, file, 1, 1),))
