"""Find and compile the policy a scenario file tests, once per run however many files name it.

Which policy: ``--policy`` (a candidate policy against the whole suite), else the file's ``policy:``,
else ``D2_POLICY_FILE``, else the nearest ``policy.yaml``/``.yml``/``.json`` in the scenario file's
directory or a parent (stopping at the project root). The developer's personal config directory is
never consulted: a test suite must not depend on who runs it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

from d2._toolkit import POLICY_NAMES, CompiledPolicy, Diagnostic, SourceDoc, compile_policy, parse_policy_file
from d2.exceptions import ConfigurationError, D2Error

__all__ = ["LoadedPolicy", "PolicyCache", "find_policy"]

_ROOT_MARKERS = (".git", "pyproject.toml", "setup.cfg")


@dataclass(frozen=True, slots=True)
class LoadedPolicy:
    """A compiled policy with its text (for showing rules), or why it could not be loaded."""

    path: Path
    policy: CompiledPolicy | None
    text: str = ""
    doc: SourceDoc | None = None
    diagnostics: tuple[Diagnostic, ...] = ()
    error: str | None = None


def find_policy(scenario_dir: Path, declared: Path | None, override: Path | None) -> Path | str:
    """Return the policy path for a scenario file, or a message saying why none was found."""
    if override is not None:
        return override
    if declared is not None:
        return declared
    env = os.environ.get("D2_POLICY_FILE")
    if env:
        return Path(env).expanduser()
    directory = scenario_dir.resolve()
    while True:
        found = [directory / n for n in POLICY_NAMES if (directory / n).is_file()]
        if len(found) > 1:
            return f"several policy files in {directory}; name one with `policy:` or --policy"
        if found:
            return found[0]
        if any((directory / m).exists() for m in _ROOT_MARKERS) or directory.parent == directory:
            return (
                f"no policy found for scenarios in {scenario_dir}: add `policy: path/to/policy.yaml` to the "
                "file, pass --policy, or set D2_POLICY_FILE"
            )
        directory = directory.parent


class PolicyCache:
    """Compile each policy file once per run."""

    def __init__(self) -> None:
        self._loaded: dict[Path, LoadedPolicy] = {}

    def get(self, path: Path, display: str | None = None) -> LoadedPolicy:
        key = path.resolve()
        found = self._loaded.get(key)
        if found is None:
            found = self._load(path, display or str(path))
            self._loaded[key] = found
        return found

    @staticmethod
    def _load(path: Path, display: str) -> LoadedPolicy:
        if not path.is_file():
            return LoadedPolicy(path, None, error=f"policy file {display} does not exist")
        try:
            doc = parse_policy_file(path)
        except ConfigurationError as exc:
            return LoadedPolicy(
                path, None, diagnostics=exc.diagnostics, error=f"policy {display} does not parse"
            )
        except D2Error as exc:
            return LoadedPolicy(path, None, error=str(exc))
        doc = replace(doc, file=display)
        result = compile_policy(doc)
        if result.policy is None:
            return LoadedPolicy(
                path, None, doc.text, doc, result.diagnostics, f"policy {display} does not load"
            )
        policy = result.policy
        if policy.expires is not None and policy.expires <= datetime.now(timezone.utc):
            return LoadedPolicy(
                path,
                None,
                doc.text,
                doc,
                result.diagnostics,
                f"policy {display} expired at {policy.expires.isoformat()}; the runtime refuses it "
                "(move metadata.expires forward)",
            )
        return LoadedPolicy(path, policy, doc.text, doc, result.diagnostics)
