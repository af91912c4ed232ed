"""The policy the inspector shows: text, positioned document, compiled policy and lint diagnostics.

Every source (a file, a signed bundle, the cached cloud state, the control plane, the demo) ends up
here, and all of them go through the runtime's own parser and compiler plus the linter's checks, so
the TUI can never disagree with ``d2 lint`` or the guard about what a policy means.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from d2._toolkit import (
    CompiledPolicy,
    Diagnostic,
    SourceDoc,
    compile_policy,
    parse_policy_file,
    parse_policy_text,
)
from d2.exceptions import ConfigurationError, PolicyTooLargeError

if TYPE_CHECKING:
    from .bundles.read import BundleInfo

__all__ = ["LoadedPolicy", "finish_lint", "load_path_policy", "load_text_policy"]


@dataclass(frozen=True, slots=True)
class LoadedPolicy:
    """One policy ready to show; ``policy`` is None when it has errors (it would not load)."""

    file: str
    text: str
    doc: SourceDoc | None
    policy: CompiledPolicy | None
    diagnostics: tuple[Diagnostic, ...]
    bundle: BundleInfo | None = None
    # False when only the compiler has spoken yet: :func:`finish_lint` adds the lint checks (the TUI
    # runs them after the first frame on a large policy).
    linted: bool = True
    now: datetime | None = None

    @property
    def lines(self) -> list[str]:
        return self.text.splitlines()

    @property
    def title(self) -> str:
        """The policy's name (or file) for headers."""
        name = self.policy.name if self.policy is not None else None
        return f"{name} ({self.file})" if name else self.file

    def diagnostics_at(self, line: int) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.line == line)


def load_path_policy(path: Path, *, now: datetime | None = None, lint: bool = True) -> LoadedPolicy:
    """Lint and compile a policy file exactly as ``d2 lint`` does; never raises for a bad policy.

    With ``lint=False`` only the parser and compiler run (their diagnostics are kept) and the result
    says ``linted=False``; :func:`finish_lint` completes it to what ``d2 lint`` reports.
    """
    from d2tools.lint import lint_file

    if lint:
        linted = lint_file(path, now=now)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            text = linted.doc.text if linted.doc is not None else ""
        return LoadedPolicy(str(path), text, linted.doc, linted.policy, linted.diagnostics, now=now)
    try:
        doc = parse_policy_file(path)
    except (ConfigurationError, PolicyTooLargeError):
        return replace(load_path_policy(path, now=now), linted=True)  # lint_file words the problem
    result = compile_policy(doc)
    return LoadedPolicy(
        str(path), doc.text, doc, result.policy, _ordered(result.diagnostics), linted=False, now=now
    )


def finish_lint(loaded: LoadedPolicy) -> LoadedPolicy:
    """Add the lint checks to a policy loaded with ``lint=False``: the same merge as ``lint_file``.

    ``tests/toolchain/tui/test_models.py`` checks the result equals ``lint_file``'s on every lint
    fixture, so the two cannot drift apart unnoticed.
    """
    if loaded.linted or loaded.doc is None:
        return replace(loaded, linted=True)
    from d2tools.lint import apply_suppressions, lint_checks

    found = list(loaded.diagnostics)
    if loaded.policy is not None:
        flagged = {(d.line, d.col) for d in found}
        extra = lint_checks(loaded.doc, loaded.policy, now=loaded.now)
        found += [d for d in extra if (d.line, d.col) not in flagged]
    if not loaded.file.lower().endswith(".json"):
        found = apply_suppressions(loaded.doc.file, loaded.doc.text, found)
    return replace(loaded, diagnostics=_ordered(found), linted=True)


def _ordered(found: Iterable[Diagnostic]) -> tuple[Diagnostic, ...]:
    return tuple(sorted(found, key=lambda d: (d.line, d.col, d.code)))


def load_text_policy(
    text: str, label: str, *, bundle: BundleInfo | None = None, now: datetime | None = None
) -> LoadedPolicy:
    """Parse, compile and lint policy text that has no file (a bundle's payload)."""
    from d2tools.lint import lint_checks

    try:
        doc = parse_policy_text(text, label)
    except (ConfigurationError, PolicyTooLargeError) as exc:
        found = getattr(exc, "diagnostics", None) or ()
        return LoadedPolicy(label, text, None, None, tuple(found) or (_problem(label, str(exc)),), bundle)
    result = compile_policy(doc)
    found = list(result.diagnostics)
    if result.policy is not None:
        flagged = {(d.line, d.col) for d in found}
        found += [d for d in lint_checks(doc, result.policy, now=now) if (d.line, d.col) not in flagged]
    ordered = tuple(sorted(found, key=lambda d: (d.line, d.col, d.code)))
    return LoadedPolicy(label, text, doc, result.policy, ordered, bundle)


def _problem(file: str, message: str) -> Diagnostic:
    from d2tools.lint import CODES

    first = message.splitlines()[0] if message else "cannot read the policy"
    return Diagnostic("D2E700", first, CODES["D2E700"].severity, file, 1, 1, (), "check the bundle's policy")
