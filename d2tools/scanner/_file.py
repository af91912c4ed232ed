"""Scan one file: read, prune, parse with LibCST, resolve scopes, and build its tools and findings.

Nothing here raises for a bad file: unreadable bytes, syntax errors and internal failures all become
findings at ``file:line:col``, and the scan of the other files goes on.
"""

from __future__ import annotations

import ast
import io
import tokenize
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import libcst as cst
from libcst.metadata import (
    Assignment,
    ImportAssignment,
    MetadataWrapper,
    PositionProvider,
    Scope,
    ScopeProvider,
)
from libcst.metadata import QualifiedNameSource as Source

from d2 import Severity

from ._build import Builder, PendingId, Positions
from ._model import FindingCode, GuardedTool, IdSource, ScanFinding
from ._prune import Skeleton, d2_aliases, skeleton
from ._resolve import Resolver, absolute_name
from ._visitor import Collector

__all__ = ["MAX_FILE_BYTES", "CachedScopeProvider", "FileJob", "FileScan", "scan_file", "scan_source"]

MAX_FILE_BYTES = 4 * 1024 * 1024  # hand-written modules are far smaller; bigger ones are generated
_STRINGISH = (cst.SimpleString, cst.ConcatenatedString, cst.Name, cst.Attribute)


@dataclass(frozen=True, slots=True)
class FileJob:
    """One file to scan: where it is, how to show it, and the module name Python gives it."""

    path: str
    file: str
    module: str
    is_package: bool


@dataclass(frozen=True, slots=True)
class FileScan:
    """What one file holds: guarded tools, findings, and its module-level names for cross-file ids."""

    file: str
    module: str
    parsed: bool = False
    tools: tuple[GuardedTool, ...] = ()
    findings: tuple[ScanFinding, ...] = ()
    pending: tuple[PendingId, ...] = ()
    constants: dict[str, str] = field(default_factory=dict)  # NAME = "string", bound once
    imports: dict[str, str] = field(default_factory=dict)  # name -> absolute dotted name it imports


def scan_file(job: FileJob, *, force: bool = False) -> FileScan:
    """Scan the file of ``job``; ``force`` analyses it even when it never mentions ``d2``."""
    try:
        size = Path(job.path).stat().st_size
        if size > MAX_FILE_BYTES:
            msg = f"file is {size} bytes, over the {MAX_FILE_BYTES}-byte scan limit; it was not scanned"
            return _failed(
                job, FindingCode.FILE_TOO_LARGE, msg, Severity.WARNING, "guard tools in smaller modules"
            )
        data = Path(job.path).read_bytes()
    except OSError as exc:
        return _failed(
            job, FindingCode.UNREADABLE_FILE, f"cannot read file: {exc.strerror or exc}", Severity.ERROR
        )
    return scan_source(data, job, force=force)


def scan_source(data: bytes, job: FileJob, *, force: bool = False, prune: bool = True) -> FileScan:
    """Scan source bytes as the file described by ``job``.

    A file that never imports ``d2`` cannot reach the guard, so it is not analysed unless ``force``
    is set (the cross-file pass forces modules that define imported tool ids). ``prune=False``
    analyses the whole file instead of its skeleton; tests use it to prove both agree.
    """
    if not force and b"d2" not in data:
        return FileScan(job.file, job.module)
    try:
        text = _decode(data)
    except (SyntaxError, UnicodeDecodeError, LookupError) as exc:
        msg = f"cannot decode file: {exc}"
        return _failed(job, FindingCode.UNREADABLE_FILE, msg, Severity.ERROR, "save the file as UTF-8")
    with warnings.catch_warnings():
        # Parsing and evaluating literals warns about the user's code (e.g. "\d" escapes); their
        # compiler reports those, and under ``-W error`` a warning must not become a failed scan.
        warnings.simplefilter("ignore")
        return _scan_text(text, job, force, prune)


def _scan_text(text: str, job: FileJob, force: bool, prune: bool) -> FileScan:
    try:
        tree = ast.parse(text, job.file)
    except SyntaxError as exc:
        msg = f"syntax error: {exc.msg}"
        line, col = exc.lineno or 1, exc.offset or 1
        return _failed(job, FindingCode.SYNTAX_ERROR, msg, Severity.ERROR, "fix the syntax error", line, col)
    except (ValueError, RecursionError, MemoryError) as exc:
        return _failed(job, FindingCode.SYNTAX_ERROR, f"cannot parse file: {exc}", Severity.ERROR)
    aliases = d2_aliases(tree)
    if aliases is None and not force:
        return FileScan(job.file, job.module)
    try:
        return _analyse(text, tree, aliases or frozenset(), job, prune)
    except RecursionError:
        msg = "the file is nested too deeply to analyse"
        hint = "split the deeply nested expression"
        return _failed(job, FindingCode.INTERNAL_ERROR, msg, Severity.ERROR, hint)
    except cst.ParserSyntaxError as exc:
        msg = f"LibCST cannot parse this file: {exc.message}"
        hint = "the code may use syntax newer than the installed libcst supports; upgrade libcst"
        line, col = exc.raw_line, exc.raw_column + 1
        return _failed(job, FindingCode.SYNTAX_ERROR, msg, Severity.ERROR, hint, line, col)
    except Exception as exc:  # never a traceback: one bad file must not stop the scan
        msg = f"internal error while scanning ({type(exc).__name__}: {exc})"
        return _failed(job, FindingCode.INTERNAL_ERROR, msg, Severity.ERROR, "please report this as a d2 bug")


