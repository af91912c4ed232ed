"""Lint policy files: the runtime's own parser and compiler, then the lint-only checks.

There is deliberately no second parser here: what ``d2 lint`` reports as an error is exactly what
would stop :func:`d2.load_policy_file` (plus expiry, which the loader refuses too).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from d2._toolkit import CompiledPolicy, Diagnostic, SourceDoc, compile_policy, parse_policy_file
from d2.exceptions import ConfigurationError, PolicyTooLargeError

from ._checks import lint_checks
from ._code import CodeIndex, check_against_code
from ._suppress import apply_suppressions
from .codes import CODES

__all__ = ["FileLint", "LintRun", "lint_file", "lint_paths"]


@dataclass(frozen=True, slots=True)
class FileLint:
    """The diagnostics of one policy file, and its compiled policy when it has no errors."""

    file: str
    diagnostics: tuple[Diagnostic, ...]
    policy: CompiledPolicy | None = None
    doc: SourceDoc | None = None


@dataclass(frozen=True, slots=True)
class LintRun:
    """Every file linted, plus findings about the scanned code (``--code``)."""

    files: tuple[FileLint, ...]
    code_findings: tuple[Diagnostic, ...] = ()

    @property
    def diagnostics(self) -> tuple[Diagnostic, ...]:
        found = [d for f in self.files for d in f.diagnostics] + list(self.code_findings)
        return tuple(sorted(found, key=lambda d: (d.file, d.line, d.col, d.code)))


def lint_file(
    path: str | os.PathLike[str],
    *,
    now: datetime | None = None,
    code: CodeIndex | None = None,
    vendor: bool = False,
) -> FileLint:
    """Parse, compile and check one policy file; every problem becomes a diagnostic, none raises."""
    name = str(path)
    try:
        doc = parse_policy_file(path)
    except ConfigurationError as exc:
        return FileLint(name, exc.diagnostics or (_unreadable(name, str(exc)),))
    except PolicyTooLargeError as exc:
        return FileLint(name, (_unreadable(name, str(exc)),))
    result = compile_policy(doc)
    found = list(result.diagnostics)
    extra = lint_checks(doc, result.policy, now=now) if result.policy is not None else []
    if code is not None:
        # Every stage in one run: the code checks read the document as written, even when it has errors.
        extra += check_against_code(doc, result.policy, code)
    # One finding per place: where the compiler already spoke, a lint-only echo adds nothing.
    flagged = {(d.line, d.col) for d in result.diagnostics}
    found += [d for d in extra if (d.line, d.col) not in flagged]
    if vendor:
        from ._vendor import vendor_notes

        found += vendor_notes(doc)
    if not name.lower().endswith(".json"):
        found = apply_suppressions(doc.file, doc.text, found)
    ordered = tuple(sorted(found, key=lambda d: (d.line, d.col, d.code)))
    return FileLint(name, ordered, result.policy, doc)


def lint_paths(
    paths: Sequence[str | os.PathLike[str]],
    *,
    now: datetime | None = None,
    code: CodeIndex | None = None,
    ignore: Iterable[str] = (),
    select: Iterable[str] = (),
    vendor: bool = False,
) -> LintRun:
    """Lint every file in ``paths``; keep codes starting with a ``select`` prefix (all when empty),
    then drop codes starting with an ``ignore`` prefix (a whole code is its own prefix). ``vendor``
    adds the ``D2M`` notes: where a policy written for the vendor SDK behaves differently here."""
    skip, chosen = tuple(ignore), tuple(select)

    def keep(d: Diagnostic) -> bool:
        if chosen and not d.code.startswith(chosen):
            return False
        return not d.code.startswith(skip) if skip else True

    files = []
    for path in paths:
        linted = lint_file(path, now=now, code=code, vendor=vendor)
        kept = tuple(d for d in linted.diagnostics if keep(d))
        files.append(FileLint(linted.file, kept, linted.policy, linted.doc))
    findings = tuple(d for d in (code.findings if code is not None else ()) if keep(d))
    return LintRun(tuple(files), findings)


def _unreadable(file: str, message: str) -> Diagnostic:
    first = message.splitlines()[0] if message else "cannot read the file"
    info = CODES["D2E700"]
    return Diagnostic("D2E700", first, info.severity, file, 1, 1, (), "check the path and the file's size")
