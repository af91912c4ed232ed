"""Resolve tool ids imported from other modules (``from .ids import BILLING_READ``) across the scan.

Each file reports the constants and imports it binds once at module level; a pending id is looked
up in the module it names, following re-exports, and is resolved only when that module can be read
(it is among the scanned files, or lies in a package the scan touched) and binds the name once to a
string literal. Otherwise the tool keeps ``tool_id=None`` and a finding explains why: an id is never
guessed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from d2 import Severity

from ._file import FileScan
from ._model import FindingCode, GuardedTool, IdSource, ScanFinding

__all__ = ["link"]

_MAX_REEXPORTS = 16


class _Modules:
    """Module name -> scan; modules the fast pass skipped or that lie outside the scan load on use."""

    def __init__(self, scans: Sequence[FileScan], load: Callable[[str], FileScan | None]) -> None:
        self._scans: dict[str, FileScan | None] = {}
        self._loaded: set[str] = set()
        self._ambiguous: set[str] = set()
        for scan in scans:
            # Two files with one module name (two projects scanned together) make the name ambiguous.
            if scan.module in self._scans:
                self._ambiguous.add(scan.module)
            self._scans[scan.module] = scan
        self._load = load

    def get(self, module: str) -> FileScan | None:
        if module in self._ambiguous:
            return None
        scan = self._scans.get(module)
        if (scan is None or not scan.parsed) and module not in self._loaded:
            self._loaded.add(module)
            scan = self._scans[module] = self._load(module)
        return scan

    def value(self, ref: str) -> str | None:
        """Return the string ``ref`` (``pkg.mod.NAME``) is bound to, following re-exports."""
        for _ in range(_MAX_REEXPORTS):
            module, _, name = ref.rpartition(".")
            scan = self.get(module) if module else None
            if scan is None:
                return None
            if name in scan.constants:
                return scan.constants[name]
            if name not in scan.imports:
                return None
            ref = scan.imports[name]
        return None


def link(scans: Sequence[FileScan], load: Callable[[str], FileScan | None]) -> list[FileScan]:
    """Return ``scans`` with every pending imported id resolved or turned into a finding."""
    modules = _Modules(scans, load)
    return [_resolve(scan, modules) if scan.pending else scan for scan in scans]


def _resolve(scan: FileScan, modules: _Modules) -> FileScan:
    tools: list[GuardedTool] = list(scan.tools)
    findings: list[ScanFinding] = list(scan.findings)
    for pending in scan.pending:
        value = modules.value(pending.ref)
        if value:
            tools[pending.index] = dataclasses.replace(
                tools[pending.index], tool_id=value, id_source=IdSource.CONSTANT
            )
            continue
        problem = (
            "is an empty string"
            if value == ""
            else "is not a string constant in any module the scanner can read"
        )
        findings.append(
            ScanFinding(
                FindingCode.UNRESOLVED_IMPORTED_ID,
                f"the tool id '{pending.shown}' refers to '{pending.ref}', which {problem}",
                Severity.WARNING if value is None else Severity.ERROR,
                scan.file,
                pending.line,
                pending.col,
                "bind it once to a string literal in that module, or write the id as a literal here",
            )
        )
    return dataclasses.replace(scan, tools=tuple(tools), findings=tuple(findings), pending=())
