"""The policy the inspector shows: text, positioned document, compiled policy and lint diagnostics.

Every source (a file, a signed bundle, the cached cloud state, the control plane, the demo) ends up
here, and all of them go through the runtime's own parser and compiler plus the linter's checks, so
the TUI can never disagree with ``d2 lint`` or the guard about what a policy means.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from d2._toolkit import CompiledPolicy, Diagnostic, SourceDoc, compile_policy, parse_policy_text
from d2.exceptions import ConfigurationError, PolicyTooLargeError

if TYPE_CHECKING:
    from .bundles.read import BundleInfo

__all__ = ["LoadedPolicy", "load_path_policy", "load_text_policy"]


@dataclass(frozen=True, slots=True)
class LoadedPolicy:
    """One policy ready to show; ``policy`` is None when it has errors (it would not load)."""

    file: str
    text: str
    doc: SourceDoc | None
    policy: CompiledPolicy | None
    diagnostics: tuple[Diagnostic, ...]
    bundle: BundleInfo | None = None

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


def load_path_policy(path: Path, *, now: datetime | None = None) -> LoadedPolicy:
    """Lint and compile a policy file exactly as ``d2 lint`` does; never raises for a bad policy."""
    from d2tools.lint import lint_file

    linted = lint_file(path, now=now)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        text = linted.doc.text if linted.doc is not None else ""
    return LoadedPolicy(str(path), text, linted.doc, linted.policy, linted.diagnostics)


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
