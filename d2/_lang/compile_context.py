"""The shared state of one compilation, handed to every section compiler.

It lives below the compiler and the section compilers so that they can all use it without importing
each other (the compiler calls the sections through :mod:`d2._lang.sections`, never the reverse).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from d2._base.diagnostics import Diagnostic, Location, Severity
from d2._base.suggest import suggest
from d2._lang.source import JsonPath, SourceDoc

__all__ = ["CompileContext"]


@dataclass
class CompileContext:
    """Shared state of one compilation: the document, the diagnostics so far, and the tool groups."""

    doc: SourceDoc
    diagnostics: list[Diagnostic] = field(default_factory=list)
    tool_groups: dict[str, frozenset[str]] = field(default_factory=dict)
    used_groups: set[str] = field(default_factory=set)
    # (label, path) of every `not_from` operand, checked against data_flow.untrusted at the end.
    label_refs: list[tuple[str, JsonPath]] = field(default_factory=list)

    def error(
        self, code: str, message: str, path: JsonPath, *, key: bool = False, hint: str | None = None
    ) -> None:
        self._add(code, message, path, Severity.ERROR, key, hint)

    def warning(
        self, code: str, message: str, path: JsonPath, *, key: bool = False, hint: str | None = None
    ) -> None:
        self._add(code, message, path, Severity.WARNING, key, hint)

    def loc(self, path: JsonPath, *, key: bool = False) -> Location:
        return self.doc.loc(path, key=key)

    def expand(self, ref: str, path: JsonPath) -> frozenset[str] | None:
        """Resolve a tool id or ``@group`` to tool ids; an undefined group is an error (None)."""
        if not ref.startswith("@"):
            return frozenset((ref,))
        name = ref[1:]
        members = self.tool_groups.get(name)
        if members is None:
            guess = suggest(name, self.tool_groups)
            hint = f"did you mean '@{guess}'?" if guess else "declare it under metadata.tool_groups"
            self.error("D2E010", f"undefined tool group '{ref}'", path, hint=hint)
            return None
        self.used_groups.add(name)
        return members

    @property
    def has_errors(self) -> bool:
        return any(d.is_error for d in self.diagnostics)

    def _add(
        self, code: str, message: str, path: JsonPath, severity: Severity, key: bool, hint: str | None
    ) -> None:
        loc = self.doc.loc(path, key=key)
        self.diagnostics.append(
            Diagnostic(code, message, severity, loc.file, loc.line, loc.col, tuple(path), hint)
        )