def _decode(data: bytes) -> str:
    """Decode source bytes as Python does: BOM, then a PEP 263 coding cookie, else UTF-8."""
    encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    return data.decode(encoding)


def _parse(
    text: str, tree: ast.Module, aliases: frozenset[str], prune: bool
) -> tuple[cst.Module, Skeleton | None]:
    """Parse the skeleton with LibCST; fall back to the whole text if the skeleton is not parseable."""
    if not prune:
        return cst.parse_module(text), None
    try:
        skel = skeleton(text, tree, aliases)
        return cst.parse_module(skel.text), skel
    except (cst.ParserSyntaxError, IndexError):
        return cst.parse_module(text), None


def _analyse(text: str, tree: ast.Module, aliases: frozenset[str], job: FileJob, prune: bool) -> FileScan:
    module, skel = _parse(text, tree, aliases, prune)
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    scopes = wrapper.resolve(CachedScopeProvider)
    positions = Positions(wrapper.resolve(PositionProvider), skel)
    collector = Collector()
    module.visit(collector)
    resolver = Resolver(
        scopes, collector.values, collector.functions, module=job.module, is_package=job.is_package
    )
    builder = Builder(
        file=job.file,
        module=job.module,
        collector=collector,
        resolver=resolver,
        positions=positions,
        signatures={} if skel is None else skel.signatures,
    )
    builder.run()
    constants, imports = _exports(module, scopes, collector, resolver, job)
    return FileScan(
        file=job.file,
        module=job.module,
        parsed=True,
        tools=tuple(builder.tools),
        findings=tuple(builder.findings.values()),
        pending=tuple(builder.pending),
        constants=constants,
        imports=imports,
    )


class CachedScopeProvider(ScopeProvider):
    """LibCST's ScopeProvider, listing its visitor methods once per process instead of once per file.

    ``get_visitors`` runs ``inspect.getmembers`` over ~1,000 attributes on every resolve (about a
    millisecond, a tenth of a typical file's analysis); the answer depends only on the class.
    """

    _names: ClassVar[dict[type, tuple[str, ...]]] = {}

    def get_visitors(self) -> Mapping[str, Callable[..., Any]]:
        names = self._names.get(type(self))
        if names is None:
            names = self._names[type(self)] = tuple(super().get_visitors())
        return {name: getattr(self, name) for name in names}


def _exports(
    module: cst.Module,
    scopes: Mapping[cst.CSTNode, Scope | None],
    collector: Collector,
    resolver: Resolver,
    job: FileJob,
) -> tuple[dict[str, str], dict[str, str]]:
    """Collect module-level names bound once to a string, or once by an import, for other files."""
    scope = scopes.get(module)
    constants: dict[str, str] = {}
    imports: dict[str, str] = {}
    if scope is None:
        return constants, imports
    counts: dict[str, int] = {}
    for assignment in scope.assignments:
        counts[assignment.name] = counts.get(assignment.name, 0) + 1
    for assignment in scope.assignments:
        name = assignment.name
        if counts[name] != 1:
            continue
        if isinstance(assignment, ImportAssignment):
            names = [q.name for q in scope.get_qualified_names_for(name) if q.source is Source.IMPORT]
            target = absolute_name(names[0], job.module, job.is_package) if len(names) == 1 else None
            if target is not None:
                imports[name] = target
        elif type(assignment) is Assignment and isinstance(assignment.node, cst.Name):
            if not isinstance(collector.values.get(assignment.node), _STRINGISH):
                continue
            value = resolver.string(assignment.node)
            if value.value is not None and value.source is not IdSource.AUTO:
                constants[name] = value.value
            elif value.ref is not None:
                imports[name] = value.ref
    return constants, imports


def _failed(
    job: FileJob,
    code: FindingCode,
    message: str,
    severity: Severity,
    hint: str | None = None,
    line: int = 1,
    col: int = 1,
) -> FileScan:
    finding = ScanFinding(code, message, severity, job.file, max(line, 1), max(col, 1), hint)
    return FileScan(job.file, job.module, findings=(finding,))
